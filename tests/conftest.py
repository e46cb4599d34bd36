"""Shared fixtures: a model bundle in a temporary folder (built once per session) and an isolated MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory) -> Path:
    """Return a folder holding a complete bundle of the reference forest (never the real artifacts/)."""
    from helpers import model, packaging

    directory = tmp_path_factory.mktemp("serving") / "model"
    forest = model.ensure_reference_model()
    record = model.load_reference_record()
    packaging.save_model_bundle(forest, record["validation"], directory, extra={"test_metrics": record["test"]})
    return directory


@pytest.fixture(scope="module")
def isolated_tracking(tmp_path_factory):
    """Yield a MonkeyPatch with no MLflow URI in the environment; MLflow and helpers.mlops.store are reset after."""
    import mlflow

    from helpers.mlops import store

    saved_active = store._active  # noqa: SLF001 - the fixture restores the module's state it changed
    with pytest.MonkeyPatch.context() as mp:
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            mp.delenv(name, raising=False)
        yield mp
    mlflow.set_tracking_uri(None)
    store._active = saved_active  # noqa: SLF001
