"""A bounded, loopback-only load generator and a background sampler of CPU, memory, network and disk use."""

from __future__ import annotations

import ipaddress
import math
import os
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pandas as pd
import psutil

from helpers import paths

DEFAULT_PAYLOAD: dict[str, list[float]] = {"features": [0.0] * 20}
"""One all-zero row of the course's 20 features: a valid /predict body."""

Payload = dict | Callable[[int], dict] | None


@lru_cache(maxsize=1)
def shared_ssl_context() -> ssl.SSLContext:
    """Return one default (verifying) SSL context for all clients: building one per client costs ~30 ms."""
    return ssl.create_default_context()


def require_loopback(base_url: str) -> str:
    """Return the URL's host if it is a loopback address (127.0.0.0/8, ::1, localhost); raise ValueError otherwise."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {base_url!r}")
    host = parts.hostname
    if host.lower() == "localhost":
        return host
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"refusing to send load to {host!r}: only loopback hosts (127.0.0.0/8, ::1, localhost)")
    return host


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


def run_load(base_url: str, path: str = "/predict", payload: Payload = DEFAULT_PAYLOAD, *, concurrency: int,
             total_requests: int, max_seconds: float, timeout: float = 5.0, progress: bool = False) -> LoadResult:
    """Return the LoadResult of a closed-loop load run on a loopback server, stopping at the first bound reached.

    `concurrency` threads each keep one connection open (an `httpx.Client`) and send requests back to back until
    `total_requests` have been sent or `max_seconds` have passed; the clock starts once every client is built.
    A request in flight at the deadline may finish
    (at most `min(timeout, max_seconds)` later). `payload` is a JSON body (POST), a function of the request number
    returning one, or None (GET). Latency percentiles are over 2xx answers; errors are transport failures (by
    exception name) and non-2xx answers (by status code), all listed in `status_counts`.
    """
    require_loopback(base_url)
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"path must be a path on the same server, like '/predict', not {path!r}")
    if concurrency < 1 or total_requests < 1 or not max_seconds > 0:
        raise ValueError("concurrency and total_requests must be at least 1 and max_seconds positive")
    concurrency = min(concurrency, total_requests)
    timeout = min(timeout, max_seconds)
    lock = threading.Lock()
    halt = threading.Event()
    go = threading.Event()
    ready = threading.Barrier(concurrency + 1)  # every client is built before the clock starts
    failures: list[BaseException] = []
    issued = [0]
    clock = {"start": time.perf_counter(), "deadline": time.perf_counter() + max_seconds}
    results: list[tuple[list[float], Counter, int]] = []

    def next_ticket() -> int | None:
        with lock:
            if halt.is_set() or issued[0] >= total_requests or time.perf_counter() >= clock["deadline"]:
                return None
            issued[0] += 1
            return issued[0] - 1

    def worker() -> None:
        try:
            measure()
        except BaseException as exc:  # e.g. a payload function that raises: re-raised in the caller
            failures.append(exc)
            halt.set()
            ready.abort()

    def measure() -> None:
        latencies: list[float] = []
        statuses: Counter = Counter()
        errors = 0
        # trust_env=False: no proxy from the environment may carry the load off the machine.
        with httpx.Client(base_url=base_url, timeout=timeout, trust_env=False, follow_redirects=False,
                          verify=shared_ssl_context()) as client:
            ready.wait()
            go.wait()
            while (ticket := next_ticket()) is not None:
                body = payload(ticket) if callable(payload) else payload
                began = time.perf_counter()
                try:
                    response = client.get(path) if body is None else client.post(path, json=body)
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                    errors += 1
                    continue
                took = (time.perf_counter() - began) * 1000
                statuses[str(response.status_code)] += 1
                if 200 <= response.status_code < 300:
                    latencies.append(took)
                else:
                    errors += 1
        with lock:
            results.append((latencies, statuses, errors))

    threads = [threading.Thread(target=worker, name=f"load-{i}", daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    try:
        try:
            ready.wait(timeout=30)
        except threading.BrokenBarrierError:
            halt.set()
        clock["start"] = time.perf_counter()
        clock["deadline"] = clock["start"] + max_seconds
        go.set()
        _wait_with_progress(threads, issued, total_requests, progress)
    finally:  # an interrupt (Ctrl-C, a cell timeout) stops the workers too
        halt.set()
        go.set()
        ready.abort()
        for thread in threads:
            thread.join(timeout=timeout + 1)
    elapsed = time.perf_counter() - clock["start"]
    if failures:
        raise failures[0]
    return _summarise(results, elapsed, concurrency, total_requests)


def _wait_with_progress(threads: list[threading.Thread], issued: list[int], total: int, progress: bool) -> None:
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


def _summarise(results: list[tuple[list[float], Counter, int]], elapsed: float, concurrency: int,
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


# ---------------------------------------------------------------------------------------------- resources

SAMPLE_COLUMNS = ["t_s", "cpu_percent", "mem_percent", "proc_cpu_percent", "proc_rss_mb",
                  "net_sent_Bps", "net_recv_Bps", "disk_read_Bps", "disk_write_Bps"]
"""The columns of ResourceSampler.frame(): time since start, then one column per measurement."""


class ResourceSampler:
    """Sample system and process resource use in a background thread, as a context manager.

    Every `interval` seconds: system CPU % (all cores = 100), system memory %, CPU % (one core = 100, so up to
    100 x cores) and resident memory (MB) of the given processes and all their children, loopback network bytes
    sent/received per second (all interfaces if there is no `lo`), disk bytes read/written per second (NaN where
    the kernel does not expose them). The thread stops by itself after `max_seconds`.
    """

    def __init__(self, pids: Iterable[int] = (), interval: float = 0.2, max_seconds: float = 300.0) -> None:
        self.pids = list(pids)
        self.interval = interval
        self.max_seconds = max_seconds
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._procs: dict[int, psutil.Process] = {}

    def __enter__(self) -> ResourceSampler:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> ResourceSampler:
        """Start sampling in a daemon thread and return self."""
        if self._thread is not None:
            raise RuntimeError("this sampler has already been started")
        psutil.cpu_percent(interval=None)  # the first call only sets the reference point
        self._process_tree()
        self._start = time.perf_counter()
        self._last = (self._start, _net_counters(), _disk_counters())
        self._thread = threading.Thread(target=self._loop, name="resource-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling and wait for the thread (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        """Take one sample every interval until stopped or out of time."""
        while not self._stop.wait(self.interval):
            self.samples.append(self._sample())
            if time.perf_counter() - self._start >= self.max_seconds:
                break

    def _process_tree(self) -> list[psutil.Process]:
        """Return the watched processes and their children, reusing Process objects so CPU % has a reference."""
        tree = []
        for pid in self.pids:
            try:
                root = self._procs.get(pid) or psutil.Process(pid)
                members = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in members:
                if proc.pid not in self._procs:
                    self._procs[proc.pid] = proc
                    try:
                        proc.cpu_percent(interval=None)
                    except psutil.Error:
                        continue
                tree.append(self._procs[proc.pid])
        return tree

    def _sample(self) -> dict[str, float]:
        """Return one row of measurements, rates computed against the previous sample."""
        now, net, disk = time.perf_counter(), _net_counters(), _disk_counters()
        then, net0, disk0 = self._last
        self._last = (now, net, disk)
        dt = max(now - then, 1e-9)
        proc_cpu, rss = (math.nan, math.nan) if not self.pids else (0.0, 0.0)
        for proc in self._process_tree():
            try:
                proc_cpu += proc.cpu_percent(interval=None)
                rss += proc.memory_info().rss / 2**20
            except psutil.Error:
                continue
        return {
            "t_s": now - self._start,
            "cpu_percent": psutil.cpu_percent(interval=None),
            "mem_percent": psutil.virtual_memory().percent,
            "proc_cpu_percent": proc_cpu,
            "proc_rss_mb": rss,
            "net_sent_Bps": (net[0] - net0[0]) / dt,
            "net_recv_Bps": (net[1] - net0[1]) / dt,
            "disk_read_Bps": (disk[0] - disk0[0]) / dt,
            "disk_write_Bps": (disk[1] - disk0[1]) / dt,
        }

    def frame(self) -> pd.DataFrame:
        """Return the samples so far as a DataFrame with the SAMPLE_COLUMNS (t_s = seconds since start)."""
        return pd.DataFrame(list(self.samples), columns=SAMPLE_COLUMNS)

    def summary(self) -> pd.DataFrame:
        """Return the mean and maximum of every measurement (one row per measurement)."""
        frame = self.frame().drop(columns="t_s")
        return pd.DataFrame({"mean": frame.mean(), "max": frame.max()})


def _net_counters() -> tuple[float, float]:
    """Return (bytes sent, bytes received) on the loopback interface, or on all interfaces if there is none."""
    per_nic = psutil.net_io_counters(pernic=True)
    counters = per_nic.get("lo") or psutil.net_io_counters()
    if counters is None:
        return (math.nan, math.nan)
    return (float(counters.bytes_sent), float(counters.bytes_recv))


def _disk_counters() -> tuple[float, float]:
    """Return (bytes read, bytes written) on all disks, NaN where the kernel does not expose them."""
    try:
        counters = psutil.disk_io_counters()
    except (RuntimeError, OSError):
        counters = None
    if counters is None:
        return (math.nan, math.nan)
    return (float(counters.read_bytes), float(counters.write_bytes))



# ---------------------------------------------------------------------------------------------- scaling runs

INFRA_DIR: Path = paths.ARTIFACTS_DIR / "infrastructure"
"""Where notebook 07 leaves its measurements for notebook 08."""

LOAD_TEST_COLUMNS = ["workers", "concurrency", "requests", "errors", "rps", "p50_ms", "p95_ms", "p99_ms"]
"""The columns of load_test.csv: one row per (uvicorn workers, concurrent clients) run."""

RESOURCE_COLUMNS = [*SAMPLE_COLUMNS, "workers", "concurrency"]
"""The columns of resources.csv: the sampler's columns, then the run in progress (0 and 0 between runs)."""


def scaling_runs(servers: Mapping[int, str], concurrency_levels: Sequence[int], *, requests_per_level: int,
                 seconds_per_level: float, pids: Iterable[int] = (), interval: float = 0.1,
                 warmup_requests: int = 10, progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (load results, resource samples) of run_load at every concurrency level on every server.

    `servers` maps a uvicorn worker count to the base URL of a server started with that many workers. Each run
    is bounded by `requests_per_level` and `seconds_per_level`; a short warm-up precedes each server's runs.
    Resources are sampled throughout (see ResourceSampler; `pids` are the server processes), and every sample
    is labelled with the run in progress.
    """
    rows, windows = [], []
    with ResourceSampler(pids=pids, interval=interval, max_seconds=120) as sampler:
        for workers, url in servers.items():
            if warmup_requests:
                run_load(url, concurrency=2, total_requests=warmup_requests, max_seconds=2)
            for concurrency in concurrency_levels:
                began = time.perf_counter() - sampler._start
                result = run_load(url, concurrency=concurrency, total_requests=requests_per_level,
                                  max_seconds=seconds_per_level, progress=progress)
                windows.append((began, time.perf_counter() - sampler._start, workers, concurrency))
                rows.append({"workers": workers, "concurrency": concurrency, "requests": result.requests,
                             "errors": result.errors, "rps": result.rps, "p50_ms": result.p50_ms,
                             "p95_ms": result.p95_ms, "p99_ms": result.p99_ms})
    samples = sampler.frame()
    samples["workers"], samples["concurrency"] = 0, 0
    for began, ended, workers, concurrency in windows:
        inside = samples["t_s"].between(began, ended)
        samples.loc[inside, "workers"], samples.loc[inside, "concurrency"] = workers, concurrency
    return pd.DataFrame(rows, columns=LOAD_TEST_COLUMNS), samples[RESOURCE_COLUMNS]


def save_infrastructure_results(load: pd.DataFrame, resources: pd.DataFrame,
                                directory: Path | None = None) -> tuple[Path, Path]:
    """Write load_test.csv and resources.csv (for notebook 08) and return their paths."""
    directory = Path(directory or INFRA_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    load_path, resources_path = directory / "load_test.csv", directory / "resources.csv"
    load[LOAD_TEST_COLUMNS].to_csv(load_path, index=False, float_format="%.6g")
    resources[RESOURCE_COLUMNS].to_csv(resources_path, index=False, float_format="%.6g")
    return load_path, resources_path


def quick_infrastructure_run(directory: Path | None = None, model_dir: Path | None = None) -> tuple[Path, Path]:
    """Measure a small scaling run (1 and 2 workers, 1 and 8 clients, a few seconds) and save it; return the paths."""
    from helpers import server

    servers = [server.api_server(name="quick-w1", model_dir=model_dir),
               server.api_server(name="quick-w2", model_dir=model_dir, workers=2)]
    server.start_all(servers)
    try:
        load, resources = scaling_runs({1: servers[0].url, 2: servers[1].url}, (1, 8), requests_per_level=300,
                                       seconds_per_level=0.3, pids=[s.pid for s in servers], warmup_requests=10)
    finally:
        for srv in servers:
            srv.stop()
    return save_infrastructure_results(load, resources, directory)


def load_infrastructure_results(directory: Path | None = None, *, regenerate: bool = True,
                                model_dir: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (load_test, resources) frames saved by notebook 07, measuring a quick small run first if missing."""
    directory = Path(directory or INFRA_DIR)
    load_path, resources_path = directory / "load_test.csv", directory / "resources.csv"
    if not (load_path.exists() and resources_path.exists()):
        if not regenerate:
            raise FileNotFoundError(f"no load-test results in {paths.relative(directory)}: run notebook 07")
        quick_infrastructure_run(directory, model_dir=model_dir)
    return pd.read_csv(load_path), pd.read_csv(resources_path)
