"""A static file server for the edge page, on 127.0.0.1 only: `make edge-demo`, or notebook A2 in the background.

Usage: python -m helpers.edge.server [--port 8765] [--directory FOLDER]
Without --directory it serves artifacts/edge/site/, writing it first from the reference forest if it is missing.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TYPES: dict[str, str] = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
                         ".json": "application/json", ".onnx": "application/octet-stream"}
"""Content types a browser insists on: WebAssembly streams only as application/wasm."""


class PageHandler(SimpleHTTPRequestHandler):
    """Serves files with the right content types and no caching (a refreshed page gets a refreshed model)."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


def make_server(directory: Path, port: int) -> ThreadingHTTPServer:
    """Return a server for `directory` bound to 127.0.0.1:`port` (0: any free port), not yet serving."""
    return ThreadingHTTPServer(("127.0.0.1", port), partial(PageHandler, directory=str(directory)))


def main(argv: list[str] | None = None) -> int:
    """Serve the page until Ctrl-C; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--directory", type=Path, help="folder to serve (default: the edge site, built if missing)")
    args = parser.parse_args(argv)
    if args.directory is None:
        from helpers.edge.web import ensure_demo_site

        args.directory = ensure_demo_site()
    try:
        server = make_server(args.directory, args.port)
    except OSError:
        server = make_server(args.directory, 0)
        print(f"port {args.port} is busy, using a free one", flush=True)
    with server:
        print(f"Serving the edge page on http://127.0.0.1:{server.server_address[1]}/  (Ctrl-C stops it)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("\nstopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
