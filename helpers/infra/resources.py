"""Resource use sampled in the background (CPU, memory, network, the servers' disk I/O), and the scaling runs
notebook 08 reads."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd
import psutil

from helpers.common import paths
from helpers.infra.loadtest import run_load

SAMPLE_COLUMNS = ["t_s", "cpu_percent", "mem_percent", "proc_cpu_percent", "proc_rss_mb",
                  "net_sent_Bps", "net_recv_Bps", "disk_read_Bps", "disk_write_Bps"]
"""The columns of ResourceSampler.frame(): time since start, then one column per measurement."""


class ResourceSampler:
    """Sample system and process resource use in a background thread, as a context manager.

    Every `interval` seconds: system CPU % (all cores = 100), system memory %, and for the given processes and
    all their children: CPU % (one core = 100, so up to 100 x cores), resident memory (MB) and the bytes they
    read from and wrote to disk per second (their own I/O only: the machine's total would mix in every other
    program's writes). Also loopback network bytes sent/received per second (all interfaces if there is no
    `lo`). Process columns are NaN without `pids`, disk columns NaN where the OS does not count per-process I/O.
    The thread stops by itself after `max_seconds`.
    """

    def __init__(self, pids: Iterable[int] = (), interval: float = 0.2, max_seconds: float = 300.0) -> None:
        self.pids = list(pids)
        self.interval = interval
        self.max_seconds = max_seconds
        self.samples: list[dict[str, float]] = []
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.procs: dict[int, psutil.Process] = {}
        self.io: dict[int, tuple[float, float]] = {}
        self.started = self.last = 0.0
        self.last_net = (math.nan, math.nan)

    def __enter__(self) -> ResourceSampler:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> ResourceSampler:
        """Start sampling in a daemon thread and return self."""
        if self.thread is not None:
            raise RuntimeError("this sampler has already been started")
        self.process_tree()
        self.started = self.last = time.perf_counter()
        self.last_net = net_counters()
        self.thread = threading.Thread(target=self.loop, name="resource-sampler", daemon=True)
        self.thread.start()
        return self

    def elapsed(self) -> float:
        """Return the seconds since sampling started (the t_s of a sample taken now)."""
        return time.perf_counter() - self.started

    def stop(self) -> None:
        """Stop sampling and wait for the thread (idempotent)."""
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def loop(self) -> None:
        """Take one sample every interval until stopped or out of time."""
        psutil.cpu_percent(interval=None)  # sets this thread's reference point (psutil keeps one per thread)
        while not self.stopped.wait(self.interval):
            self.samples.append(self.sample())
            if self.elapsed() >= self.max_seconds:
                break

    def process_tree(self) -> list[psutil.Process]:
        """Return the watched processes and their children; a newcomer gets its CPU and I/O reference points."""
        tree = []
        for pid in self.pids:
            try:
                root = self.procs.get(pid) or psutil.Process(pid)
                members = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in members:
                if proc.pid not in self.procs:
                    try:
                        proc.cpu_percent(interval=None)
                        self.io[proc.pid] = disk_bytes(proc)
                    except psutil.Error:
                        continue
                    self.procs[proc.pid] = proc
                tree.append(self.procs[proc.pid])
        return tree

    def sample(self) -> dict[str, float]:
        """Return one row of measurements, rates computed against the previous sample."""
        now, net = time.perf_counter(), net_counters()
        dt, net0 = max(now - self.last, 1e-9), self.last_net
        self.last, self.last_net = now, net
        cpu = rss = read = written = math.nan if not self.pids else 0.0
        for proc in self.process_tree():
            try:
                cpu += proc.cpu_percent(interval=None)
                rss += proc.memory_info().rss / 2**20
                before, self.io[proc.pid] = self.io[proc.pid], disk_bytes(proc)
            except psutil.Error:
                continue
            read += self.io[proc.pid][0] - before[0]
            written += self.io[proc.pid][1] - before[1]
        return {"t_s": now - self.started, "cpu_percent": psutil.cpu_percent(interval=None),
                "mem_percent": psutil.virtual_memory().percent, "proc_cpu_percent": cpu, "proc_rss_mb": rss,
                "net_sent_Bps": (net[0] - net0[0]) / dt, "net_recv_Bps": (net[1] - net0[1]) / dt,
                "disk_read_Bps": read / dt, "disk_write_Bps": written / dt}

    def frame(self) -> pd.DataFrame:
        """Return the samples so far as a DataFrame with the SAMPLE_COLUMNS (t_s = seconds since start)."""
        return pd.DataFrame(list(self.samples), columns=SAMPLE_COLUMNS)

    def summary(self) -> pd.DataFrame:
        """Return the mean and maximum of every measurement (one row per measurement)."""
        frame = self.frame().drop(columns="t_s")
        return pd.DataFrame({"mean": frame.mean(), "max": frame.max()})


def net_counters() -> tuple[float, float]:
    """Return (bytes sent, bytes received) on the loopback interface, or on all interfaces if there is none."""
    per_nic = psutil.net_io_counters(pernic=True)
    counters = per_nic.get("lo") or psutil.net_io_counters()
    if counters is None:
        return (math.nan, math.nan)
    return (float(counters.bytes_sent), float(counters.bytes_recv))


def disk_bytes(proc: psutil.Process) -> tuple[float, float]:
    """Return (bytes read from, bytes written to) storage by one process, NaN where the OS does not count them."""
    if not hasattr(proc, "io_counters"):  # macOS
        return (math.nan, math.nan)
    counters = proc.io_counters()
    return (float(counters.read_bytes), float(counters.write_bytes))


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
                began = sampler.elapsed()
                result = run_load(url, concurrency=concurrency, total_requests=requests_per_level,
                                  max_seconds=seconds_per_level, progress=progress)
                windows.append((began, sampler.elapsed(), workers, concurrency))
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
    directory = Path(directory or paths.INFRA_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    load_path, resources_path = directory / "load_test.csv", directory / "resources.csv"
    load[LOAD_TEST_COLUMNS].to_csv(load_path, index=False, float_format="%.6g")
    resources[RESOURCE_COLUMNS].to_csv(resources_path, index=False, float_format="%.6g")
    return load_path, resources_path


def quick_infrastructure_run(directory: Path | None = None, model_dir: Path | None = None) -> tuple[Path, Path]:
    """Measure a small scaling run (1 and 2 workers, 1 and 8 clients, a few seconds) and save it; return the paths.

    The servers serve `model_dir`, by default the production bundle (notebook 05 installs it; built if missing).
    """
    from helpers.api.launch import api_server
    from helpers.common.processes import start_all

    if model_dir is None:
        from helpers.mlops.deploy import ensure_production_bundle

        model_dir = ensure_production_bundle()
    servers = start_all([api_server(name="quick-w1", model_dir=model_dir),
                         api_server(name="quick-w2", model_dir=model_dir, workers=2)])
    try:
        load, resources = scaling_runs({1: servers[0].url, 2: servers[1].url}, (1, 8), requests_per_level=300,
                                       seconds_per_level=0.3, pids=[s.pid for s in servers], warmup_requests=10)
    finally:
        for srv in servers:
            srv.stop()
    return save_infrastructure_results(load, resources, directory)


def load_infrastructure_results(directory: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the (load_test, resources) frames notebook 07 saved; FileNotFoundError says how to create them."""
    directory = Path(directory or paths.INFRA_DIR)
    load_path, resources_path = directory / "load_test.csv", directory / "resources.csv"
    if not (load_path.is_file() and resources_path.is_file()):
        raise FileNotFoundError(f"no load-test results in {paths.relative(directory)}: run notebook 07 or call "
                                "helpers.infra.resources.ensure_infrastructure_results()")
    return pd.read_csv(load_path), pd.read_csv(resources_path)


def ensure_infrastructure_results(directory: Path | None = None,
                                  model_dir: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the saved load-test results, measuring a quick small run first (two servers) if they are missing."""
    try:
        return load_infrastructure_results(directory)
    except FileNotFoundError:
        quick_infrastructure_run(directory, model_dir)
        return load_infrastructure_results(directory)
