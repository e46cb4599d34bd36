"""The assembled app: settings by keyword, every error answered as JSON, start-up stops on a tampered bundle."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from helpers.api.app import create_app, create_app_from_env
from helpers.api.state import ApiSettings
from helpers.packaging import IntegrityError


def test_settings_can_be_given_whole_or_changed_by_keyword(bundle_dir, tmp_path) -> None:
    app = create_app(ApiSettings(model_dir=bundle_dir, backend="sklearn"), retrain_token="t")
    settings = app.state.api.settings
    assert (settings.model_dir, settings.backend, settings.retrain_token) == (bundle_dir, "sklearn", "t")
    with pytest.raises(TypeError):
        create_app(no_such_setting=1)


def test_the_app_from_the_environment(bundle_dir, monkeypatch) -> None:
    monkeypatch.setenv("MODEL_DIR", str(bundle_dir))
    monkeypatch.setenv("RETRAIN_TOKEN", "env-token")
    with TestClient(create_app_from_env()) as c:
        assert c.get("/model_info").json()["serving"]["retraining_enabled"] is True


def test_unknown_routes_methods_and_crashes_are_json(bundle_dir) -> None:
    app = create_app(model_dir=bundle_dir)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        missing = c.get("/nope")
        assert missing.status_code == 404 and missing.json()["detail"][0]["msg"] == "Not Found"
        wrong = c.get("/predict")
        assert wrong.status_code == 405 and wrong.json()["detail"][0]["msg"] == "Method Not Allowed"
        crash = c.get("/boom")
        assert crash.status_code == 500 and "secret internals" not in crash.text
        assert crash.json()["detail"][0]["msg"] == "internal error (see the server log)"


def test_a_tampered_bundle_stops_start_up(bundle_dir, tmp_path) -> None:
    broken = tmp_path / "model"
    shutil.copytree(bundle_dir, broken)
    raw = bytearray((broken / "model.onnx").read_bytes())
    raw[100] ^= 1
    (broken / "model.onnx").write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="model.onnx failed its integrity check"), \
            TestClient(create_app(model_dir=broken)):
        pass


def test_only_a_server_that_may_retrain_preloads_the_training_stack(bundle_dir, monkeypatch) -> None:
    import threading

    import helpers.api.app as app_module

    calls = threading.Event()
    monkeypatch.setattr(app_module, "preload_training", calls.set)
    with TestClient(create_app(model_dir=bundle_dir)):
        pass
    assert not calls.is_set(), "no token, no retraining: the server stays lean"
    with TestClient(create_app(model_dir=bundle_dir, retrain_token="t")):
        assert calls.wait(10)


def test_preload_training_imports_what_a_job_needs() -> None:
    import sys

    from helpers.api.app import preload_training

    preload_training()
    assert {"helpers.api.retraining", "skl2onnx", "sklearn.ensemble"} <= set(sys.modules)
