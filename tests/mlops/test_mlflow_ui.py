"""helpers.mlops.__main__: `python -m helpers.mlops ui` serves the local store on loopback, never a remote one."""

from __future__ import annotations

import sys
from pathlib import Path

from helpers.mlops import __main__ as cli
from helpers.mlops import store


def test_the_ui_serves_the_local_store_on_loopback(mlops_state) -> None:
    command = cli.ui_command(5123)
    assert Path(command[0]).parent == Path(sys.executable).parent and command[1] == "ui"
    options = dict(zip(command[2::2], command[3::2], strict=True))
    assert options["--backend-store-uri"] == mlops_state.uri
    assert options["--default-artifact-root"] == mlops_state.store.artifacts.as_uri()
    assert (options["--host"], options["--port"], options["--workers"]) == ("127.0.0.1", "5123", "1")


def test_the_ui_refuses_a_remote_store(mlops_state, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://user:pw@127.0.0.1:9")
    assert cli.main(["ui", "--port", "5123"]) == 2
    err = capsys.readouterr().err
    assert "open that server's own UI" in err and "pw" not in err
    assert store.active_store().uri == mlops_state.uri
