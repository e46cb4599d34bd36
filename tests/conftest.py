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
