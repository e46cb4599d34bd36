"""helpers.loadtest: loopback only, bounded in count and time, honest about errors; the resource sampler's shape."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import loadtest


class _Handler(BaseHTTPRequestHandler):
    """A tiny keep-alive HTTP/1.1 server: /ok and /predict answer 200, /fail 500, /slow 200 after 50 ms."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: without this, delayed ACKs add ~40 ms

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path == "/slow":
            time.sleep(0.05)
        status = 500 if self.path == "/fail" else 200
        body = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Serve _Handler on a free loopback port in a thread; shut it down afterwards."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    assert not thread.is_alive()


@pytest.mark.parametrize("url", ["http://10.0.0.1:8000", "http://example.com", "https://8.8.8.8",
                                 "http://localhost.example.com", "http://127.0.0.1.nip.io:80", "ftp://127.0.0.1",
                                 "127.0.0.1:8000"])
def test_refuses_anything_but_loopback(url: str) -> None:
    with pytest.raises(ValueError):
        loadtest.run_load(url, concurrency=1, total_requests=1, max_seconds=1)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://127.3.2.1", "http://localhost:1", "http://[::1]:80"])
def test_accepts_loopback(url: str) -> None:
    assert loadtest.require_loopback(url)


@pytest.mark.parametrize("path", ["http://example.com/predict", "//example.com/predict", "predict"])
def test_refuses_a_path_that_leaves_the_server(path: str) -> None:
    with pytest.raises(ValueError):
        loadtest.run_load("http://127.0.0.1:8000", path, concurrency=1, total_requests=1, max_seconds=1)


def test_unbounded_or_empty_runs_are_refused() -> None:
    for bad in ({"concurrency": 0, "total_requests": 1, "max_seconds": 1},
                {"concurrency": 1, "total_requests": 0, "max_seconds": 1},
                {"concurrency": 1, "total_requests": 1, "max_seconds": 0},
                {"concurrency": 1, "total_requests": 1, "max_seconds": float("nan")}):
        with pytest.raises(ValueError):
            loadtest.run_load("http://127.0.0.1:8000", **bad)


def test_stops_at_total_requests(server: str) -> None:
    result = loadtest.run_load(server, "/predict", concurrency=4, total_requests=120, max_seconds=10)
    assert result.requests == 120 and result.errors == 0 and result.ok == 120
    assert result.status_counts == {"200": 120}
    assert result.stopped_by == "requests" and result.elapsed < 10
    assert len(result.latencies_ms) == 120
    assert 0 < result.p50_ms <= result.p95_ms <= result.p99_ms <= result.max_ms
    assert result.rps == pytest.approx(result.requests / result.elapsed)
    assert "120 requests" in str(result) and "status_counts" in result.row()


def test_stops_at_max_seconds(server: str) -> None:
    started = time.perf_counter()
    result = loadtest.run_load(server, "/slow", None, concurrency=2, total_requests=1_000_000, max_seconds=0.5)
    wall = time.perf_counter() - started
    assert result.stopped_by == "time"
    assert 0 < result.requests < 100, "50 ms per request, 2 clients, 0.5 s: about 20 requests"
    assert 0.5 <= result.elapsed < 1.2 and wall < 1.5


def test_counts_5xx_and_transport_errors(server: str) -> None:
    result = loadtest.run_load(server, "/fail", None, concurrency=2, total_requests=10, max_seconds=5)
    assert result.requests == 10 and result.errors == 10 and result.status_counts == {"500": 10}
    assert result.error_rate == 1.0 and result.latencies_ms == []

    with socket.socket() as probe:  # a port nobody listens on: connection refused at once
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    refused = loadtest.run_load(f"http://127.0.0.1:{closed}", concurrency=1, total_requests=3, max_seconds=5)
    assert refused.errors == 3 and refused.status_counts == {"ConnectError": 3}


def test_payload_function_and_progress_bar(server: str) -> None:
    seen: list[int] = []

    def payload(i: int) -> dict:
        seen.append(i)
        return {"features": [float(i)] * 20}

    result = loadtest.run_load(server, "/predict", payload, concurrency=3, total_requests=30, max_seconds=5,
                               progress=True)
    assert result.ok == 30 and sorted(seen) == list(range(30))


def test_a_failing_payload_function_is_raised_not_hidden(server: str) -> None:
    def payload(i: int) -> dict:
        raise RuntimeError("bad row")

    with pytest.raises(RuntimeError, match="bad row"):
        loadtest.run_load(server, "/predict", payload, concurrency=2, total_requests=5, max_seconds=5)


def test_resource_sampler_records_expected_columns(server: str) -> None:
    with loadtest.ResourceSampler(pids=[os.getpid()], interval=0.05) as sampler:
        loadtest.run_load(server, "/ok", None, concurrency=2, total_requests=200, max_seconds=1)
        time.sleep(0.15)
    frame = sampler.frame()
    assert list(frame.columns) == loadtest.SAMPLE_COLUMNS
    assert len(frame) >= 2 and frame["t_s"].is_monotonic_increasing
    assert (frame["proc_rss_mb"] > 10).all() and (frame["cpu_percent"] >= 0).all()
    assert frame["net_recv_Bps"].max() > 0, "the load went over loopback"
    summary = sampler.summary()
    assert list(summary.columns) == ["mean", "max"] and "proc_cpu_percent" in summary.index
    assert not sampler._thread.is_alive()
    rows = len(frame)
    time.sleep(0.15)
    assert len(sampler.frame()) == rows, "nothing is sampled after the block ends"


def test_sampler_without_pids_and_its_time_bound() -> None:
    sampler = loadtest.ResourceSampler(interval=0.02, max_seconds=0.1).start()
    time.sleep(0.3)
    assert not sampler._thread.is_alive(), "the sampler stops by itself after max_seconds"
    sampler.stop()
    sampler.stop()  # idempotent
    frame = sampler.frame()
    assert 1 <= len(frame) <= 8 and frame["proc_rss_mb"].isna().all()


def test_the_clock_starts_after_the_clients_are_built(server: str, monkeypatch) -> None:
    import httpx

    original = httpx.Client.__init__

    def slow_init(self, *args, **kwargs):
        time.sleep(0.4)  # e.g. a loaded machine building SSL contexts for many clients
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "__init__", slow_init)
    result = loadtest.run_load(server, "/ok", None, concurrency=4, total_requests=1_000_000, max_seconds=0.3)
    assert result.requests > 0 and result.stopped_by == "time"
    assert 0.3 <= result.elapsed < 0.6, "client construction is not part of the measured time"


def test_scaling_runs_label_every_sample_with_its_run(server: str) -> None:
    load, resources = loadtest.scaling_runs({1: server, 2: server}, (1, 3), requests_per_level=60,
                                            seconds_per_level=2, pids=[os.getpid()], interval=0.02,
                                            warmup_requests=5)
    assert list(load.columns) == loadtest.LOAD_TEST_COLUMNS
    assert load[["workers", "concurrency"]].values.tolist() == [[1, 1], [1, 3], [2, 1], [2, 3]]
    assert (load["requests"] == 60).all() and (load["errors"] == 0).all() and (load["rps"] > 0).all()
    assert (load["p50_ms"] <= load["p99_ms"]).all()
    assert list(resources.columns) == loadtest.RESOURCE_COLUMNS and len(resources) >= 2
    assert set(resources["workers"]) <= {0, 1, 2} and set(resources["concurrency"]) <= {0, 1, 3}


def test_results_are_saved_and_read_back_without_regenerating(tmp_path, server: str, monkeypatch) -> None:
    load, resources = loadtest.scaling_runs({1: server}, (2,), requests_per_level=20, seconds_per_level=2,
                                            interval=0.02, warmup_requests=0)
    paths = loadtest.save_infrastructure_results(load, resources, tmp_path)
    assert [p.name for p in paths] == ["load_test.csv", "resources.csv"]
    monkeypatch.setattr(loadtest, "quick_infrastructure_run", lambda *a, **k: pytest.fail("must not re-measure"))
    again, samples = loadtest.load_infrastructure_results(tmp_path)
    assert again[["workers", "concurrency", "requests", "errors"]].values.tolist() == [[1, 2, 20, 0]]
    assert list(samples.columns) == loadtest.RESOURCE_COLUMNS
    with pytest.raises(FileNotFoundError, match="run notebook 07"):
        loadtest.load_infrastructure_results(tmp_path / "empty", regenerate=False)


def test_missing_results_are_regenerated_quickly_by_real_servers(tmp_path, bundle_dir) -> None:
    started = time.perf_counter()
    load, resources = loadtest.load_infrastructure_results(tmp_path / "infra", model_dir=bundle_dir)
    assert time.perf_counter() - started < 20, "notebook 08 must stay fast when 07 has not run"
    assert sorted(set(load["workers"])) == [1, 2] and (load["errors"] == 0).all() and (load["requests"] > 0).all()
    assert len(resources) > 0 and resources["proc_rss_mb"].gt(0).all()
    assert (tmp_path / "infra" / "load_test.csv").exists() and (tmp_path / "infra" / "resources.csv").exists()


def test_the_progress_bar_honours_tqdm_disable(server: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TQDM_DISABLE", "1")
    loadtest.run_load(server, "/ok", None, concurrency=2, total_requests=20, max_seconds=5, progress=True)
    assert "load" not in capsys.readouterr().err, "run, refresh and test set TQDM_DISABLE=1: no bar, no stderr"
    monkeypatch.delenv("TQDM_DISABLE")
    loadtest.run_load(server, "/ok", None, concurrency=2, total_requests=20, max_seconds=5, progress=True)
    assert "load" in capsys.readouterr().err
