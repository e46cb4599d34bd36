"""Fixtures for helpers.mlops: a scratch state folder per test module, a small chapter; never the repo's artifacts/."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers.common import paths
from helpers.mlops import store

# Nothing heavy at import time: the pipeline's quick test run collects tests/mlops/test_security.py, and with it
# this file; scikit-learn, XGBoost and MLflow load in the fixtures that need them.

ARTIFACT_FOLDERS = {"MLFLOW_DIR": "mlflow", "PIPELINE_DIR": "pipeline", "PRODUCTION_DIR": "production",
                    "LOG_DIR": "logs"}


def small_specs() -> list:
    """The chapter's four algorithms with few trees: the code paths of the notebook, in about a second."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.model_selection import GridSearchCV
    from xgboost import XGBClassifier

    rf = {"n_estimators": 5, "random_state": 42}
    search = {"search": "GridSearchCV", "cv": 3, "candidates": 2, "n_estimators": 5}
    gb = {"n_estimators": 10, "random_state": 42}
    xgb = {"n_estimators": 10, "max_depth": 3, "n_jobs": 1, "random_state": 42}
    return [
        ("exp_001_random_forest", RandomForestClassifier(**rf), rf),
        ("exp_002_random_forest_tuned",
         GridSearchCV(RandomForestClassifier(n_estimators=5, random_state=42), {"min_samples_leaf": [1, 3]}, cv=3),
         search),
        ("exp_003_gradient_boosting", GradientBoostingClassifier(**gb), gb),
        ("exp_004_xgboost", XGBClassifier(**xgb), xgb),
    ]


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    """Return a migrated empty MLflow database, made once per test session (the migrations cost about a second)."""
    local = store.local_store(tmp_path_factory.mktemp("template"))
    assert local.template is not None
    store.make_template(local)
    return local.template


@pytest.fixture(scope="module")
def mlops_state(tmp_path_factory, isolated_tracking, mlflow_template) -> SimpleNamespace:
    """Point the store, pipeline, production and log folders at a scratch state folder; return them, configured.

    Child processes (the pipeline's test run, the staging API) get the same folder through COURSE_STATE_DIR.
    """
    root = tmp_path_factory.mktemp("state")
    for name, folder in ARTIFACT_FOLDERS.items():
        isolated_tracking.setattr(paths, name, root / "artifacts" / folder)
    isolated_tracking.setenv("COURSE_STATE_DIR", str(root))
    isolated_tracking.setattr(paths, "CACHE_DIR", root / "cache")
    local = store.local_store()
    assert local.template is not None
    local.template.parent.mkdir(parents=True)
    shutil.copy(mlflow_template, local.template)
    uri = store.configure(reset=True)
    return SimpleNamespace(root=root, uri=uri, store=local, mp=isolated_tracking,
                           **{name.lower(): getattr(paths, name) for name in ARTIFACT_FOLDERS})


@pytest.fixture(scope="module")
def chapter(mlops_state) -> SimpleNamespace:
    """The chapter's four experiments (small models) logged and registered as v1.0.0 … v2.1.0 in a scratch store."""
    from helpers.data import split_dataset
    from helpers.mlops import registry, runs

    mlops_state.mp.setattr(runs, "chapter_specs", small_specs)
    comparison = runs.run_chapter_experiments()
    table = registry.register_chapter_versions()

    return SimpleNamespace(state=mlops_state, comparison=comparison, registry=table, split=split_dataset())
