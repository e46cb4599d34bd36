"""Liveness and readiness: /health answers while the process runs, /ready only once the model is loaded."""

from __future__ import annotations

from fastapi.testclient import TestClient

from helpers.api.app import create_app


def test_health_and_ready_once_loaded(client) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model_version"] == "1.0.0" and health["uptime_seconds"] >= 0
    assert client.get("/ready").json() == {"ready": True, "model_version": "1.0.0", "reason": None}


def test_before_the_model_loads_ready_is_503_and_predict_too(bundle_dir) -> None:
    app = create_app(model_dir=bundle_dir)
    c = TestClient(app)  # not entered: the lifespan that loads the model has not run
    assert c.get("/health").status_code == 200, "alive while loading: no restart"
    ready = c.get("/ready")
    assert ready.status_code == 503
    assert ready.json() == {"ready": False, "model_version": None, "reason": "the model is loading"}
    r = c.post("/predict", json={"features": [0.0] * 20})
    assert r.status_code == 503 and r.json()["detail"][0]["type"] == "not_ready"
    assert c.get("/model_info").status_code == 503
    with c:
        assert c.get("/ready").status_code == 200
