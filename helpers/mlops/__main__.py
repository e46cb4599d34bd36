"""`python -m helpers.mlops ui [--port 5000]`: the MLflow UI on the course's local store (`make mlflow-ui`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from helpers.common import paths
from helpers.mlops import store

UI_PORT = 5000


def ui_command(port: int = UI_PORT) -> list[str]:
    """Return the `mlflow ui` command line for the local store (the venv's mlflow, bound to 127.0.0.1)."""
    local = store.resolve_store()
    if not local.local:
        raise store.TrackingError(f"MLFLOW_TRACKING_URI points at {store.redact(local.uri)}: open that server's own "
                                  "UI instead, or unset the variable to browse the local store")
    assert local.artifacts is not None
    exe = Path(sys.executable).with_name("mlflow")
    if not exe.exists():
        raise store.TrackingError(f"no mlflow executable next to {sys.executable}: run `make install`")
    # One worker is plenty for one reader and starts in a few seconds on 2 cores (the default is 4).
    return [str(exe), "ui", "--backend-store-uri", local.uri, "--default-artifact-root", local.artifacts.as_uri(),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]


def main(argv: list[str] | None = None) -> int:
    """Serve the MLflow UI in the foreground until Ctrl-C; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m helpers.mlops", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ui = commands.add_parser("ui", help="serve the MLflow UI on the local store until Ctrl-C")
    ui.add_argument("--port", type=int, default=UI_PORT, help=f"port on 127.0.0.1 (default {UI_PORT})")
    args = parser.parse_args(argv)
    try:
        command = ui_command(args.port)
        store.configure()  # a missing database is made from the migrated template before the UI opens it
    except store.TrackingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The server's background job runner (GenAI evaluation jobs, 6+ extra processes) has nothing to do here.
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    print(f"MLflow UI on http://127.0.0.1:{args.port} (store: {paths.relative(store.active_store().db)}); "
          "Ctrl-C stops it", flush=True)
    os.execv(command[0], command)  # noqa: S606 - become the server: Ctrl-C reaches it, no wrapper to orphan
    return 0


if __name__ == "__main__":
    sys.exit(main())
