"""The API's contract: every endpoint, every bad input, auth, retraining behind a gate, metrics."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from helpers import data, serving

TOKEN = "test-token"
ROW = [float(v) for v in np.linspace(-1, 1, 20)]


@pytest.fixture(scope="module")
def client(bundle_dir):
    app = serving.create_app(bundle_dir, retrain_token=TOKEN)
    with TestClient(app) as c:
        yield c


def wait_for(client: TestClient, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/retrain/{job_id}").json()
        if job["status"] in ("accepted", "rejected", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_health_and_ready(client) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model_version"] and health["uptime_seconds"] >= 0
    assert client.get("/ready").json() == {"ready": True, "model_version": health["model_version"], "reason": None}


def test_predict_matches_the_model(client, bundle_dir) -> None:
    from helpers.packaging import load_model

    _, X_test, _, _ = data.split_dataset()
    expected = load_model(bundle_dir).predict_proba(X_test[:5])
    for row, proba in zip(X_test[:5], expected, strict=True):
        r = client.post("/predict", json={"features": row.tolist()})
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"prediction", "probabilities", "confidence", "model_version", "request_id"}
        assert body["prediction"] == int(proba.argmax())
        assert body["probabilities"]["1"] == pytest.approx(proba[1], abs=1e-6)
        assert body["confidence"] == max(body["probabilities"].values())
        assert r.headers["x-request-id"] == body["request_id"]


def test_predict_batch_answers_each_row_in_order(client) -> None:
    _, X_test, _, _ = data.split_dataset()
    r = client.post("/predict_batch", json={"rows": X_test[:50].tolist()})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 50 and len(body["predictions"]) == 50
    singles = [client.post("/predict", json={"features": X_test[i].tolist()}).json()["prediction"] for i in range(3)]
    assert [p["prediction"] for p in body["predictions"][:3]] == singles


def test_model_info_has_card_and_serving_facts(client) -> None:
    info = client.get("/model_info").json()
    assert info["model"]["name"] == "course-classifier" and len(info["model"]["features"]) == 20
    assert info["serving"]["backend"] == "onnx" and info["serving"]["retraining_enabled"] is True
    assert "monitoring_reference" not in info["model"]


BAD_PREDICT = [
    ({"features": ROW[:19]}, 422, "expected exactly 20 numbers, got 19", ["body", "features"]),
    ({"features": ROW + [1.0]}, 422, "expected exactly 20 numbers, got 21", ["body", "features"]),
    ({"features": ROW[:19] + ["1.5"]}, 422, 'expected a number, got string "1.5"', ["body", "features", 19]),
    ({"features": ROW[:19] + [True]}, 422, "expected a number, got boolean true", ["body", "features", 19]),
    ({"features": ROW[:19] + [None]}, 422, "expected a number, got null", ["body", "features", 19]),
    ({"features": ROW[:19] + [[1.0]]}, 422, "expected a number, got array", ["body", "features", 19]),
    ({"features": "1,2,3"}, 422, "expected a list of 20 numbers, got string \"1,2,3\"", ["body", "features"]),
    ({"features": ROW, "extra": 1}, 422, "unexpected field(s): extra", ["body", "extra"]),
    ({}, 422, "field required: 'features'", ["body", "features"]),
    ([ROW], 422, "expected a JSON object with the field 'features', got array", ["body"]),
]


@pytest.mark.parametrize(("payload", "status", "message", "loc"), BAD_PREDICT)
def test_bad_predict_requests_are_4xx_naming_the_field(client, payload, status, message, loc) -> None:
    r = client.post("/predict", json=payload)
    assert r.status_code == status
    assert r.json()["detail"][0]["msg"] == message and r.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize(("raw", "status", "message"), [
    (b'{"features": [NaN' + b", 1" * 19 + b"]}", 422, "expected a finite number, got nan"),
    (b'{"features": [Infinity' + b", 1" * 19 + b"]}", 422, "expected a finite number, got inf"),
    (b'{"features": [1e999' + b", 1" * 19 + b"]}", 422, "expected a finite number, got inf"),
    (b'{"features": [' + b"9" * 400 + b", 1" * 19 + b"]}", 422, "too large"),
    (b'{"features": [1, 2', 400, "malformed JSON"),
    (b"\xff\xfe", 400, "malformed JSON"),
    (b"", 400, "malformed JSON"),
])
def test_raw_bodies_never_cause_a_500(client, raw, status, message) -> None:
    r = client.post("/predict", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert message in r.json()["detail"][0]["msg"]


def test_huge_integer_is_a_422(client) -> None:
    r = client.post("/predict_batch", content=b'{"rows": [[' + b"9" * 400 + b", 1" * 19 + b"]]}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and "too large" in r.json()["detail"][0]["msg"]


def test_wrong_content_type_is_415(client) -> None:
    r = client.post("/predict", content=json.dumps({"features": ROW}), headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "application/json" in r.json()["detail"][0]["msg"]


def test_oversize_body_is_413(client) -> None:
    r = client.post("/predict_batch", content=b" " * (serving.MAX_BODY_BYTES + 10),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize(("rows", "message", "loc"), [
    ([], "expected 1 to 1,000 rows, got 0", ["body", "rows"]),
    ([ROW] * 1001, "expected 1 to 1,000 rows, got 1,001", ["body", "rows"]),
    ([ROW, ROW[:5]], "expected exactly 20 numbers, got 5", ["body", "rows", 1]),
    ([ROW, ROW[:3] + ["x"] + ROW[4:]], 'expected a number, got string "x"', ["body", "rows", 1, 3]),
    ({"a": 1}, "expected a list of rows, got object", ["body", "rows"]),
])
def test_bad_batches_name_the_row_and_column(client, rows, message, loc) -> None:
    r = client.post("/predict_batch", json={"rows": rows})
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"] == message and r.json()["detail"][0]["loc"] == loc


def test_a_full_batch_of_1000_is_accepted(client) -> None:
    r = client.post("/predict_batch", json={"rows": [ROW] * 1000})
    assert r.status_code == 200 and r.json()["count"] == 1000


def test_unknown_routes_and_methods_are_json_4xx(client) -> None:
    assert client.get("/nope").status_code == 404
    r = client.get("/predict")
    assert r.status_code == 405 and r.json()["detail"][0]["msg"]


def test_retrain_needs_a_valid_token(client) -> None:
    missing = client.post("/retrain")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "missing bearer token" in missing.json()["detail"][0]["msg"]
    wrong = client.post("/retrain", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "invalid bearer token" in wrong.json()["detail"][0]["msg"]


def test_retrain_disabled_without_a_configured_token(bundle_dir) -> None:
    with TestClient(serving.create_app(bundle_dir)) as c:
        r = c.post("/retrain", headers={"Authorization": "Bearer anything"})
        assert r.status_code == 403 and "disabled" in r.json()["detail"][0]["msg"]


def test_retrain_body_is_validated_without_echoing_nan(client) -> None:
    r = client.post("/retrain", content=b'{"n_estimators": NaN}',
                    headers={"content-type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "n_estimators"
    r = client.post("/retrain", json={"n_estimators": 0}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422


def test_gate_rejects_a_bad_candidate_and_keeps_serving(client) -> None:
    before = client.get("/model_info").json()["serving"]["version"]
    r = client.post("/retrain", json={"shuffle_labels": True, "n_estimators": 20},
                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 202
    job = wait_for(client, r.json()["job_id"])
    assert job["status"] == "rejected" and "below the gate" in job["message"]
    assert job["candidate_metrics"]["accuracy"] < job["serving_metrics"]["accuracy"] - 0.02
    assert client.get("/model_info").json()["serving"]["version"] == before


def test_second_retrain_while_one_runs_is_409_and_accepted_model_advances(client) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    before = client.get("/model_info").json()["serving"]["version"]
    first = client.post("/retrain", json={"extra_rows": 1500}, headers=headers)
    second = client.post("/retrain", headers=headers)
    assert first.status_code == 202 and second.status_code == 409
    assert first.json()["job_id"] in second.json()["detail"][0]["msg"]
    job = wait_for(client, first.json()["job_id"])
    assert job["status"] == "accepted", job["message"]
    after = client.get("/model_info").json()["serving"]
    assert after["version"] == job["new_version"] != before
    assert client.post("/predict", json={"features": ROW}).json()["model_version"] == after["version"]


def test_a_crashing_job_fails_and_leaves_the_model(client, monkeypatch) -> None:
    import helpers.retraining as retraining

    def boom(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(retraining, "split_dataset", boom)
    before = client.get("/model_info").json()["serving"]["version"]
    r = client.post("/retrain", headers={"Authorization": f"Bearer {TOKEN}"})
    job = wait_for(client, r.json()["job_id"])
    assert job["status"] == "failed" and "disk on fire" in job["message"]
    assert client.get("/model_info").json()["serving"]["version"] == before
    assert client.get("/ready").status_code == 200


def test_unknown_job_is_404(client) -> None:
    assert client.get("/retrain/does-not-exist").status_code == 404


def test_feedback_feeds_accuracy_and_metrics_expose_what_alert_rules_read(client) -> None:
    from helpers.monitoring import METRICS_READ_BY_RULES

    _, X_test, _, y_test = data.split_dataset()
    r = client.post("/predict_batch", json={"rows": X_test[:100].tolist()}).json()
    predicted = np.array([p["prediction"] for p in r["predictions"]])
    fb = client.post("/feedback", json={"request_id": r["request_id"], "labels": y_test[:100].tolist()})
    assert fb.status_code == 200 and fb.json()["accepted"] == 100
    assert client.post("/feedback", json={"request_id": r["request_id"], "labels": [1]}).status_code == 422
    assert client.post("/feedback", json={"request_id": "nope", "labels": [1]}).status_code == 404
    text = client.get("/metrics").text
    for name in METRICS_READ_BY_RULES:
        assert name in text, f"/metrics lacks {name}, which an alert rule reads"
    assert 'http_requests_total{endpoint="/predict_batch",method="POST",status="200"}' in text
    assert 'http_request_duration_seconds_bucket{endpoint="/predict",le=' in text
    assert 'model_predictions_total{predicted_class="0"}' in text
    assert 'model_info{backend="onnx",version=' in text
    assert 'model_retrain_total{outcome="rejected"}' in text
    assert 'model_feature_psi{feature="feature_19"}' in text
    accuracy_line = next(ln for ln in text.splitlines() if ln.startswith("model_accuracy "))
    assert float(accuracy_line.split()[1]) == pytest.approx(np.mean(predicted == y_test[:100]))


def test_rate_limit_answers_429_with_retry_after(bundle_dir) -> None:
    app = serving.create_app(bundle_dir, rate_limit_per_minute=60, rate_limit_burst=3)
    with TestClient(app) as c:
        codes = [c.post("/predict", json={"features": ROW}).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        limited = c.post("/predict", json={"features": ROW})
        assert int(limited.headers["retry-after"]) >= 1 and "rate limit" in limited.json()["detail"]
        assert c.get("/health").status_code == 200, "probes are never rate limited"
        other = c.post("/predict", json={"features": ROW}, headers={"X-Client-Id": "someone-else"})
        assert other.status_code == 200, "the limit is per client"


def test_tampered_bundle_refuses_to_start(bundle_dir, tmp_path) -> None:
    import shutil

    broken = tmp_path / "model"
    shutil.copytree(bundle_dir, broken)
    raw = bytearray((broken / "model.onnx").read_bytes())
    raw[100] ^= 1
    (broken / "model.onnx").write_bytes(bytes(raw))
    from helpers.packaging import IntegrityError

    with pytest.raises(IntegrityError, match="model.onnx failed its integrity check"), \
            TestClient(serving.create_app(broken)):
        pass


def test_sklearn_backend_gives_the_same_answers(bundle_dir, client) -> None:
    with TestClient(serving.create_app(bundle_dir, backend="sklearn")) as sk:
        a = sk.post("/predict", json={"features": ROW}).json()
        assert sk.get("/model_info").json()["serving"]["backend"] == "sklearn"
    with TestClient(serving.create_app(bundle_dir)) as ox:
        b = ox.post("/predict", json={"features": ROW}).json()
    assert a["prediction"] == b["prediction"]
    assert a["probabilities"]["1"] == pytest.approx(b["probabilities"]["1"], abs=1e-5)


def test_openapi_documents_bodies_and_examples(client) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["examples"]["example"]["value"]["features"].__len__() == 20
    assert "422" in spec["paths"]["/predict_batch"]["post"]["responses"]
    assert client.get("/docs").status_code == 200
