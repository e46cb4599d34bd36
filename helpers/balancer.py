"""A small in-process load balancer for the course's local replicas: round robin or sticky, health checks, retries.

It stands in, on one machine, for what a cluster does with separate components: in Kubernetes the Service
(kube-proxy) and the ingress-nginx controller spread requests over the pods, and the readinessProbe decides
which pods may receive them. Here one Python object does it inside the client's process:

- **round robin**: request k goes to replica k mod n; if that one is out of rotation (or fails), the next one in
  the ring takes the request;
- **sticky** (session persistence): a client id always maps to the same replica, by rendezvous hashing
  (highest hash of client id + replica name), so removing a replica moves only that replica's clients;
- **active health checks**: a background thread GETs each replica's `/ready`; `fall` failures in a row take a
  replica out of rotation, `rise` successes bring it back;
- **passive health checks and retries**: a connection error takes the replica out at once and the request is
  retried on the next replica (at most `retries` times); a 502/503/504 answer is retried without marking.

The client id travels to the replica as the `X-Client-Id` header (the course API rate-limits per client id).
Only loopback replicas are accepted.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd

from helpers.loadtest import require_loopback, shared_ssl_context

STRATEGIES = ("round_robin", "sticky")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
NOT_DELIVERED = (httpx.ConnectError, httpx.ConnectTimeout)
"""Transport errors that prove the request never reached the replica: always safe to retry elsewhere."""


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


@dataclass(frozen=True)
class Answer:
    """What the client gets back: status, headers, body, which replica answered, and the replicas tried."""

    status: int
    headers: dict[str, str]
    content: bytes
    replica: str | None
    tried: tuple[str, ...] = field(default=())

    @property
    def attempts(self) -> int:
        """Return how many replicas were tried (1 when the first one answered)."""
        return len(self.tried)

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        import json

        return json.loads(self.content)


def rendezvous_order(client_id: str, names: Iterable[str]) -> list[str]:
    """Return replica names ordered by rendezvous (highest-random-weight) hash for a client: its first is its home."""
    def weight(name: str) -> int:
        return int.from_bytes(hashlib.sha256(f"{client_id}|{name}".encode()).digest()[:8], "big")

    return sorted(names, key=lambda name: (-weight(name), name))


class Balancer:
    """Spread requests over loopback replicas, with health checks and retries; a context manager."""

    def __init__(self, replicas: Mapping[str, str], *, strategy: str = "round_robin", health_path: str = "/ready",
                 health_interval: float | None = 0.1, fall: int = 2, rise: int = 2, retries: int = 2,
                 timeout: float = 2.0, retry_statuses: Iterable[int] = (502, 503, 504),
                 retry_non_idempotent: bool = False) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if not replicas:
            raise ValueError("a balancer needs at least one replica")
        if fall < 1 or rise < 1 or retries < 0:
            raise ValueError("fall and rise must be at least 1, retries at least 0")
        for url in replicas.values():
            require_loopback(url)
        self.replicas = [Replica(name, url.rstrip("/")) for name, url in replicas.items()]
        self.strategy, self.health_path, self.health_interval = strategy, health_path, health_interval
        self.fall, self.rise, self.retries, self.timeout = fall, rise, retries, timeout
        self.retry_statuses = frozenset(retry_statuses)
        self.retry_non_idempotent = retry_non_idempotent
        self.requests = self.retried = self.failed = 0
        self.events: list[str] = []
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._clients = {r.name: self._client(r.url) for r in self.replicas}
        self._probe = httpx.Client(timeout=min(timeout, 1.0), trust_env=False, follow_redirects=False,
                                   verify=shared_ssl_context())

    def _client(self, url: str) -> httpx.Client:
        """Return a keep-alive HTTP client for one replica (no proxies from the environment)."""
        return httpx.Client(base_url=url, timeout=self.timeout, trust_env=False, follow_redirects=False,
                            verify=shared_ssl_context())

    # ------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> Balancer:
        """Probe every replica once (its result decides), then keep probing in a daemon thread; return self."""
        for replica in self.replicas:
            ok, reason = self._probe_one(replica)
            with self._lock:
                replica.healthy, replica.last_error = ok, reason
                replica.probe_successes, replica.probe_failures = int(ok), int(not ok)
        if self.health_interval and self._thread is None:
            self._thread = threading.Thread(target=self._probe_loop, name="balancer-health", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the health checks and close every connection (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for client in [*self._clients.values(), self._probe]:
            client.close()

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ health

    def _probe_loop(self) -> None:
        """Probe all replicas every health_interval seconds until closed."""
        while not self._stop.wait(self.health_interval):
            self.check_health()

    def check_health(self) -> dict[str, bool]:
        """Probe every replica's health path once and return {name: in rotation}."""
        for replica in self.replicas:
            ok, reason = self._probe_one(replica)
            with self._lock:
                if ok:
                    replica.probe_failures, replica.probe_successes = 0, replica.probe_successes + 1
                    if not replica.healthy and replica.probe_successes >= self.rise:
                        self._set_health(replica, True, "health checks pass again")
                else:
                    replica.probe_successes, replica.probe_failures = 0, replica.probe_failures + 1
                    if replica.healthy and replica.probe_failures >= self.fall:
                        self._set_health(replica, False, reason)
        return {r.name: r.healthy for r in self.replicas}

    def _probe_one(self, replica: Replica) -> tuple[bool, str]:
        """GET one replica's health path: return (passed, why not)."""
        try:
            ok = self._probe.get(replica.url + self.health_path).status_code == 200
        except httpx.HTTPError as exc:
            return False, f"health check: {type(exc).__name__}"
        return ok, "" if ok else "health check answered non-200"

    def _set_health(self, replica: Replica, healthy: bool, reason: str) -> None:
        """Put a replica in or out of rotation and log why (call with the lock held)."""
        replica.healthy = healthy
        if not healthy:
            replica.last_error = reason
        self.events.append(f"{replica.name} {'back in' if healthy else 'out of'} rotation: {reason}")

    def in_rotation(self) -> list[str]:
        """Return the names of the replicas currently receiving traffic."""
        return [r.name for r in self.replicas if r.healthy]

    # ------------------------------------------------------------------------------------------ routing

    def order(self, client_id: str | None = None) -> list[Replica]:
        """Return the replicas to try for the next request, best first (healthy ones only), advancing round robin."""
        with self._lock:
            if self.strategy == "sticky" and client_id is not None:
                names = rendezvous_order(client_id, [r.name for r in self.replicas])
                ring = [next(r for r in self.replicas if r.name == name) for name in names]
            else:
                start = self._next % len(self.replicas)
                self._next += 1
                ring = self.replicas[start:] + self.replicas[:start]
            return [r for r in ring if r.healthy]

    def request(self, method: str, path: str, *, json: Any = None, client_id: str | None = None,
                headers: Mapping[str, str] | None = None) -> Answer:
        """Send one client request through the balancer and return the Answer (502/503 if no replica could)."""
        if not path.startswith("/") or path.startswith("//"):
            raise ValueError(f"path must be a path on the replicas, like '/predict', not {path!r}")
        method = method.upper()
        send_headers = dict(headers or {})
        if client_id is not None:
            send_headers["X-Client-Id"] = client_id
        with self._lock:
            self.requests += 1
        candidates = self.order(client_id)[: self.retries + 1]
        if not candidates:
            return self._own_answer(503, "no healthy replica", ())
        tried: list[str] = []
        last = None
        for replica in candidates:
            tried.append(replica.name)
            try:
                response = self._clients[replica.name].request(method, path, json=json, headers=send_headers)
            except httpx.TransportError as exc:
                delivered = not isinstance(exc, NOT_DELIVERED)
                with self._lock:
                    replica.errors += 1
                    replica.probe_successes = 0  # the health checks must see it `rise` times before it returns
                    if replica.healthy:
                        self._set_health(replica, False, f"request failed: {type(exc).__name__}")
                if delivered and method not in IDEMPOTENT_METHODS and not self.retry_non_idempotent:
                    break  # it may have been processed: retrying could do it twice
                continue
            if response.status_code in self.retry_statuses and replica is not candidates[-1]:
                last = response
                with self._lock:
                    replica.errors += 1
                continue
            with self._lock:
                replica.answered += 1
                self.retried += len(tried) - 1
            return Answer(response.status_code, dict(response.headers), response.content, replica.name, tuple(tried))
        if last is not None:
            return Answer(last.status_code, dict(last.headers), last.content, tried[-1], tuple(tried))
        return self._own_answer(502, "every replica tried failed", tuple(tried))

    def _own_answer(self, status: int, message: str, tried: tuple[str, ...]) -> Answer:
        """Return an answer made by the balancer itself (like a proxy's 502/503) and count it as failed."""
        import json

        with self._lock:
            self.failed += 1
            self.retried += max(len(tried) - 1, 0)
        body = json.dumps({"detail": message}).encode()
        return Answer(status, {"content-type": "application/json"}, body, None, tried)

    def get(self, path: str, *, client_id: str | None = None) -> Answer:
        """Send a GET through the balancer."""
        return self.request("GET", path, client_id=client_id)

    def post(self, path: str, json: Any, *, client_id: str | None = None) -> Answer:
        """Send a POST with a JSON body through the balancer."""
        return self.request("POST", path, json=json, client_id=client_id)

    # ------------------------------------------------------------------------------------------ reporting

    def table(self) -> pd.DataFrame:
        """Return one row per replica: in rotation, requests answered, errors seen, why it left rotation."""
        with self._lock:
            rows = [{"replica": r.name, "in rotation": r.healthy, "answered": r.answered, "errors": r.errors,
                     "last problem": r.last_error or "-"} for r in self.replicas]
        return pd.DataFrame(rows).set_index("replica")

    def __repr__(self) -> str:
        return f"<Balancer {self.strategy} over {', '.join(r.name for r in self.replicas)}>"


_PROM_LINE = re.compile(r'^http_requests_total\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.eE+-]+)$', re.MULTILINE)


def server_side_count(url: str, endpoint: str = "/predict", status: str | None = None, timeout: float = 2.0) -> int:
    """Return how many requests a course API replica says it answered on an endpoint (from its /metrics)."""
    require_loopback(url)
    text = httpx.get(url.rstrip("/") + "/metrics", timeout=timeout, trust_env=False).text
    total = 0.0
    for match in _PROM_LINE.finditer(text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group("labels")))
        if labels.get("endpoint") == endpoint and (status is None or labels.get("status") == status):
            total += float(match.group("value"))
    return int(total)
