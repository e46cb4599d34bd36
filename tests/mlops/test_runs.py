"""helpers.mlops.runs: runs log params, metrics (on validation), tags and a loadable model; compare_runs ranks them."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import mlflow
import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.model_selection import GridSearchCV
from xgboost import XGBClassifier

from helpers.mlops import registry, runs, store
from helpers.model import REFERENCE_PARAMS, evaluate

CHAPTER_SPECS = runs.chapter_specs  # the real ones: the `chapter` fixture swaps in small models for this module


def test_the_chapter_specs_match_the_chapter() -> None:
    specs = {name: (model, params) for name, model, params in CHAPTER_SPECS()}
    assert tuple(specs) == runs.CHAPTER_RUNS
    forest = specs["exp_001_random_forest"][0]
    assert {k: forest.get_params()[k] for k in REFERENCE_PARAMS} == REFERENCE_PARAMS, "exp_001 is v1.0.0's recipe"
    search = specs["exp_002_random_forest_tuned"][0]
    n_candidates = int(np.prod([len(v) for v in search.param_grid.values()]))
    assert isinstance(search, GridSearchCV) and search.cv == 3 and n_candidates == 4
    assert isinstance(specs["exp_003_gradient_boosting"][0], GradientBoostingClassifier)
    booster = specs["exp_004_xgboost"][0]
    assert booster.n_jobs == 1 and booster.random_state == 42, "one thread: the same sums on every CPU"
    for model, params in specs.values():  # what is logged is what is trained
        estimator = model.estimator if isinstance(model, GridSearchCV) else model
        assert all(estimator.get_params()[k] == v for k, v in params.items() if k in estimator.get_params())


def test_runs_log_params_metrics_tags_and_the_model(chapter) -> None:
    found = mlflow.search_runs(experiment_names=[store.EXPERIMENT], filter_string="tags.kind = 'experiment'")
    by_name = found.set_index("tags.mlflow.runName")
    assert sorted(by_name.index) == sorted(runs.CHAPTER_RUNS)
    forest = by_name.loc["exp_001_random_forest"]
    assert forest["params.n_estimators"] == "5" and forest["tags.algorithm"] == "RandomForestClassifier"
    assert (forest["tags.evaluated_on"], forest["tags.train_rows"], forest["tags.validation_rows"]) == (
        "validation", str(len(chapter.split.y_train)), str(len(chapter.split.y_val)))
    assert all(0.5 < forest[f"metrics.{m}"] <= 1 for m in ("accuracy", "precision", "recall", "f1", "roc_auc"))
    assert forest["metrics.train_seconds"] > 0
    tuned = by_name.loc["exp_002_random_forest_tuned"]
    assert tuned["params.best_min_samples_leaf"] in {"1", "3"} and 0 < tuned["metrics.cv_accuracy"] <= 1
    info = mlflow.models.get_model_info(runs.logged_run("exp_001_random_forest").model_uri)
    assert info.signature is not None and info.saved_input_example_info is not None
    assert info.flavors["sklearn"]["serialization_format"] == "pickle"
    assert info.flavors["python_function"]["predict_fn"] == "predict_proba"
    booster = mlflow.models.get_model_info(runs.logged_run("exp_004_xgboost").model_uri)
    assert "xgboost" in booster.flavors


def test_models_are_logged_with_pinned_requirements(chapter) -> None:
    requirements = mlflow.pyfunc.get_model_dependencies(runs.logged_run("exp_004_xgboost").model_uri)
    pins = Path(requirements).read_text().split()
    assert f"scikit-learn=={metadata.version('scikit-learn')}" in pins
    assert any(p.startswith(("xgboost==", "xgboost-cpu==")) for p in pins), "the booster's own library is pinned"


def test_metrics_are_the_logged_models_scores_on_the_validation_rows(chapter) -> None:
    run = runs.logged_run("exp_003_gradient_boosting")
    model = mlflow.sklearn.load_model(run.model_uri)
    expected = evaluate(model, chapter.split.X_val, chapter.split.y_val)
    assert {k: run.metrics[k] for k in expected} == pytest.approx(expected, abs=1e-12)


def test_compare_runs_ranks_by_accuracy_then_auc_then_name(mlops_state) -> None:
    experiment = "ties"
    logged = [("c", 0.85, 0.92), ("a", 0.85, 0.90), ("d", 0.86, 0.80), ("b", 0.85, 0.92), ("p", 0.99, 0.99)]
    for name, accuracy, auc in logged:
        kind = "pipeline" if name == "p" else "experiment"  # only experiments are compared
        with store.quiet(), mlflow.start_run(experiment_id=store.experiment_id(experiment), run_name=name):
            mlflow.set_tags({"kind": kind, "algorithm": "Toy"})
            mlflow.log_metrics({"accuracy": accuracy, "roc_auc": auc, "f1": 0.5, "train_seconds": 0.1})
    table = runs.compare_runs(experiment)
    assert table["run_name"].tolist() == ["d", "b", "c", "a"]
    assert list(table.columns) == ["run_name", "algorithm", "accuracy", "f1", "roc_auc", "train_seconds"]
    empty = runs.compare_runs("no-runs-here")
    assert empty.empty and list(empty.columns) == list(table.columns)


def test_logged_run_finds_the_latest_finished_run_or_none(chapter) -> None:
    found = runs.logged_run("exp_001_random_forest")
    assert found.algorithm == "RandomForestClassifier" and found.model_uri.startswith("models:/")
    assert found.metrics["accuracy"] == pytest.approx(
        chapter.comparison.set_index("run_name").loc["exp_001_random_forest", "accuracy"])
    assert runs.logged_run("exp_999_missing") is None
    assert runs.logged_run("exp_001_random_forest", experiment="no-such-experiment") is None


def test_logging_registering_and_loading_print_nothing(chapter, capfd) -> None:
    capfd.readouterr()
    split = chapter.split
    for model in (RandomForestClassifier(n_estimators=5, random_state=42),
                  XGBClassifier(n_estimators=5, n_jobs=1, random_state=42)):
        result = runs.log_experiment_run("quiet", model, {}, split.X_train, split.y_train, split.X_val, split.y_val,
                                         tags={"kind": "test"})
        registry.register_model(result, "v0.0.2-quiet", "checks that logging is silent")
    registry.load_alias("production").predict(split.X_val[:3])
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
