"""helpers.rollouts.bundles: the repository layout the API reads, the broken candidate, the table, reuse without
touching the registry, and (slow) versions exported from a scratch registry answer like the registered models."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from helpers.common import paths
from helpers.packaging import METADATA_FILE, bundle_is_complete, load_model
from helpers.rollouts import bundles


def test_the_layout_is_name_then_version(tmp_path) -> None:
    assert bundles.version_dir("v1.0.1", tmp_path) == tmp_path / "course-classifier" / "1.0.1"
    assert bundles.version_dir("2.0.0", tmp_path).name == "2.0.0"
    assert bundles.REPOSITORY_DIR == paths.ARTIFACTS_DIR / "rollouts" / "repository"
    assert "v2.1.0" not in bundles.SERVED and "v2.1.0" in bundles.NOT_SERVED


@pytest.fixture(scope="module")
def filled(bundle_dir, tmp_path_factory):
    """A repository with every served version (copies of the test bundle) and the real broken candidate."""
    root = tmp_path_factory.mktemp("repository")
    for number, semver in enumerate(bundles.SERVED, start=1):
        folder = bundles.version_dir(semver, root)
        shutil.copytree(bundle_dir, folder)
        card = json.loads((folder / METADATA_FILE).read_text())
        (folder / METADATA_FILE).write_text(json.dumps({**card, "version": semver[1:],
                                                        "registry": {"version": str(number), "semver": semver}}))
    (root / "repository.json").write_text(json.dumps({"models": {"course-classifier": {"default": "1.0.1"}}}))
    bundles.build_broken(root)
    return root


def test_the_broken_candidate_is_a_bundle_that_answers_at_chance(filled) -> None:
    folder = bundles.version_dir(bundles.BROKEN, filled)
    card = json.loads((folder / METADATA_FILE).read_text())
    assert card["version"] == "1.0.2" and card["registry"] is None and card["recipe"]["shuffle_labels"] is True
    assert card["metrics"]["accuracy"] < 0.6
    assert bundle_is_complete(folder, bundles.FORMATS) and not (folder / "model.pkl").exists()
    assert not list(folder.parent.glob(".*.tmp")), "no staging folder left behind"
    assert load_model(folder).predict(np.zeros((2, 20))).shape == (2,)


def test_the_table_lists_versions_in_order_with_the_default(filled) -> None:
    table = bundles.repository_table(filled)
    assert table["version"].tolist() == ["1.0.0", "1.0.1", "1.0.2", "1.1.0", "2.0.0"]
    assert table.loc[table["default"] == "yes", "version"].tolist() == ["1.0.1"]
    assert table.set_index("version").loc["1.0.2", "registry version"] == "none"
    assert table.set_index("version").loc["1.1.0", "registry version"] == "2"


def test_a_complete_repository_is_reused_without_asking_the_registry(filled, monkeypatch) -> None:
    from helpers.mlops import course

    def refuse() -> None:
        raise AssertionError("the registry was asked although nothing was missing")

    monkeypatch.setattr(course, "ensure_course_workflow", refuse)
    before = {p: p.stat().st_mtime_ns for p in filled.rglob("*") if p.is_file()}
    assert bundles.ensure_repository(filled) == filled
    assert {p: p.stat().st_mtime_ns for p in filled.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_registered_versions_are_exported_and_answer_like_the_registry(tmp_path, isolated_tracking) -> None:
    """A scratch store with the chapter's four algorithms (a few trees each), registered as v1.0.0 ... v2.1.0."""
    import mlflow.sklearn
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.model_selection import GridSearchCV
    from xgboost import XGBClassifier

    from helpers.data import split_dataset
    from helpers.mlops import course, registry, runs, store

    def small_specs() -> list:
        rf, gb = {"n_estimators": 5, "random_state": 42}, {"n_estimators": 10, "random_state": 42}
        return [("exp_001_random_forest", RandomForestClassifier(**rf), rf),
                ("exp_002_random_forest_tuned", GridSearchCV(RandomForestClassifier(**rf), {"max_depth": [3, None]},
                                                             cv=3), {"cv": 3}),
                ("exp_003_gradient_boosting", GradientBoostingClassifier(**gb), gb),
                ("exp_004_xgboost", XGBClassifier(n_estimators=5, n_jobs=1), {"n_estimators": 5})]

    for name, folder in {"MLFLOW_DIR": "mlflow", "PIPELINE_DIR": "pipeline", "LOG_DIR": "logs"}.items():
        isolated_tracking.setattr(paths, name, tmp_path / folder)
    isolated_tracking.setattr(runs, "chapter_specs", small_specs)
    isolated_tracking.setattr(course, "ensure_course_workflow", lambda: None)
    isolated_tracking.setattr(bundles, "SERVED", ("v1.0.0", "v2.0.0"))
    store.configure(reset=True)
    runs.run_chapter_experiments()
    registry.register_chapter_versions()
    root = bundles.ensure_repository(tmp_path / "repository")
    assert json.loads((root / "repository.json").read_text()) == {"models": {"course-classifier": {"default": "1.0.0"}}}
    X = split_dataset().X_val
    for semver in ("v1.0.0", "v2.0.0"):
        card = json.loads((bundles.version_dir(semver, root) / METADATA_FILE).read_text())
        number = registry.version_of(semver)
        assert card["registry"] == {"model": "course-classifier", "version": number, "semver": semver}
        assert card["metrics"]["accuracy"] == pytest.approx(registry.accuracy_of(number), abs=1e-4)
        with store.quiet():
            model = mlflow.sklearn.load_model(f"models:/course-classifier/{number}")
        served = load_model(bundles.version_dir(semver, root)).predict_proba(X)
        assert np.abs(served - model.predict_proba(X)).max() < 1e-5, semver
