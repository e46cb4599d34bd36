"""Starting the API as a process: the command line (`python -m helpers.api`), and background servers for notebooks."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from helpers.api.state import BACKEND_FORMATS
from helpers.common.processes import BackgroundServer


def api_command(*, model_dir: Path | None = None, backend: str = "onnx", workers: int = 1,
                extra: Sequence[str] = ()) -> list[str]:
    """Return the command line that serves the API on `{port}` (filled in by BackgroundServer)."""
    command = [sys.executable, "-m", "helpers.api", "--host", "127.0.0.1", "--port", "{port}",
               "--backend", backend, "--workers", str(workers), *extra]
    return command + (["--model-dir", str(model_dir)] if model_dir is not None else [])


def api_server(*, model_dir: Path | None = None, backend: str = "onnx", workers: int = 1, name: str = "api",
               env: dict[str, str] | None = None, extra: Sequence[str] = (), timeout: float = 60.0) -> BackgroundServer:
    """Return an API server, not yet started (see `start_api`, and `start_all` to start several at once)."""
    command = api_command(model_dir=model_dir, backend=backend, workers=workers, extra=extra)
    return BackgroundServer(command, name=name, ready_path="/ready", env=env, timeout=timeout)


def start_api(*, model_dir: Path | None = None, backend: str = "onnx", workers: int = 1, name: str = "api",
              env: dict[str, str] | None = None, extra: Sequence[str] = (), timeout: float = 60.0) -> BackgroundServer:
    """Start the API in the background, wait until /ready answers 200, and return the server (a context manager)."""
    return api_server(model_dir=model_dir, backend=backend, workers=workers, name=name, env=env, extra=extra,
                      timeout=timeout).start()


def patch_uvicorn_tcp_nodelay() -> None:
    """Work around uvicorn 0.54 with --workers N: sockets it binds miss TCP_NODELAY, so every reply waits ~40 ms.

    The socket uvicorn binds for its worker processes is created without an explicit protocol, and the
    connections accepted on it do not get TCP_NODELAY (uvicorn issue #3149): each response then waits for the
    client's delayed ACK. Re-creating the bound socket with IPPROTO_TCP restores normal latency.
    """
    import uvicorn.config

    original = uvicorn.config.Config.bind_socket

    def bind_socket(self: uvicorn.config.Config) -> socket.socket:
        sock = original(self)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        return sock

    uvicorn.config.Config.bind_socket = bind_socket


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Return the command-line options; each defaults to its environment variable, as in a container."""
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m helpers.api", description="Serve the course model API")
    parser.add_argument("--host", default=env("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(env("WEB_CONCURRENCY", "1")))
    parser.add_argument("--model-dir", default=env("MODEL_DIR"))
    parser.add_argument("--backend", choices=sorted(BACKEND_FORMATS), default=env("MODEL_BACKEND", "onnx"))
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per minute per client (off: 0)")
    parser.add_argument("--rate-burst", type=int, default=None, help="burst size of the per-client bucket")
    parser.add_argument("--models", default=env("MODELS_DIR"),
                        help="a model repository (<name>/<version>/ bundles) to serve on /v2 beside the model")
    parser.add_argument("--access-log", action="store_true", help="log every request (costs ~30%% throughput)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Serve the API with uvicorn until Ctrl-C; worker processes read their settings from the environment."""
    import uvicorn

    args = parse_args(argv)
    os.environ["MODEL_BACKEND"] = args.backend
    if args.model_dir:
        os.environ["MODEL_DIR"] = str(Path(args.model_dir).resolve())
    if args.models:
        os.environ["MODELS_DIR"] = str(Path(args.models).resolve())
    if args.rate_limit is not None:
        os.environ["RATE_LIMIT_PER_MINUTE"] = str(args.rate_limit)
    if args.rate_burst is not None:
        os.environ["RATE_LIMIT_BURST"] = str(args.rate_burst)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("helpers").setLevel(logging.INFO)
    if args.workers > 1:
        patch_uvicorn_tcp_nodelay()
    print(f"serving the model API on http://{args.host}:{args.port} (docs: /docs); Ctrl-C stops it", flush=True)
    uvicorn.run("helpers.api.app:create_app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, access_log=args.access_log, log_level="warning", http="httptools",
                limit_concurrency=1000, timeout_graceful_shutdown=5)  # httptools: a C parser, h11's is Python
