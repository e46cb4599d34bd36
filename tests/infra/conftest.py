"""Small in-thread HTTP servers for the infra tests: a keep-alive server for load runs, and fake API replicas."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class KeepAliveHandler(BaseHTTPRequestHandler):
    """A tiny keep-alive HTTP/1.1 server: /ok and /predict answer 200, /fail 500, /slow 200 after 50 ms."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: without this, delayed ACKs add ~40 ms

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path == "/slow":
            time.sleep(0.05)
        status = 500 if self.path == "/fail" else 200
        body = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = answer
    do_POST = answer

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Serve KeepAliveHandler on a free loopback port in a thread; shut it down afterwards."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    assert not thread.is_alive()


class Backend:
    """A tiny HTTP/1.0 replica in a thread (one connection per request, so a stopped one refuses at once).

    /ready answers 200 or 503 as `ready` says; /predict answers `status` (200 by default) and records the
    X-Client-Id it saw; /metrics answers a Prometheus counter of the /predict answers, as the API does.
    """

    def __init__(self) -> None:
        self.ready, self.status, self.seen, self.predictions = True, 200, [], 0
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if self.path == "/ready":
                    self.send(200 if backend.ready else 503, {"ready": backend.ready})
                elif self.path == "/metrics":
                    text = ("# TYPE http_requests_total counter\n"
                            f'http_requests_total{{endpoint="/predict",method="POST",status="200"}} '
                            f'{backend.predictions}.0\nhttp_requests_total{{endpoint="/ready",method="GET",'
                            f'status="200"}} 7.0\n')
                    self.send(200, text, content_type="text/plain")
                else:
                    backend.seen.append(self.headers.get("X-Client-Id"))
                    backend.predictions += backend.status == 200
                    extra = {"Retry-After": "1"} if backend.status == 429 else {}
                    self.send(backend.status, {"ok": backend.status == 200}, extra)

            def send(self, status: int, body: dict | str, extra: dict | None = None,
                     content_type: str = "application/json") -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                for name, value in {"Content-Type": content_type, **(extra or {}),
                                    "Content-Length": str(len(data))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = answer
            do_POST = answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Shut the replica down: from now on its port refuses connections."""
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=5)


@pytest.fixture
def backends() -> Iterator[dict[str, Backend]]:
    """Three fake replicas r0, r1, r2, stopped afterwards."""
    started = {name: Backend() for name in ("r0", "r1", "r2")}
    try:
        yield started
    finally:
        for backend in started.values():
            backend.stop()


@pytest.fixture
def upstreams(backends: dict[str, Backend]) -> dict[str, str]:
    """Return {replica name: base URL} of the three fake replicas."""
    return {name: backend.url for name, backend in backends.items()}
