"""Start a server process from a notebook and be sure it stops: free port, log file, readiness, cleanup.

Every server the course starts (the API, the MLflow UI, replicas for a load test) goes through
`BackgroundServer` (`helpers.api.launch` builds the API's command line). The child's output goes to a log
file under artifacts/logs/, never into the notebook. The child dies with the kernel: `stop()` on exit (atexit
and context manager) and, if the kernel itself is killed, a parent-death signal set in the child (Linux
`PR_SET_PDEATHSIG`).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from helpers.common import paths

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


class ServerError(RuntimeError):
    """A server did not start, or died; the message includes the end of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Return True if nothing listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) != 0


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the parent process dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class BackgroundServer:
    """A child process serving HTTP on 127.0.0.1:<port>, started ready and always stopped."""

    def __init__(self, command: Sequence[str], *, name: str = "server", port: int | None = None,
                 ready_path: str = "/health", env: dict[str, str] | None = None, timeout: float = 30.0) -> None:
        self.name, self.ready_path, self.timeout = name, ready_path, timeout
        self.port = port or free_port()
        self.command = [part.replace("{port}", str(self.port)) for part in command]
        self.env = {**os.environ, **(env or {})}
        self.log_path: Path = paths.LOG_DIR / f"{name}-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Return the base URL, e.g. http://127.0.0.1:8000."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """Return the child's process id (None before start)."""
        return self.process.pid if self.process else None

    def start(self) -> BackgroundServer:
        """Start the child, wait until `ready_path` answers 200, and return self; raise ServerError otherwise."""
        if self.process and self.process.poll() is None:
            return self
        self.launch()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def launch(self) -> BackgroundServer:
        """Start the child without waiting for it (call from the main thread: the death signal is per thread)."""
        if self.process and self.process.poll() is None:
            return self
        if not port_is_free(self.port):
            raise ServerError(f"port {self.port} is busy: another server (perhaps an orphan) holds it")
        paths.LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child writes to it until stop()
        try:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=self.env, cwd=paths.ROOT,
                                            preexec_fn=_die_with_parent)  # noqa: PLW1509
        finally:
            log.close()
        atexit.register(self.stop)
        return self

    def wait_ready(self) -> None:
        """Poll the readiness path until 200; fail loudly if the child exits or the timeout passes."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"{self.name} exited with code {self.process.returncode} before it was ready:\n"
                                  f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=1) as response:  # noqa: S310  # nosec B310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.05)
        raise ServerError(f"{self.name} was not ready on {self.url}{self.ready_path} after {self.timeout:.0f} s:\n"
                          f"{self.log_tail()}")

    def is_running(self) -> bool:
        """Return True while the child process is alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the child (SIGTERM, then SIGKILL) and wait until its port is free; safe to call twice."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        deadline = time.monotonic() + timeout
        while not port_is_free(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def log_tail(self, lines: int = 15) -> str:
        """Return the last lines of the child's log."""
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<BackgroundServer {self.name} {self.url} {state}>"


def start_all(servers: Sequence[BackgroundServer]) -> list[BackgroundServer]:
    """Launch several servers at once, then wait for each to be ready; stop them all if one fails."""
    try:
        for srv in servers:
            srv.launch()
        for srv in servers:
            srv.wait_ready()
    except BaseException:
        for srv in servers:
            srv.stop()
        raise
    return list(servers)


def adopt_orphans() -> None:
    """Make this process adopt its orphaned descendants (Linux), so a server that outlives its kernel is seen."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1)


def surviving_descendants(wait: float = 10.0) -> list[str]:
    """Return a line per descendant process still alive after `wait` seconds (zombies are reaped)."""
    import psutil

    deadline = time.monotonic() + wait
    while True:
        alive = []
        for child in psutil.Process().children(recursive=True):
            try:
                if child.status() == psutil.STATUS_ZOMBIE:
                    child.wait(0)
                    continue
                ports = [c.laddr.port for c in child.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
                alive.append(f"pid {child.pid} ({' '.join(child.cmdline())[:80]}) listening on {ports or 'nothing'}")
            except (psutil.NoSuchProcess, psutil.TimeoutExpired):
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)
