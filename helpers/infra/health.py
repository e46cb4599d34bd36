"""Active health checks of a balancer's replicas: a background thread probes each one; `fall` failures in a row
take a replica out of rotation, `rise` successes bring it back (what a readinessProbe does in Kubernetes)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from helpers.infra.http import shared_ssl_context


@dataclass
class Replica:
    """One upstream: its name, URL, whether it is in rotation, and what it has done so far."""

    name: str
    url: str
    healthy: bool = True
    answered: int = 0
    errors: int = 0
    probe_failures: int = 0
    probe_successes: int = 0
    last_error: str = ""


class HealthChecks:
    """Probe replicas' health path, on demand (`check`) and every `interval` seconds in a daemon thread."""

    def __init__(self, replicas: list[Replica], lock: threading.Lock, on_change: Callable[[str], None], *,
                 path: str = "/ready", interval: float | None = 0.1, fall: int = 2, rise: int = 2,
                 timeout: float = 1.0) -> None:
        if fall < 1 or rise < 1:
            raise ValueError("fall and rise must be at least 1")
        self.replicas, self.lock, self.on_change = replicas, lock, on_change
        self.path, self.interval, self.fall, self.rise = path, interval, fall, rise
        self.client = httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False,
                                   verify=shared_ssl_context())
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Probe every replica once (its result decides), then keep probing in a daemon thread."""
        for replica in self.replicas:
            ok, reason = self.probe(replica)
            with self.lock:
                replica.healthy, replica.last_error = ok, reason
                replica.probe_successes, replica.probe_failures = int(ok), int(not ok)
        if self.interval and self.thread is None:
            self.thread = threading.Thread(target=self.loop, name="balancer-health", daemon=True)
            self.thread.start()

    def loop(self) -> None:
        """Probe all replicas every interval until closed."""
        while not self.stopped.wait(self.interval):
            self.check()

    def close(self) -> None:
        """Stop the thread and close the probe connection (idempotent)."""
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.client.close()

    def probe(self, replica: Replica) -> tuple[bool, str]:
        """GET one replica's health path: return (passed, why not)."""
        try:
            ok = self.client.get(replica.url + self.path).status_code == 200
        except httpx.HTTPError as exc:
            return False, f"health check: {type(exc).__name__}"
        return ok, "" if ok else "health check answered non-200"

    def check(self) -> dict[str, bool]:
        """Probe every replica once, apply the fall/rise rule, and return {name: in rotation}."""
        for replica in self.replicas:
            ok, reason = self.probe(replica)
            with self.lock:
                if ok:
                    replica.probe_failures, replica.probe_successes = 0, replica.probe_successes + 1
                    if not replica.healthy and replica.probe_successes >= self.rise:
                        self.set_health(replica, True, "health checks pass again")
                else:
                    replica.probe_successes, replica.probe_failures = 0, replica.probe_failures + 1
                    if replica.healthy and replica.probe_failures >= self.fall:
                        self.set_health(replica, False, reason)
        return {r.name: r.healthy for r in self.replicas}

    def set_health(self, replica: Replica, healthy: bool, reason: str) -> None:
        """Put a replica in or out of rotation and report why (call with the lock held)."""
        replica.healthy = healthy
        if not healthy:
            replica.last_error = reason
        self.on_change(f"{replica.name} {'back in' if healthy else 'out of'} rotation: {reason}")
