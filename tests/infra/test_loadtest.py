"""helpers.infra.loadtest: loopback only, bounded in count and time, honest about errors, clock after set-up."""

from __future__ import annotations

import math
import socket
import time

import pytest

from helpers.infra import loadtest


@pytest.mark.parametrize("url", ["http://10.0.0.1:8000", "http://example.com", "https://8.8.8.8",
                                 "http://localhost.example.com", "http://127.0.0.1.nip.io:80", "ftp://127.0.0.1",
                                 "127.0.0.1:8000"])
def test_refuses_anything_but_loopback(url: str) -> None:
    with pytest.raises(ValueError):
        loadtest.run_load(url, concurrency=1, total_requests=1, max_seconds=1)


@pytest.mark.parametrize("path", ["http://example.com/predict", "//example.com/predict", "predict"])
def test_refuses_a_path_that_leaves_the_server(path: str) -> None:
    with pytest.raises(ValueError):
        loadtest.run_load("http://127.0.0.1:8000", path, concurrency=1, total_requests=1, max_seconds=1)


def test_unbounded_or_empty_runs_are_refused() -> None:
    for bad in ({"concurrency": 0, "total_requests": 1, "max_seconds": 1},
                {"concurrency": 1, "total_requests": 0, "max_seconds": 1},
                {"concurrency": 1, "total_requests": 1, "max_seconds": 0},
                {"concurrency": 1, "total_requests": 1, "max_seconds": float("nan")},
                {"concurrency": 1, "total_requests": 1, "max_seconds": 1, "timeout": 0}):
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


def test_a_timeout_is_an_error_and_independent_of_the_run_length(server: str) -> None:
    late = loadtest.run_load(server, "/slow", None, concurrency=1, total_requests=2, max_seconds=5, timeout=0.01)
    assert (late.errors, late.status_counts) == (2, {"ReadTimeout": 2})
    short = loadtest.run_load(server, "/slow", None, concurrency=1, total_requests=1, max_seconds=0.02)
    assert (short.errors, short.ok) == (0, 1), "an answer after the deadline still counts: 50 ms is not an error"


def test_concurrency_is_capped_and_a_run_without_success_has_no_percentiles(server: str) -> None:
    result = loadtest.run_load(server, "/fail", None, concurrency=8, total_requests=3, max_seconds=5)
    assert result.concurrency == 3, "never more clients than requests"
    assert math.isnan(result.p50_ms) and math.isnan(result.max_ms) and result.ok == 0
    row = result.row()
    assert row["status_counts"] == "500: 3" and "latencies_ms" not in row and row["errors"] == 3


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


def test_the_progress_bar_honours_tqdm_disable(server: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TQDM_DISABLE", "1")
    loadtest.run_load(server, "/ok", None, concurrency=2, total_requests=20, max_seconds=5, progress=True)
    assert "load" not in capsys.readouterr().err, "run, refresh and test set TQDM_DISABLE=1: no bar, no stderr"
    monkeypatch.delenv("TQDM_DISABLE")
    loadtest.run_load(server, "/ok", None, concurrency=2, total_requests=20, max_seconds=5, progress=True)
    assert "load" in capsys.readouterr().err
