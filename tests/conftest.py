"""Shared fixtures: a model bundle in a temporary folder, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory) -> Path:
    """Return a folder holding a complete model bundle of the reference model (never the real artifacts/)."""
    from helpers import model, packaging

    directory = tmp_path_factory.mktemp("serving") / "model"
    packaging.save_model_bundle(model.load_reference_model(), model.load_reference_metrics(), directory)
    return directory


@pytest.fixture(scope="module")
def isolated_tracking():
    """Yield a MonkeyPatch with no MLflow URI in the environment; MLflow and helpers.tracking are reset after."""
    import mlflow

    from helpers import tracking

    saved_active = tracking._active
    with pytest.MonkeyPatch.context() as mp:
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            mp.delenv(name, raising=False)
        yield mp
    mlflow.set_tracking_uri(None)
    tracking._active = saved_active
