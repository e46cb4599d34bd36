"""A bounded, loopback-only, closed-loop load generator: N clients, each on one kept-open connection."""

from __future__ import annotations

import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import numpy as np

from helpers.common.schema import N_FEATURES
from helpers.infra.http import require_loopback, shared_ssl_context

DEFAULT_PAYLOAD: dict[str, list[float]] = {"features": [0.0] * N_FEATURES}
"""One all-zero row of the course's 20 features: a valid /predict body."""

Payload = dict | Callable[[int], dict] | None


@dataclass
class LoadResult:
    """What one load run measured: counts, duration, throughput, latency percentiles and status counts."""

    requests: int
    errors: int
    elapsed: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    status_counts: dict[str, int]
    concurrency: int
    stopped_by: str
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> int:
        """Return the number of requests answered with a 2xx status."""
        return self.requests - self.errors

    @property
    def error_rate(self) -> float:
        """Return the fraction of requests that failed (transport error or non-2xx)."""
        return self.errors / self.requests if self.requests else 0.0

    def row(self) -> dict[str, Any]:
        """Return the scalar fields as one flat dict (a DataFrame row), without the raw latencies."""
        record = asdict(self)
        record.pop("latencies_ms")
        record["status_counts"] = ", ".join(f"{k}: {v}" for k, v in sorted(self.status_counts.items()))
        return record

    def __str__(self) -> str:
        return (f"{self.requests} requests in {self.elapsed:.2f} s ({self.rps:,.0f} req/s) with {self.concurrency} "
                f"clients, {self.errors} errors; latency p50 {self.p50_ms:.2f} ms, p95 {self.p95_ms:.2f} ms, "
                f"p99 {self.p99_ms:.2f} ms; stopped by {self.stopped_by}")


class LoadRun:
    """The shared state of one closed-loop run: request tickets, the clock, the workers' records and failures."""

    def __init__(self, base_url: str, path: str, payload: Payload, concurrency: int, total_requests: int,
                 max_seconds: float, timeout: float) -> None:
        self.base_url, self.path, self.payload = base_url, path, payload
        self.concurrency, self.total, self.max_seconds, self.timeout = concurrency, total_requests, max_seconds, timeout
        self.lock, self.halt, self.go = threading.Lock(), threading.Event(), threading.Event()
        self.ready = threading.Barrier(concurrency + 1)  # every client is built before the clock starts
        self.issued = [0]
        self.start = time.perf_counter()
        self.deadline = self.start + max_seconds
        self.records: list[tuple[list[float], Counter, int]] = []
        self.failures: list[BaseException] = []

    def next_ticket(self) -> int | None:
        """Return the next request number, or None once a bound is reached or the run is halted."""
        with self.lock:
            if self.halt.is_set() or self.issued[0] >= self.total or time.perf_counter() >= self.deadline:
                return None
            self.issued[0] += 1
            return self.issued[0] - 1

    def worker(self) -> None:
        """Run one client; a failure (e.g. a payload function that raises) halts the run and is re-raised later."""
        try:
            self.client_loop()
        except BaseException as exc:
            self.failures.append(exc)
            self.halt.set()
            self.ready.abort()

    def client_loop(self) -> None:
        """Send requests back to back on one kept-open connection until no ticket is left; record what came back."""
        latencies: list[float] = []
        statuses: Counter = Counter()
        errors = 0
        # trust_env=False: no proxy from the environment may carry the load off the machine.
        with httpx.Client(base_url=self.base_url, timeout=self.timeout, trust_env=False, follow_redirects=False,
                          verify=shared_ssl_context()) as client:
            self.ready.wait()
            self.go.wait()
            while (ticket := self.next_ticket()) is not None:
                body = self.payload(ticket) if callable(self.payload) else self.payload
                began = time.perf_counter()
                try:
                    response = client.get(self.path) if body is None else client.post(self.path, json=body)
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                    errors += 1
                    continue
                statuses[str(response.status_code)] += 1
                if 200 <= response.status_code < 300:
                    latencies.append((time.perf_counter() - began) * 1000)
                else:
                    errors += 1
        with self.lock:
            self.records.append((latencies, statuses, errors))

    def run(self, progress: bool) -> LoadResult:
        """Start the clients, start the clock once all are connected, wait for them, and return the result."""
        threads = [threading.Thread(target=self.worker, name=f"load-{i}", daemon=True)
                   for i in range(self.concurrency)]
        for thread in threads:
            thread.start()
        try:
            try:
                self.ready.wait(timeout=30)
            except threading.BrokenBarrierError:
                self.halt.set()
            self.start = time.perf_counter()
            self.deadline = self.start + self.max_seconds
            self.go.set()
            wait_with_progress(threads, self.issued, self.total, progress)
        finally:  # an interrupt (Ctrl-C, a cell timeout) stops the workers too
            self.halt.set()
            self.go.set()
            self.ready.abort()
            for thread in threads:
                thread.join(timeout=self.timeout + 1)
        if self.failures:
            raise self.failures[0]
        return summarise(self.records, time.perf_counter() - self.start, self.concurrency, self.total)


def run_load(base_url: str, path: str = "/predict", payload: Payload = DEFAULT_PAYLOAD, *, concurrency: int,
             total_requests: int, max_seconds: float, timeout: float = 5.0, progress: bool = False) -> LoadResult:
    """Return the LoadResult of a closed-loop load run on a loopback server, stopping at the first bound reached.

    `concurrency` threads each keep one connection open (an `httpx.Client`) and send requests back to back until
    `total_requests` have been sent or `max_seconds` have passed; the clock starts once every client is built.
    A request in flight at the deadline may finish, up to `timeout` later: a slow answer is a measurement, and only
    an answer later than `timeout` is an error, whatever the run's length. `payload` is a JSON body (POST), a
    function of the request number returning one, or None (GET). Latency percentiles are over 2xx answers;
    errors are transport failures (by exception name) and non-2xx answers (by status code), all listed in
    `status_counts`.
    """
    require_loopback(base_url)
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"path must be a path on the same server, like '/predict', not {path!r}")
    if concurrency < 1 or total_requests < 1 or not max_seconds > 0 or not timeout > 0:
        raise ValueError("concurrency and total_requests must be at least 1, max_seconds and timeout positive")
    concurrency = min(concurrency, total_requests)
    return LoadRun(base_url, path, payload, concurrency, total_requests, max_seconds, timeout).run(progress)


def wait_with_progress(threads: list[threading.Thread], issued: list[int], total: int, progress: bool) -> None:
    """Join the worker threads, updating a tqdm bar from the shared request counter when asked."""
    from tqdm.auto import tqdm

    # An explicit `disable` overrides tqdm's own reading of TQDM_DISABLE: honour it here (run, refresh and test).
    disabled = not progress or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes")
    with tqdm(total=total, disable=disabled, unit="req", desc="load") as bar:
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.1)
                bar.update(issued[0] - bar.n)
        bar.update(issued[0] - bar.n)


def summarise(results: list[tuple[list[float], Counter, int]], elapsed: float, concurrency: int,
               total_requests: int) -> LoadResult:
    """Merge the workers' records into one LoadResult."""
    latencies = [value for record in results for value in record[0]]
    statuses: Counter = Counter()
    for record in results:
        statuses.update(record[1])
    requests = sum(statuses.values())
    errors = sum(record[2] for record in results)
    if latencies:
        p50, p95, p99 = (float(v) for v in np.percentile(latencies, [50, 95, 99]))
        mean, largest = float(np.mean(latencies)), float(np.max(latencies))
    else:
        p50 = p95 = p99 = mean = largest = math.nan
    return LoadResult(requests=requests, errors=errors, elapsed=elapsed, rps=requests / elapsed if elapsed else 0.0,
                      p50_ms=p50, p95_ms=p95, p99_ms=p99, mean_ms=mean, max_ms=largest,
                      status_counts=dict(sorted(statuses.items())), concurrency=concurrency,
                      stopped_by="requests" if requests >= total_requests else "time", latencies_ms=latencies)

