"""Retraining behind the one release gate: the course's story (1,000 backlog rows -> v1.0.1, shuffled labels
rejected), and a job that crashes leaves the serving model as it was."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from helpers.api import retraining
from helpers.common.release import release_gate
from helpers.common.schema import GATE_MARGIN
from helpers.data import split_dataset
from helpers.model import Recipe
from helpers.packaging import load_model


def serving_version(client: TestClient) -> str:
    return client.get("/model_info").json()["serving"]["version"]


def test_a_request_maps_to_the_recipe_05_uses() -> None:
    request = {"n_estimators": None, "max_depth": None, "extra_rows": 1000, "shuffle_labels": False}
    assert retraining.recipe_of(request) == Recipe(extra_rows=1000)
    changed = retraining.recipe_of({**request, "n_estimators": 20, "max_depth": 3, "shuffle_labels": True})
    assert changed == Recipe(params={"n_estimators": 20, "max_depth": 3}, extra_rows=1000, shuffle_labels=True)


def test_shuffled_labels_are_rejected_and_the_model_keeps_serving(client, auth, wait_for) -> None:
    before = serving_version(client)
    r = client.post("/retrain", json={"extra_rows": 1000, "shuffle_labels": True}, headers=auth)
    assert r.status_code == 202
    job = wait_for(client, r.json()["job_id"])
    assert job["status"] == "rejected" and "below the gate" in job["message"]
    assert f"v{before} keeps serving" in job["message"]
    assert job["candidate_metrics"]["accuracy"] < job["serving_metrics"]["accuracy"] - GATE_MARGIN
    assert "new_version" not in job or job["new_version"] is None
    assert serving_version(client) == before


@pytest.mark.parametrize("where", ["split_dataset", "save_model_bundle"])
def test_a_crashing_job_fails_and_leaves_the_model(client, auth, wait_for, monkeypatch, where) -> None:
    def boom(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(retraining, where, boom)
    before = client.post("/predict", json={"features": [0.5] * 20}).json()
    r = client.post("/retrain", headers=auth)  # no body: the reference recipe as it is, which passes the gate
    job = wait_for(client, r.json()["job_id"])
    assert job["status"] == "failed" and "disk on fire" in job["message"] and "unchanged" in job["message"]
    after = client.post("/predict", json={"features": [0.5] * 20}).json()
    assert after["model_version"] == before["model_version"] and after["probabilities"] == before["probabilities"]
    assert client.get("/ready").status_code == 200
    assert 'model_retrain_total{outcome="failed"}' in client.get("/metrics").text
    monkeypatch.undo()
    again = client.post("/retrain", json={"n_estimators": 5, "shuffle_labels": True}, headers=auth)
    assert again.status_code == 202, "a crashed job released the lock"
    wait_for(client, again.json()["job_id"])


def test_1000_backlog_rows_are_accepted_as_v1_0_1_gated_on_validation(client, auth, wait_for, bundle_dir) -> None:
    split = split_dataset()
    assert len(split.y_val) == 400
    r = client.post("/retrain", json={"extra_rows": 1000}, headers=auth)
    job = wait_for(client, r.json()["job_id"])
    assert job["status"] == "accepted", job["message"]
    assert (job["previous_version"], job["new_version"]) == ("1.0.0", "1.0.1")
    serving = load_model(bundle_dir)
    assert job["serving_metrics"]["accuracy"] == pytest.approx(float(np.mean(serving.predict(split.X_val) ==
                                                                              split.y_val)))
    gate = release_gate(job["candidate_metrics"]["accuracy"], job["serving_metrics"]["accuracy"])
    assert gate.passed and gate.reason in job["message"]

    info = client.get("/model_info").json()
    assert info["serving"]["version"] == "1.0.1" and info["serving"]["bundle"] == "v1.0.1"
    card = info["model"]
    assert card["recipe"] == Recipe(extra_rows=1000).describe()
    assert card["metrics"] == job["candidate_metrics"] and card["metrics_on"] == "validation"
    assert card["training_data"]["rows"] == 2000, "1,000 training rows plus 1,000 backlog rows"
    written = load_model(client.app.state.api.retrain_dir / "v1.0.1")
    accuracy = float(np.mean(written.predict(split.X_val) == split.y_val))
    assert accuracy == pytest.approx(job["candidate_metrics"]["accuracy"])
    assert client.post("/predict", json={"features": [0.5] * 20}).json()["model_version"] == "1.0.1"
    assert json.loads((client.app.state.api.retrain_dir / "v1.0.1" / "metadata.json").read_text())["version"] == \
        "1.0.1"
    metrics = client.get("/metrics").text
    assert 'model_info{backend="onnx",version="1.0.1"} 1.0' in metrics
    assert 'version="1.0.0"' not in metrics, "the old model's info series is gone"
