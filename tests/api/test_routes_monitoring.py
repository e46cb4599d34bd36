"""/feedback feeds the accuracy gauge; /metrics exposes everything dashboards and alert rules read."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.common.schema import FEATURES
from helpers.data import split_dataset
from helpers.monitoring.alerts import METRICS_READ_BY_RULES


def test_feedback_feeds_accuracy_and_metrics_expose_what_alert_rules_read(client) -> None:
    split = split_dataset()
    X, y = split.X_val[:100], split.y_val[:100]
    answer = client.post("/predict_batch", json={"rows": X.tolist()}).json()
    predicted = np.array([p["prediction"] for p in answer["predictions"]])
    fb = client.post("/feedback", json={"request_id": answer["request_id"], "labels": y.tolist()})
    assert fb.status_code == 200 and fb.json()["accepted"] == 100
    assert fb.json()["window_accuracy"] == pytest.approx(np.mean(predicted == y), abs=1e-6)
    client.post("/predict", json={"features": X[0].tolist()})
    client.post("/predict", json={"features": [1.0] * 19})
    text = client.get("/metrics").text
    for name in METRICS_READ_BY_RULES:
        assert name in text, f"/metrics lacks {name}, which an alert rule reads"
    assert 'http_requests_total{endpoint="/predict_batch",method="POST",status="200"} 1.0' in text
    assert 'http_requests_total{endpoint="/predict",method="POST",status="422"} 1.0' in text
    assert 'http_request_duration_seconds_bucket{endpoint="/predict",le=' in text
    assert 'model_info{backend="onnx",version="1.0.0"} 1.0' in text
    assert all(f'model_feature_psi{{feature="{f}"}}' in text for f in FEATURES)
    assert "model_monitoring_window_rows 101.0" in text
    assert "model_feedback_rows_total 100.0" in text
    accuracy_line = next(ln for ln in text.splitlines() if ln.startswith("model_accuracy "))
    assert float(accuracy_line.split()[1]) == pytest.approx(np.mean(predicted == y))
    assert "_created" not in text


def test_predictions_are_counted_per_class(client) -> None:
    def counts() -> dict[str, float]:
        lines = [ln for ln in client.get("/metrics").text.splitlines() if ln.startswith("model_predictions_total")]
        return {ln.split('"')[1]: float(ln.split()[-1]) for ln in lines}

    before = counts()
    answer = client.post("/predict_batch", json={"rows": split_dataset().X_val[:40].tolist()}).json()
    ones = sum(p["prediction"] for p in answer["predictions"])
    after = counts()
    assert after.get("1", 0) - before.get("1", 0) == ones
    assert after.get("0", 0) - before.get("0", 0) == 40 - ones


@pytest.mark.parametrize(("payload", "status", "field"), [
    ({"request_id": "nope", "labels": [1]}, 404, "request_id"),
    ({"request_id": "x", "labels": [2]}, 422, 0),
    ({"request_id": "x", "labels": [True]}, 422, 0),
    ({"request_id": "x", "labels": []}, 422, "labels"),
    ({"request_id": "", "labels": [1]}, 422, "request_id"),
    ({"request_id": "x", "labels": [1], "extra": 1}, 422, "extra"),
    ({"labels": [1]}, 422, "request_id"),
])
def test_bad_feedback_is_a_4xx_naming_the_field(client, payload, status, field) -> None:
    r = client.post("/feedback", json=payload)
    assert r.status_code == status, r.text
    assert r.json()["detail"][0]["loc"][-1] == field


def test_feedback_with_the_wrong_number_of_labels_is_422(client) -> None:
    answer = client.post("/predict_batch", json={"rows": split_dataset().X_val[:3].tolist()}).json()
    r = client.post("/feedback", json={"request_id": answer["request_id"], "labels": [1]})
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == "expected 3 label(s) for that request, got 1"


@pytest.mark.parametrize(("raw", "content_type", "status"), [
    (b'{"request_id": NaN, "labels": [1]}', "application/json", 422),
    (b"not json", "application/json", 400),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400),
    (b'{"request_id": "x", "labels": [1]}', "text/plain", 415),
])
def test_feedback_bodies_follow_the_same_contract(client, raw, content_type, status) -> None:
    r = client.post("/feedback", content=raw, headers={"content-type": content_type})
    assert r.status_code == status and r.json()["detail"][0]["msg"]
