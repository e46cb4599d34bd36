"""The API's state: settings from the environment, loading a bundle for a backend, the one-assignment swap."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers.api.state import ApiSettings, ApiState, load_serving_model
from helpers.common import paths
from helpers.common.schema import FEATURES, GATE_MARGIN
from helpers.packaging import IntegrityError


def test_settings_default_and_from_the_environment(monkeypatch) -> None:
    for name in ("MODEL_DIR", "MODEL_BACKEND", "RETRAIN_TOKEN", "RATE_LIMIT_PER_MINUTE", "RATE_LIMIT_BURST",
                 "RETRAIN_GATE_MARGIN", "RETRAIN_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert ApiSettings.from_env() == ApiSettings()
    assert ApiSettings().gate_margin == GATE_MARGIN
    monkeypatch.setenv("MODEL_DIR", "/m")
    monkeypatch.setenv("MODEL_BACKEND", "sklearn")
    monkeypatch.setenv("RETRAIN_TOKEN", "t")
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "120")
    monkeypatch.setenv("RATE_LIMIT_BURST", "4")
    monkeypatch.setenv("RETRAIN_GATE_MARGIN", "0.05")
    monkeypatch.setenv("RETRAIN_DIR", "/r")
    assert ApiSettings.from_env() == ApiSettings(Path("/m"), "sklearn", "t", 120.0, 4, 0.05, Path("/r"))
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "0")
    monkeypatch.setenv("RETRAIN_TOKEN", "")
    assert ApiSettings.from_env().rate_limit_per_minute is None, "0 switches the limit off"
    assert ApiSettings.from_env().retrain_token is None, "an empty token disables retraining"


def test_state_folders_default_to_the_course_paths(tmp_path) -> None:
    state = ApiState(ApiSettings())
    assert state.model_dir == paths.MODEL_DIR and state.retrain_dir == paths.RETRAINED_DIR
    state = ApiState(ApiSettings(model_dir=tmp_path / "m", retrain_dir=tmp_path / "r"))
    assert state.model_dir == tmp_path / "m" and state.retrain_dir == tmp_path / "r"


def test_a_loaded_model_is_warm_and_carries_its_card_and_drift_reference(bundle_dir) -> None:
    model = load_serving_model(bundle_dir, "onnx")
    assert model.version == "1.0.0" and model.backend == "onnx" and model.directory == bundle_dir
    assert sorted(model.reference) == sorted(FEATURES)
    proba = model.proba(np.zeros((3, 20)))
    assert proba.shape == (3, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'"):
        load_serving_model(bundle_dir, "tensorflow")


def test_install_swaps_the_whole_model_and_updates_the_metrics(bundle_dir) -> None:
    state = ApiState(ApiSettings())
    assert state.model is None and state.not_ready_reason == "the model is loading"
    assert math.isnan(state.metrics.accuracy._value.get())  # noqa: SLF001 - prometheus_client has no getter
    model = load_serving_model(bundle_dir, "sklearn")
    state.install(model)
    assert state.model is model and state.not_ready_reason is None
    registry = state.metrics.registry
    assert registry.get_sample_value("model_info", {"version": "1.0.0", "backend": "sklearn"}) == 1
    assert registry.get_sample_value("model_baseline_accuracy") == model.card["metrics"]["accuracy"]


def test_a_tampered_bundle_does_not_load(bundle_dir, tmp_path) -> None:
    broken = tmp_path / "model"
    shutil.copytree(bundle_dir, broken)
    raw = bytearray((broken / "model.onnx").read_bytes())
    raw[100] ^= 1
    (broken / "model.onnx").write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="model.onnx failed its integrity check"):
        load_serving_model(broken, "onnx")
