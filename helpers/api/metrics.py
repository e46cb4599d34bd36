"""What the API exports on /metrics, and the ASGI middleware that counts, times and rate-limits requests."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # the *_created series double the output and mean nothing to a reader

LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
UNLIMITED_PATHS = frozenset({"/health", "/ready", "/metrics"})
BASELINE_REQUESTS = 1_000
"""The p95 latency of the first this-many successful /predict calls is the latency baseline alerts compare to."""


class ApiMetrics:
    """The Prometheus metrics of one app instance, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("http_requests", "HTTP requests by endpoint, method and status code",
                                ["endpoint", "method", "status"], registry=r)
        self.latency = Histogram("http_request_duration_seconds", "Time to answer a request, by endpoint",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.predictions = Counter("model_predictions", "Predicted rows by predicted class", ["predicted_class"],
                                   registry=r)
        self.model_info = Gauge("model_info", "The serving model (value 1): version and backend",
                                ["version", "backend"], registry=r)
        self.retrains = Counter("model_retrain", "Retraining jobs by outcome", ["outcome"], registry=r)
        self.psi = Gauge("model_feature_psi", "PSI of the recent input window against the training reference",
                         ["feature"], registry=r)
        self.accuracy = Gauge("model_accuracy", "Accuracy on labelled feedback (recent window)", registry=r)
        self.baseline_accuracy = Gauge("model_baseline_accuracy", "The serving model's test accuracy", registry=r)
        self.baseline_p95 = Gauge("model_baseline_p95_seconds",
                                  "p95 /predict latency over the first requests served (the latency baseline)",
                                  registry=r)
        self.labelled_rows = Counter("model_feedback_rows", "Rows that received a ground-truth label", registry=r)
        self.window_rows = Gauge("model_monitoring_window_rows", "Rows in the recent input window", registry=r)
        self.accuracy.set(math.nan)
        self.baseline_p95.set(math.nan)
        self._request_children: dict[tuple[str, str, str], tuple] = {}
        self._first_latencies: list[float] = []
        self.predicted_class = {c: self.predictions.labels(predicted_class=str(c)) for c in (0, 1)}

    def observe_request(self, endpoint: str, method: str, status: str, seconds: float) -> None:
        """Count one request and record its latency (label children cached: this runs on every request)."""
        key = (endpoint, method, status)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(endpoint=endpoint, method=method, status=status),
                        self.latency.labels(endpoint=endpoint))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if endpoint == "/predict" and status == "200" and len(self._first_latencies) < BASELINE_REQUESTS:
            self._first_latencies.append(seconds)
            if len(self._first_latencies) == BASELINE_REQUESTS:
                self.baseline_p95.set(sorted(self._first_latencies)[int(0.95 * BASELINE_REQUESTS) - 1])

    def count_predictions(self, labels: list[int]) -> None:
        """Count predicted rows per class."""
        ones = sum(labels)
        if ones:
            self.predicted_class[1].inc(ones)
        if len(labels) - ones:
            self.predicted_class[0].inc(len(labels) - ones)

    def set_model(self, version: str, backend: str, baseline_accuracy: float) -> None:
        """Record which model serves now (the previous one's info series is removed)."""
        self.model_info.clear()
        self.model_info.labels(version=version, backend=backend).set(1)
        self.baseline_accuracy.set(baseline_accuracy)


class TokenBucket:
    """Per-client token buckets: `rate_per_minute` sustained, bursts up to `burst` requests."""

    def __init__(self, rate_per_minute: float, burst: int | None = None) -> None:
        self.rate = rate_per_minute / 60.0
        self.capacity = float(burst or max(1, int(rate_per_minute / 60.0 * 10)))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Take one token for `client`; return 0 if allowed, else the seconds until a token is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.rate


def client_key(scope: dict) -> str:
    """Return the rate-limit key of a request: the X-Client-Id header if sent, else the client address."""
    for name, value in scope.get("headers", ()):
        if name == b"x-client-id":
            return "id:" + value.decode("latin-1")[:64]
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


class MetricsMiddleware:
    """Pure ASGI middleware: rate limit (optional), then count and time every request by route template."""

    def __init__(self, app: Callable, metrics: ApiMetrics, limiter: TokenBucket | None) -> None:
        self.app, self.metrics, self.limiter = app, metrics, limiter

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        if self.limiter is not None and scope["path"] not in UNLIMITED_PATHS:
            wait = self.limiter.take(client_key(scope))
            if wait > 0:
                await _too_many_requests(send, wait)
                self.metrics.requests.labels(endpoint="rate_limited", method=scope["method"], status="429").inc()
                return
        status = {"code": 500}

        async def send_and_record(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - start
            self.metrics.observe_request(endpoint, scope["method"], str(status["code"]), elapsed)


async def _too_many_requests(send: Callable, wait: float) -> None:
    """Send a 429 answer with Retry-After (whole seconds, at least 1)."""
    retry_after = max(1, math.ceil(wait))
    body = json.dumps({"detail": f"rate limit exceeded: retry after {retry_after} s"}).encode()
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"application/json"), (b"retry-after", str(retry_after).encode()),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
