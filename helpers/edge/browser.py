"""Headless Chromium driven over its DevTools protocol, with every request outside 127.0.0.1 refused.

Playwright would do this in three lines, but brings 165 MB; Chromium itself speaks the protocol over a pair of
pipes (`--remote-debugging-pipe`: it reads commands on file descriptor 3 and answers on 4, JSON messages ending
in a NUL byte), so a few dozen lines of Python suffice. Two independent locks keep the page offline:
- every request the page makes pauses in Chromium (`Fetch.enable`) until we allow it; we allow only
  http://127.0.0.1 and fail the rest as "blocked by client", recording the address;
- the host resolver maps every name but 127.0.0.1 to "not found", so even Chromium's own traffic has nowhere to go.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from helpers.common import paths

FLAGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
    "--remote-debugging-pipe",
)
"""How the course starts Chromium: headless, as root (no sandbox), quiet, driven over a pipe."""
OFFLINE_FLAGS: tuple[str, ...] = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",)
"""Every host name but 127.0.0.1 resolves to "not found"."""
ALLOWED_HOST = "127.0.0.1"


class BrowserError(RuntimeError):
    """Chromium did not start, did not answer in time, or a command failed."""


def find_chromium() -> str | None:
    """Return the path of a Chromium binary ($CHROMIUM, chromium, chromium-browser), or None."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def allowed(url: str) -> bool:
    """Return True for the requests the page may make: http(s) to 127.0.0.1, or data and blob URLs."""
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or (parts.scheme in ("http", "https") and parts.hostname == ALLOWED_HOST)


def _pipe_child(command_read: int, answer_write: int) -> None:
    """In the child, before exec: put the pipes on fds 3 and 4 and ask to die with the parent (Linux)."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (command_read, answer_write)]  # 3 or 4 may be taken
    os.dup2(high[0], 3, inheritable=True)
    os.dup2(high[1], 4, inheritable=True)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class Chromium:
    """One headless Chromium with one tab, network locked to 127.0.0.1; use it as a context manager."""

    executable: str
    timeout: float = 30.0
    offline: bool = True
    """False only to prove the lock works: the same page, unlocked, reaches what the locked one may not."""
    blocked: list[str] = field(default_factory=list)
    allowed_requests: list[str] = field(default_factory=list)

    def __enter__(self) -> Chromium:
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        paths.LOG_DIR.mkdir(parents=True, exist_ok=True)
        command_read, self._commands = os.pipe()
        self._answers, answer_write = os.pipe()
        log = open(paths.LOG_DIR / "chromium.log", "wb")  # noqa: SIM115 - Chromium writes to it until it exits
        try:
            self.process = subprocess.Popen(
                [self.executable, *FLAGS, *(OFFLINE_FLAGS if self.offline else ()), f"--user-data-dir={self.profile}",
                 "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, close_fds=False,
                preexec_fn=lambda: _pipe_child(command_read, answer_write))  # noqa: PLW1509
        except BaseException:
            self._cleanup()
            raise
        finally:
            log.close()
            os.close(command_read)
            os.close(answer_write)
        self._buffer, self._next_id, self._seen = b"", 0, []
        try:
            self.session = self._open_tab()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _open_tab(self) -> str:
        """Attach to the first tab, lock its network and enable page events; return the session id."""
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        if self.offline:
            self.call("Fetch.enable", session, patterns=[{"urlPattern": "*"}])
        self.call("Page.enable", session)
        return session

    def call(self, method: str, session: str | None = None, **params: Any) -> dict:
        """Send one protocol command and return its result, answering paused requests while waiting."""
        self._next_id += 1
        wanted = self._next_id
        self._send({"id": wanted, "method": method, "params": params, **({"sessionId": session} if session else {})})
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method} failed: {message['error'].get('message')}")
                return message.get("result", {})

    def wait_for_event(self, method: str) -> dict:
        """Return the parameters of the next `method` event (one already seen counts), answering requests."""
        deadline = time.monotonic() + self.timeout
        while True:
            for seen in self._seen:
                if seen["method"] == method:
                    self._seen.remove(seen)
                    return seen.get("params", {})
            self._receive(deadline)

    def evaluate(self, expression: str) -> Any:
        """Return the JSON value of a JavaScript expression in the tab, awaiting it if it is a promise."""
        answer = self.call("Runtime.evaluate", self.session, expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            raise BrowserError(f"the page threw: {details.get('exception', {}).get('description', details)}")
        return answer["result"].get("value")

    def open(self, url: str) -> None:
        """Load `url` in the tab and wait for its load event."""
        self._seen.clear()
        answer = self.call("Page.navigate", self.session, url=url)
        if answer.get("errorText"):
            raise BrowserError(f"could not open {url}: {answer['errorText']}")
        self.wait_for_event("Page.loadEventFired")

    def _send(self, message: dict) -> None:
        os.write(self._commands, json.dumps(message).encode() + b"\0")

    def _receive(self, deadline: float) -> dict:
        """Return the next message; paused requests are allowed or refused here, events are kept."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise BrowserError(f"Chromium did not answer within {self.timeout:.0f} s")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed its pipe (it exited); see artifacts/logs/chromium.log")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if message.get("method") == "Fetch.requestPaused":
            self._decide(message)
        elif "method" in message:
            self._seen.append(message)
        return message

    def _decide(self, message: dict) -> None:
        """Let a paused request through if it goes to 127.0.0.1, refuse it otherwise (and remember it)."""
        params = message["params"]
        url = params["request"]["url"]
        self._next_id += 1
        reply = {"id": self._next_id, "sessionId": message.get("sessionId"),
                 "params": {"requestId": params["requestId"]}}
        if allowed(url):
            self.allowed_requests.append(url)
            reply["method"] = "Fetch.continueRequest"
        else:
            self.blocked.append(url)
            reply["method"] = "Fetch.failRequest"
            reply["params"]["errorReason"] = "BlockedByClient"
        self._send(reply)

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self._next_id += 1
            self._send({"id": self._next_id, "method": "Browser.close"})
        process = getattr(self, "process", None)
        if process is not None:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self._cleanup()

    def _cleanup(self) -> None:
        for fd in (getattr(self, "_commands", None), getattr(self, "_answers", None)):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._commands = self._answers = None
        shutil.rmtree(getattr(self, "profile", ""), ignore_errors=True)
