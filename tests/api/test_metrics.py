"""The API's Prometheus metrics, the per-client token bucket, and the middleware that answers 429."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from helpers.api import metrics as m
from helpers.api.app import create_app

ROW = [0.1] * 20


def sample(api: m.ApiMetrics, name: str, labels: dict[str, str] | None = None) -> float | None:
    return api.registry.get_sample_value(name, labels or {})


def test_requests_are_counted_and_timed_by_route() -> None:
    api = m.ApiMetrics()
    api.observe_request("/predict", "POST", "200", 0.0003)
    api.observe_request("/predict", "POST", "200", 0.004)
    api.observe_request("/predict", "POST", "422", 0.0001)
    assert sample(api, "http_requests_total", {"endpoint": "/predict", "method": "POST", "status": "200"}) == 2
    assert sample(api, "http_request_duration_seconds_bucket", {"endpoint": "/predict", "le": "0.0005"}) == 2
    assert sample(api, "http_request_duration_seconds_count", {"endpoint": "/predict"}) == 3


def test_the_latency_baseline_is_the_p95_of_the_first_successful_predictions() -> None:
    api = m.ApiMetrics()
    assert math.isnan(sample(api, "model_baseline_p95_seconds"))
    for i in range(m.BASELINE_REQUESTS):
        api.observe_request("/predict", "POST", "200", (i + 1) / 1000)
        api.observe_request("/predict", "POST", "422", 9.0)  # errors do not count
    assert sample(api, "model_baseline_p95_seconds") == pytest.approx(0.95)
    api.observe_request("/predict", "POST", "200", 100.0)
    assert sample(api, "model_baseline_p95_seconds") == pytest.approx(0.95), "fixed once measured"


def test_predictions_per_class_and_the_model_series() -> None:
    api = m.ApiMetrics()
    api.count_predictions([1, 0, 1, 1])
    api.count_predictions([0])
    assert sample(api, "model_predictions_total", {"predicted_class": "1"}) == 3
    assert sample(api, "model_predictions_total", {"predicted_class": "0"}) == 2
    api.set_model("1.0.0", "onnx", 0.88)
    api.set_model("1.0.1", "onnx", 0.9)
    assert sample(api, "model_info", {"version": "1.0.1", "backend": "onnx"}) == 1
    assert sample(api, "model_info", {"version": "1.0.0", "backend": "onnx"}) is None
    assert sample(api, "model_baseline_accuracy") == 0.9
    assert b"_created" not in generate_latest(api.registry)


def test_token_bucket_allows_a_burst_then_says_how_long_to_wait(monkeypatch) -> None:
    now = [100.0]
    monkeypatch.setattr(m.time, "monotonic", lambda: now[0])
    bucket = m.TokenBucket(rate_per_minute=60, burst=3)
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == pytest.approx(1.0)
    assert bucket.take("b") == 0.0, "buckets are per client"
    now[0] += 0.5
    assert bucket.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert bucket.take("a") == 0.0, "one token per second comes back"
    now[0] += 3600
    assert [bucket.take("a") for _ in range(4)][-1] > 0, "refills up to the burst size, not beyond"
    assert m.TokenBucket(600).capacity == 100, "default burst: ten seconds of the rate"


def test_client_key_prefers_the_client_id_header() -> None:
    assert m.client_key({"headers": [(b"x-client-id", b"team-a")], "client": ("1.2.3.4", 5)}) == "id:team-a"
    assert m.client_key({"headers": [], "client": ("1.2.3.4", 5)}) == "ip:1.2.3.4"
    assert m.client_key({"headers": []}) == "ip:unknown"


def test_rate_limit_answers_429_with_retry_after(bundle_dir) -> None:
    app = create_app(model_dir=bundle_dir, rate_limit_per_minute=60, rate_limit_burst=3)
    with TestClient(app) as c:
        codes = [c.post("/predict", json={"features": ROW}).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        limited = c.post("/predict", json={"features": ROW})
        assert int(limited.headers["retry-after"]) >= 1 and "rate limit" in limited.json()["detail"]
        assert limited.headers["content-type"] == "application/json"
        assert all(c.get(p).status_code == 200 for p in ("/health", "/ready", "/metrics")), "probes are never limited"
        other = c.post("/predict", json={"features": ROW}, headers={"X-Client-Id": "someone-else"})
        assert other.status_code == 200, "the limit is per client"
        text = c.get("/metrics").text
        assert 'http_requests_total{endpoint="rate_limited",method="POST",status="429"} 3.0' in text
        info = c.get("/model_info", headers={"X-Client-Id": "reader"}).json()
        assert info["serving"]["rate_limit_per_minute"] == 60


def test_unlimited_by_default(client) -> None:
    assert all(client.post("/predict", json={"features": ROW}).status_code == 200 for _ in range(30))
