"""helpers.mlops.deploy: the production bundle, installed atomically, exported from the registry, rebuilt if missing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pytest

from helpers.mlops import course, deploy, registry, store
from helpers.packaging import METADATA_FILE, SERVING_FORMATS, bundle_is_complete, load_model


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


def test_install_is_atomic_and_writes_the_registry_field(bundle_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "production"
    deploy.install_production_bundle(bundle_dir, "3", target)
    (target / "stale-file").write_text("from the previous release")
    assert deploy.install_production_bundle(bundle_dir, "7", target) == target
    card = deploy.production_card(target)
    assert card["registry"] == {"model": store.REGISTERED_MODEL, "version": "7", "alias": "production"}
    assert not (target / "stale-file").exists(), "an install replaces the whole folder"
    assert bundle_is_complete(target, SERVING_FORMATS) and leftovers(target) == []
    assert "registry" not in json.loads((bundle_dir / METADATA_FILE).read_text()), "the source bundle is untouched"


def test_a_broken_bundle_never_replaces_the_installed_one(bundle_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "production"
    deploy.install_production_bundle(bundle_dir, "3", target)
    broken = tmp_path / "broken"
    shutil.copytree(bundle_dir, broken)
    (broken / METADATA_FILE).unlink()
    with pytest.raises(FileNotFoundError):
        deploy.install_production_bundle(broken, "4", target)
    assert deploy.production_card(target)["registry"]["version"] == "3" and leftovers(target) == []


def test_a_missing_card_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="ensure_production_bundle"):
        deploy.production_card(tmp_path / "nothing")


def test_export_production_writes_the_production_version_as_a_serving_bundle(chapter, tmp_path: Path) -> None:
    registry.set_alias("production", registry.version_of("v1.1.0"))
    target = deploy.export_production(tmp_path / "production")
    card = deploy.production_card(target)
    assert bundle_is_complete(target, SERVING_FORMATS)
    assert card["version"] == "1.1.0" and card["registry"]["version"] == registry.version_of("v1.1.0")
    assert card["metrics"]["accuracy"] == pytest.approx(registry.accuracy_of(registry.version_of("v1.1.0")), abs=5e-5)
    X = chapter.split.X_val
    registered = mlflow.sklearn.load_model(f"models:/{store.REGISTERED_MODEL}@production")
    np.testing.assert_array_equal(load_model(target, "joblib").predict(X), registered.predict(X))


def test_export_without_a_servable_production_version_is_a_clear_error(chapter, tmp_path: Path) -> None:
    current = registry.alias_version("production")
    registry.delete_alias("production")
    try:
        with pytest.raises(store.TrackingError, match="no production version to export"):
            deploy.export_production(tmp_path / "production")
        registry.set_alias("production", registry.version_of("v2.1.0"))
        with pytest.raises(store.TrackingError, match=r"version 4 \(v2.1.0\) is not a scikit-learn model"):
            deploy.export_production(tmp_path / "production")
    finally:
        registry.set_alias("production", current)
    assert not (tmp_path / "production").exists()


def test_ensure_production_bundle_replays_the_workflow_only_when_missing(chapter, tmp_path: Path,
                                                                       monkeypatch) -> None:
    replays = []
    monkeypatch.setattr(course, "ensure_course_workflow", lambda: replays.append("replayed"))
    target = tmp_path / "production"
    assert deploy.ensure_production_bundle(target) == target
    assert replays == ["replayed"] and bundle_is_complete(target, SERVING_FORMATS)
    assert deploy.ensure_production_bundle(target) == target
    assert replays == ["replayed"], "a complete bundle is served as it is"
