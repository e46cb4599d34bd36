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
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd

from helpers.infra.health import HealthChecks, Replica
from helpers.infra.http import require_loopback, shared_ssl_context

STRATEGIES = ("round_robin", "sticky")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
NOT_DELIVERED = (httpx.ConnectError, httpx.ConnectTimeout)
"""Transport errors that prove the request never reached the replica: always safe to retry elsewhere."""


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
        if retries < 0:
            raise ValueError("retries must be at least 0")
        for url in replicas.values():
            require_loopback(url)
        self.replicas = [Replica(name, url.rstrip("/")) for name, url in replicas.items()]
        self.strategy, self.retries, self.retry_statuses = strategy, retries, frozenset(retry_statuses)
        self.retry_non_idempotent = retry_non_idempotent
        self.requests = self.retried = self.failed = 0
        self.events: list[str] = []
        self.turn = 0
        self.lock = threading.Lock()
        self.health = HealthChecks(self.replicas, self.lock, self.events.append, path=health_path,
                                   interval=health_interval, fall=fall, rise=rise, timeout=min(timeout, 1.0))
        self.clients = {r.name: httpx.Client(base_url=r.url, timeout=timeout, trust_env=False, follow_redirects=False,
                                             verify=shared_ssl_context()) for r in self.replicas}

    def start(self) -> Balancer:
        """Probe every replica once, start the health-check thread, and return self."""
        self.health.start()
        return self

    def close(self) -> None:
        """Stop the health checks and close every connection (idempotent)."""
        self.health.close()
        for client in self.clients.values():
            client.close()

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_health(self) -> dict[str, bool]:
        """Probe every replica now and return {name: in rotation}."""
        return self.health.check()

    def in_rotation(self) -> list[str]:
        """Return the names of the replicas currently receiving traffic."""
        return [r.name for r in self.replicas if r.healthy]

    def order(self, client_id: str | None = None) -> list[Replica]:
        """Return the replicas to try for the next request, best first (healthy ones only), advancing round robin."""
        with self.lock:
            if self.strategy == "sticky" and client_id is not None:
                by_name = {r.name: r for r in self.replicas}
                ring = [by_name[name] for name in rendezvous_order(client_id, by_name)]
            else:
                start = self.turn % len(self.replicas)
                self.turn += 1
                ring = self.replicas[start:] + self.replicas[:start]
            return [r for r in ring if r.healthy]

    def request(self, method: str, path: str, *, json: Any = None, client_id: str | None = None,
                headers: Mapping[str, str] | None = None) -> Answer:
        """Send one client request through the balancer and return the Answer (502/503 if no replica could)."""
        if not path.startswith("/") or path.startswith("//"):
            raise ValueError(f"path must be a path on the replicas, like '/predict', not {path!r}")
        method = method.upper()
        send_headers = {**(headers or {}), **({"X-Client-Id": client_id} if client_id is not None else {})}
        with self.lock:
            self.requests += 1
        candidates = self.order(client_id)[: self.retries + 1]
        if not candidates:
            return self.own_answer(503, "no healthy replica", ())
        tried: list[str] = []
        last = None
        for replica in candidates:
            tried.append(replica.name)
            try:
                response = self.clients[replica.name].request(method, path, json=json, headers=send_headers)
            except httpx.TransportError as exc:
                self.passive_failure(replica, exc)
                if not isinstance(exc, NOT_DELIVERED) and method not in IDEMPOTENT_METHODS \
                        and not self.retry_non_idempotent:
                    break  # it may have been processed: retrying could do it twice
                continue
            if response.status_code in self.retry_statuses and replica is not candidates[-1]:
                last = response
                with self.lock:
                    replica.errors += 1
                continue
            with self.lock:
                replica.answered += 1
                self.retried += len(tried) - 1
            return Answer(response.status_code, dict(response.headers), response.content, replica.name, tuple(tried))
        if last is not None:
            return Answer(last.status_code, dict(last.headers), last.content, tried[-1], tuple(tried))
        return self.own_answer(502, "every replica tried failed", tuple(tried))

    def passive_failure(self, replica: Replica, exc: Exception) -> None:
        """Take a replica out of rotation after a failed request; the checks must see it `rise` times to return."""
        with self.lock:
            replica.errors += 1
            replica.probe_successes = 0
            if replica.healthy:
                self.health.set_health(replica, False, f"request failed: {type(exc).__name__}")

    def own_answer(self, status: int, message: str, tried: tuple[str, ...]) -> Answer:
        """Return an answer made by the balancer itself (like a proxy's 502/503) and count it as failed."""
        with self.lock:
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

    def __repr__(self) -> str:
        return f"<Balancer {self.strategy} over {', '.join(r.name for r in self.replicas)}>"


def replica_table(balancer: Balancer) -> pd.DataFrame:
    """Return one row per replica: in rotation, requests answered, errors seen, why it last left rotation."""
    with balancer.lock:
        rows = [{"replica": r.name, "in rotation": r.healthy, "answered": r.answered, "errors": r.errors,
                 "last problem": r.last_error or "-"} for r in balancer.replicas]
    return pd.DataFrame(rows).set_index("replica")


def server_side_count(url: str, endpoint: str = "/predict", status: str | None = None, timeout: float = 2.0) -> int:
    """Return how many requests a course API replica says it answered on an endpoint (from its /metrics)."""
    from prometheus_client.parser import text_string_to_metric_families

    require_loopback(url)
    text = httpx.get(url.rstrip("/") + "/metrics", timeout=timeout, trust_env=False).text
    return int(sum(sample.value for family in text_string_to_metric_families(text) if family.name == "http_requests"
                   for sample in family.samples if sample.name == "http_requests_total"
                   and sample.labels.get("endpoint") == endpoint and status in (None, sample.labels.get("status"))))
