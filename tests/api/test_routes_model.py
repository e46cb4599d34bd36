"""/model_info, and /retrain's door: the token, the body, one job at a time, unknown jobs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from helpers.api.app import create_app


def test_model_info_has_the_card_and_serving_facts(client) -> None:
    info = client.get("/model_info").json()
    assert info["model"]["name"] == "course-classifier" and len(info["model"]["features"]) == 20
    assert info["model"]["metrics_on"] == "validation" and "test_metrics" in info["model"]
    assert "monitoring_reference" not in info["model"], "the bins are for the server, not the reader"
    assert info["serving"]["backend"] == "onnx" and info["serving"]["retraining_enabled"] is True
    assert info["serving"]["version"] == "1.0.0" and info["serving"]["bundle"] == "model"


def test_retrain_needs_a_valid_token(client) -> None:
    missing = client.post("/retrain")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "missing bearer token" in missing.json()["detail"][0]["msg"]
    wrong = client.post("/retrain", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "invalid bearer token" in wrong.json()["detail"][0]["msg"]
    basic = client.post("/retrain", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401


def test_retrain_is_403_without_a_configured_token(bundle_dir) -> None:
    with TestClient(create_app(model_dir=bundle_dir)) as c:
        r = c.post("/retrain", headers={"Authorization": "Bearer anything"})
        assert r.status_code == 403 and "disabled" in r.json()["detail"][0]["msg"]
        assert c.get("/model_info").json()["serving"]["retraining_enabled"] is False


@pytest.mark.parametrize(("raw", "content_type", "status", "field"), [
    (b'{"n_estimators": NaN}', "application/json", 422, "n_estimators"),
    (b'{"n_estimators": 0}', "application/json", 422, "n_estimators"),
    (b'{"n_estimators": true}', "application/json", 422, "n_estimators"),
    (b'{"extra_rows": 1.5}', "application/json", 422, "extra_rows"),
    (b'{"extra_rows": 2001}', "application/json", 422, "extra_rows"),
    (b'{"shuffle_labels": "yes"}', "application/json", 422, "shuffle_labels"),
    (b'{"trees": 5}', "application/json", 422, "trees"),
    (b'{"extra_rows": ', "application/json", 400, "body"),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400, "body"),
    (b'{"extra_rows": 10}', "text/plain", 415, "content-type"),
])
def test_the_retrain_body_is_checked_after_the_token(client, auth, raw, content_type, status, field) -> None:
    r = client.post("/retrain", content=raw, headers={**auth, "content-type": content_type})
    assert r.status_code == status, r.text
    assert r.json()["detail"][0]["loc"][-1] == field
    assert client.post("/retrain", content=raw, headers={"content-type": content_type}).status_code == 401


def test_a_second_retrain_while_one_runs_is_409(client, auth, wait_for) -> None:
    first = client.post("/retrain", json={"n_estimators": 5, "shuffle_labels": True}, headers=auth)
    second = client.post("/retrain", headers=auth)
    assert first.status_code == 202 and second.status_code == 409
    assert first.json()["job_id"] in second.json()["detail"][0]["msg"]
    assert first.json()["status_url"] == f"/retrain/{first.json()['job_id']}"
    assert wait_for(client, first.json()["job_id"])["status"] == "rejected"
    third = client.post("/retrain", json={"n_estimators": 5, "shuffle_labels": True}, headers=auth)
    assert third.status_code == 202, "the lock is released when a job ends"
    wait_for(client, third.json()["job_id"])


def test_an_unknown_job_is_404(client) -> None:
    r = client.get("/retrain/does-not-exist")
    assert r.status_code == 404 and r.json()["detail"][0]["loc"] == ["path", "job_id"]


def test_openapi_documents_bodies_errors_and_examples(client) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert len(body["examples"]["example"]["value"]["features"]) == 20
    assert spec["paths"]["/retrain"]["post"]["requestBody"]["required"] is False
    assert "extra_rows" in spec["paths"]["/retrain"]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["properties"]
    assert {"400", "413", "415", "422", "429"} <= set(spec["paths"]["/predict_batch"]["post"]["responses"])
    assert {"401", "403", "409"} <= set(spec["paths"]["/retrain"]["post"]["responses"])
    assert client.get("/docs").status_code == 200
