"""Starting the API as a process: the command line, its options and environment, and uvicorn's settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn

from helpers.api import launch


def test_api_command_serves_on_the_port_placeholder() -> None:
    command = launch.api_command(model_dir=Path("/b"), backend="sklearn", workers=2, extra=["--rate-limit", "60"])
    assert command[:3] == [sys.executable, "-m", "helpers.api"]
    assert command[command.index("--port") + 1] == "{port}"
    assert command[command.index("--backend") + 1] == "sklearn" and command[command.index("--workers") + 1] == "2"
    assert command[-2:] == ["--model-dir", "/b"] and "--rate-limit" in command
    assert "--model-dir" not in launch.api_command()


def test_api_server_is_not_started_and_waits_for_readiness(tmp_path) -> None:
    srv = launch.api_server(model_dir=tmp_path, name="unstarted")
    assert srv.ready_path == "/ready" and not srv.is_running()
    assert str(srv.port) in srv.command


def test_options_default_to_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("MODEL_BACKEND", "sklearn")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    args = launch.parse_args([])
    assert (args.port, args.backend, args.workers, args.access_log) == (9123, "sklearn", 3, False)
    assert launch.parse_args(["--port", "1", "--backend", "onnx"]).port == 1
    with pytest.raises(SystemExit):
        launch.parse_args(["--backend", "tensorflow"])


def test_main_hands_its_options_to_the_app_through_the_environment(monkeypatch, tmp_path) -> None:
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    for name in ("MODEL_DIR", "RATE_LIMIT_PER_MINUTE", "RATE_LIMIT_BURST", "MODEL_BACKEND"):
        monkeypatch.setenv(name, "")  # recorded, so whatever main() sets is undone after the test
        monkeypatch.delenv(name)
    monkeypatch.setattr(launch.logging, "basicConfig", lambda **_: None)
    launch.main(["--port", "8123", "--model-dir", str(tmp_path), "--rate-limit", "60", "--rate-burst", "2"])
    assert seen["app"] == "helpers.api.app:create_app_from_env" and seen["factory"] is True
    assert seen["port"] == 8123 and seen["access_log"] is False and seen["workers"] == 1
    assert seen["http"] == "httptools"  # the C parser: a 40 KB batch body costs less to read
    assert os.environ["MODEL_DIR"] == str(tmp_path.resolve()) and os.environ["RATE_LIMIT_PER_MINUTE"] == "60.0"
    assert os.environ["RATE_LIMIT_BURST"] == "2" and os.environ["MODEL_BACKEND"] == "onnx"


def test_the_worker_socket_gets_an_explicit_tcp_protocol(monkeypatch) -> None:
    monkeypatch.setattr(uvicorn.config.Config, "bind_socket", uvicorn.config.Config.bind_socket)
    launch.patch_uvicorn_tcp_nodelay()
    sock = uvicorn.config.Config(app=None, host="127.0.0.1", port=0).bind_socket()
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_python_m_helpers_api_has_a_command_line() -> None:
    result = subprocess.run([sys.executable, "-m", "helpers.api", "--help"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0 and "--model-dir" in result.stdout and "--rate-limit" in result.stdout
