"""helpers.infra.resources: the sampler's shape and bounds, the servers' own disk I/O, the scaling runs and their
files (saved, read back without re-measuring, measured quickly by real servers when missing)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers.infra import loadtest, resources

WRITER = """
import os, sys
sys.stdin.readline()
with open(sys.argv[1], "wb") as f:
    f.write(os.urandom(8 << 20))
    f.flush()
    os.fsync(f.fileno())
print("written", flush=True)
sys.stdin.readline()
"""


def total_bytes(frame, column: str) -> float:
    """Return the bytes behind a per-second column: each rate times the time since the previous sample, rounded
    to whole bytes (rate x time in floats lands a fraction of a byte off: 8 MiB came back as 8388607.999...)."""
    dt = np.diff(frame["t_s"].to_numpy(), prepend=0.0)
    return float(round((frame[column] * dt).sum()))


def test_resource_sampler_records_expected_columns(server: str) -> None:
    with resources.ResourceSampler(pids=[os.getpid()], interval=0.05) as sampler:
        loadtest.run_load(server, "/ok", None, concurrency=2, total_requests=200, max_seconds=1)
        time.sleep(0.15)
    frame = sampler.frame()
    assert list(frame.columns) == resources.SAMPLE_COLUMNS
    assert len(frame) >= 2 and frame["t_s"].is_monotonic_increasing
    assert (frame["proc_rss_mb"] > 10).all() and (frame["cpu_percent"] >= 0).all()
    assert frame["proc_cpu_percent"].max() > 0, "this process sent the load"
    assert frame["net_recv_Bps"].max() > 0, "the load went over loopback"
    summary = sampler.summary()
    assert list(summary.columns) == ["mean", "max"] and "proc_cpu_percent" in summary.index
    assert not sampler.thread.is_alive()
    rows = len(frame)
    time.sleep(0.15)
    assert len(sampler.frame()) == rows, "nothing is sampled after the block ends"
    with pytest.raises(RuntimeError):
        sampler.start()


def test_the_first_sample_is_a_real_measurement() -> None:
    with resources.ResourceSampler(interval=0.05) as sampler:
        began = time.perf_counter()
        while time.perf_counter() - began < 0.2:  # keep one core busy
            pass
    assert sampler.frame()["cpu_percent"].iloc[0] > 0, "psutil keeps one reference point per thread"


def test_sampler_without_pids_and_its_time_bound() -> None:
    sampler = resources.ResourceSampler(interval=0.02, max_seconds=0.1).start()
    time.sleep(0.3)
    assert not sampler.thread.is_alive(), "the sampler stops by itself after max_seconds"
    sampler.stop()
    sampler.stop()  # idempotent
    frame = sampler.frame()
    assert 1 <= len(frame) <= 8
    assert frame[["proc_cpu_percent", "proc_rss_mb", "disk_read_Bps", "disk_write_Bps"]].isna().all().all()


def test_disk_columns_count_only_the_watched_processes(tmp_path) -> None:
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "child.bin")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        with resources.ResourceSampler(pids=[child.pid], interval=0.05) as sampler:
            time.sleep(0.1)  # the sampler knows the child before it writes
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline() == "written\n"
            with open(tmp_path / "parent.bin", "wb") as handle:  # not watched: must not be counted
                handle.write(os.urandom(16 << 20))
                handle.flush()
                os.fsync(handle.fileno())
            time.sleep(0.15)
    finally:
        child.communicate("done\n", timeout=10)
    written = total_bytes(sampler.frame(), "disk_write_Bps")
    assert (8 << 20) <= written < (12 << 20), f"{written / 2**20:.1f} MB: the child's 8 MB, not the parent's 16 MB"


def test_scaling_runs_label_every_sample_with_its_run(server: str) -> None:
    load, samples = resources.scaling_runs({1: server, 2: server}, (1, 3), requests_per_level=60,
                                           seconds_per_level=2, pids=[os.getpid()], interval=0.02,
                                           warmup_requests=5)
    assert list(load.columns) == resources.LOAD_TEST_COLUMNS
    assert load[["workers", "concurrency"]].values.tolist() == [[1, 1], [1, 3], [2, 1], [2, 3]]
    assert (load["requests"] == 60).all() and (load["errors"] == 0).all() and (load["rps"] > 0).all()
    assert (load["p50_ms"] <= load["p99_ms"]).all()
    assert list(samples.columns) == resources.RESOURCE_COLUMNS and len(samples) >= 2
    assert set(samples["workers"]) <= {0, 1, 2} and set(samples["concurrency"]) <= {0, 1, 3}
    assert (samples["workers"] > 0).any(), "samples taken during a run carry its labels"


def test_results_are_saved_and_read_back_without_regenerating(tmp_path, server: str, monkeypatch) -> None:
    load, samples = resources.scaling_runs({1: server}, (2,), requests_per_level=20, seconds_per_level=2,
                                           interval=0.02, warmup_requests=0)
    saved = resources.save_infrastructure_results(load, samples, tmp_path)
    assert [p.name for p in saved] == ["load_test.csv", "resources.csv"]
    monkeypatch.setattr(resources, "quick_infrastructure_run", lambda *a, **k: pytest.fail("must not re-measure"))
    for again, table in (resources.load_infrastructure_results(tmp_path),
                         resources.ensure_infrastructure_results(tmp_path)):
        assert again[["workers", "concurrency", "requests", "errors"]].values.tolist() == [[1, 2, 20, 0]]
        assert list(table.columns) == resources.RESOURCE_COLUMNS
    with pytest.raises(FileNotFoundError, match="run notebook 07"):
        resources.load_infrastructure_results(tmp_path / "empty")


@pytest.mark.slow
def test_missing_results_are_measured_quickly_by_real_servers(tmp_path, bundle_dir) -> None:
    started = time.perf_counter()
    load, samples = resources.ensure_infrastructure_results(tmp_path / "infra", model_dir=bundle_dir)
    assert time.perf_counter() - started < 60, "notebook 08 must stay fast when 07 has not run"
    assert samples["t_s"].max() < 5, "four runs of at most 0.3 s each, and two short warm-ups"
    assert sorted(set(load["workers"])) == [1, 2] and (load["errors"] == 0).all() and (load["requests"] > 0).all()
    assert len(samples) > 0 and samples["proc_rss_mb"].gt(0).all()
    assert (tmp_path / "infra" / "load_test.csv").exists() and (tmp_path / "infra" / "resources.csv").exists()
