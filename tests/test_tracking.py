"""helpers.tracking: a deterministic local MLflow store, quiet logging, a registry with a gate and a rollback."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.model_selection import GridSearchCV
from xgboost import XGBClassifier

from helpers import data, paths, tracking

CHAPTER_SPECS = tracking._chapter_specs  # the real ones; the module's store trains small versions of them


def _small_specs() -> list:
    """The chapter's four algorithms with few trees: the same code paths as the notebook, in a second."""
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


def _snapshot() -> dict:
    """Return what must be identical after a reset and a rerun: ids, names, versions, metrics, lifecycle."""
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(tracking.EXPERIMENT)
    runs = mlflow.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    table = tracking.registry_table()
    return {
        "experiments": sorted((e.experiment_id, e.name) for e in client.search_experiments()),
        "runs": list(runs["tags.mlflow.runName"]),
        "metrics": runs[["metrics.accuracy", "metrics.f1", "metrics.roc_auc"]].round(10).values.tolist(),
        "registry": table.to_dict("records"),
    }


@pytest.fixture(scope="module")
def chapter(tmp_path_factory, isolated_tracking):
    """One store for the module: the chapter's experiments and five registered versions, in a temp folder."""
    isolated_tracking.setattr(tracking, "_chapter_specs", _small_specs)
    directory = tmp_path_factory.mktemp("store")
    started = time.perf_counter()
    uri = tracking.configure(reset=True, directory=directory)
    first_configure = time.perf_counter() - started
    comparison = tracking.run_chapter_experiments()
    registry = tracking.register_chapter_versions()
    snapshot = _snapshot()
    X_train, X_test, y_train, y_test = data.split_dataset()
    return SimpleNamespace(directory=directory, uri=uri, comparison=comparison, registry=registry,
                           X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test,
                           first_configure=first_configure, snapshot=snapshot)


def test_store_lives_in_the_given_folder_never_the_cwd(chapter) -> None:
    assert chapter.uri == f"sqlite:///{(chapter.directory / 'mlflow.db').as_posix()}"
    assert mlflow.get_tracking_uri() == chapter.uri == mlflow.get_registry_uri()
    assert (chapter.directory / tracking.TEMPLATE_FILE).exists()
    assert any((chapter.directory / "mlruns").rglob("MLmodel")), "model files belong under the store's mlruns/"
    for experiment in mlflow.MlflowClient().search_experiments():  # never ./mlruns relative to the cwd
        assert experiment.artifact_location.startswith((chapter.directory / "mlruns").as_uri())


def test_default_store_is_artifacts_unless_the_environment_names_one(monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(paths.ROOT / "notebooks")
    store = tracking.resolve_store()
    assert store.local and store.db == (paths.ARTIFACTS_DIR / "mlflow.db").resolve()
    assert store.artifacts == (paths.ARTIFACTS_DIR / "mlruns").resolve()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert tracking.resolve_store() == tracking.Store(uri="http://tracking.example:5000", local=False)


def test_chapter_specs_match_the_chapter() -> None:
    specs = {name: (model, params) for name, model, params in CHAPTER_SPECS()}
    assert list(specs) == tracking.CHAPTER_RUNS
    forest = specs["exp_001_random_forest"][0]
    assert (forest.n_estimators, forest.random_state) == (100, 42)
    search = specs["exp_002_random_forest_tuned"][0]
    n_candidates = int(np.prod([len(v) for v in search.param_grid.values()]))
    assert search.cv == 3 and 4 <= n_candidates <= 6
    assert isinstance(specs["exp_003_gradient_boosting"][0], GradientBoostingClassifier)
    booster = specs["exp_004_xgboost"][0]
    assert booster.n_jobs == 1 and booster.random_state == 42
    for model, params in specs.values():  # what is logged is what is trained
        estimator = model.estimator if isinstance(model, GridSearchCV) else model
        assert all(estimator.get_params()[k] == v for k, v in params.items() if k in estimator.get_params())


def test_runs_log_params_metrics_and_models_and_search_runs_returns_them(chapter) -> None:
    table = chapter.comparison
    assert list(table.columns) == ["run_name", "algorithm", "accuracy", "f1", "roc_auc", "train_seconds"]
    assert sorted(table["run_name"]) == tracking.CHAPTER_RUNS
    assert table["accuracy"].is_monotonic_decreasing
    assert table[["accuracy", "f1", "roc_auc"]].gt(0.6).all().all() and table["train_seconds"].gt(0).all()
    runs = mlflow.search_runs(experiment_names=[tracking.EXPERIMENT], filter_string="tags.kind = 'experiment'")
    forest = runs[runs["tags.mlflow.runName"] == "exp_001_random_forest"].iloc[0]
    assert forest["params.n_estimators"] == "5" and forest["tags.algorithm"] == "RandomForestClassifier"
    tuned = runs[runs["tags.mlflow.runName"] == "exp_002_random_forest_tuned"].iloc[0]
    assert tuned["params.best_min_samples_leaf"] in {"1", "3"} and 0 < tuned["metrics.cv_accuracy"] <= 1
    run = mlflow.get_run(forest["run_id"])
    model_id = run.outputs.model_outputs[0].model_id
    info = mlflow.models.get_model_info(f"models:/{model_id}")
    assert info.signature is not None and info.saved_input_example_info is not None
    assert info.flavors["sklearn"]["serialization_format"] == "pickle"
    assert info.flavors["python_function"]["predict_fn"] == "predict_proba"
    booster = runs[runs["tags.mlflow.runName"] == "exp_004_xgboost"].iloc[0]
    booster_id = mlflow.get_run(booster["run_id"]).outputs.model_outputs[0].model_id
    assert "xgboost" in mlflow.models.get_model_info(f"models:/{booster_id}").flavors


def test_registry_holds_five_real_versions_with_semver_metrics_and_a_lifecycle(chapter) -> None:
    table = chapter.registry
    assert list(table.columns) == ["version", "semver", "algorithm", "accuracy", "aliases", "status"]
    assert table["version"].tolist() == [1, 2, 3, 4, 5]
    assert table["semver"].tolist() == ["v1.0.0", "v1.1.0", "v1.2.0", "v2.0.0", "v2.1.0"]
    assert table["algorithm"].tolist()[3:] == ["GradientBoostingClassifier", "XGBClassifier"]
    assert table["accuracy"].nunique() >= 3, "five different models should not all score the same"
    by_name = chapter.comparison.set_index("run_name")["accuracy"].round(4)
    assert table.loc[1, "accuracy"] == by_name["exp_001_random_forest"]
    assert table.loc[4, "accuracy"] == by_name["exp_004_xgboost"]
    client = mlflow.MlflowClient()
    first = client.get_model_version(tracking.REGISTERED_MODEL, "1")
    assert "first half" in first.description and "Test accuracy" in first.description
    assert mlflow.get_run(first.run_id).data.tags["train_rows"] == str(len(chapter.y_train) // 2)
    production = set(table.loc[table["aliases"].str.contains("production"), "version"])
    assert production <= {1, 2} and len(production) == 1
    assert table.loc[table["version"] == 4, "aliases"].item() == "staging"
    expected_status = table["aliases"].map(
        lambda a: "Production" if "production" in a else "Staging" if "staging" in a else "Development")
    assert table["status"].tolist() == expected_status.tolist()


def test_set_alias_moves_an_alias_and_the_status_tags_follow(chapter) -> None:
    tracking.set_alias("staging", 4)
    assert tracking.set_alias("staging", 3) == "4"
    table = tracking.registry_table().set_index("version")
    assert table.loc[3, "aliases"] == "staging" and table.loc[3, "status"] == "Staging"
    assert table.loc[4, "aliases"] == "" and table.loc[4, "status"] == "Development"
    assert set(table["status"]) <= set(tracking.STATUSES)
    with pytest.raises(tracking.TrackingError, match="course-classifier.*no version '99'"):
        tracking.set_alias("staging", "99")


def _lowest_and_highest() -> tuple[int, int]:
    """Return the chapter versions (1..5) with the lowest and the highest test accuracy."""
    table = tracking.registry_table().set_index("version").loc[[1, 2, 3, 4, 5]]
    return int(table["accuracy"].idxmin()), int(table["accuracy"].idxmax())


def test_promote_refuses_a_model_trained_on_shuffled_labels(chapter) -> None:
    rng = np.random.default_rng(0)
    bad = tracking.log_experiment_run("shuffled_labels", RandomForestClassifier(n_estimators=5, random_state=42),
                                      {"n_estimators": 5}, chapter.X_train, rng.permutation(chapter.y_train),
                                      chapter.X_test, chapter.y_test, tags={"kind": "test"})
    version = tracking.register_model(bad, "v0.0.1-shuffled")
    tracking.set_alias("production", 2)
    result = tracking.promote(version)
    assert not result.promoted and result.production_before == "2"
    assert "below the gate's minimum 0.8000" in result.reason and result.accuracy < 0.65
    assert f"version {version} (v0.0.1-shuffled) refused" in str(result)
    table = tracking.registry_table().set_index("version")
    assert table.loc[2, "aliases"] == "production" and table.loc[int(version), "status"] == "Development"
    assert tracking.promote(2).reason == "it is already in production"


def test_promote_refuses_a_worse_model_and_accepts_a_better_one(chapter) -> None:
    low, high = _lowest_and_highest()
    tracking.set_alias("production", high)
    worse = tracking.promote(low, min_accuracy=0.0)
    assert not worse.promoted and f"worse than production version {high}" in worse.reason
    tracking.set_alias("production", low)
    better = tracking.promote(high, min_accuracy=0.0)
    assert better.promoted and better.production_before == str(low)
    table = tracking.registry_table().set_index("version")
    assert "production" in table.loc[high, "aliases"] and table.loc[high, "status"] == "Production"
    assert "staging" not in table.loc[high, "aliases"], "a promoted version leaves staging"
    rm = mlflow.MlflowClient().get_registered_model(tracking.REGISTERED_MODEL)
    assert rm.tags["previous_production"] == str(low)


def test_rollback_moves_production_back_and_predictions_follow(chapter) -> None:
    tracking.set_alias("production", 1)
    before = tracking.load_alias("production").predict(chapter.X_test)
    assert before.shape == (len(chapter.y_test), 2) and np.allclose(before.sum(axis=1), 1.0)
    tracking.set_alias("production", 4)
    after = tracking.load_alias("production").predict(chapter.X_test)
    assert not np.allclose(before, after), "a different model must predict differently"
    assert tracking.rollback() == "1"
    np.testing.assert_allclose(tracking.load_alias("production").predict(chapter.X_test), before)
    table = tracking.registry_table().set_index("version")
    assert table.loc[1, "status"] == "Production" and table.loc[4, "status"] == "Development"


def test_rollback_without_history_is_a_clear_error(chapter) -> None:
    tracking._write_history([])
    with pytest.raises(tracking.TrackingError, match="course-classifier.*no previous production version"):
        tracking.rollback()


def test_missing_alias_names_model_and_alias(chapter) -> None:
    with pytest.raises(tracking.TrackingError, match=r"'course-classifier' has no alias 'champion'"):
        tracking.load_alias("champion")


def test_ui_command_serves_the_local_store_on_loopback(tmp_path) -> None:
    command = tracking.ui_command(5123, directory=tmp_path)
    assert Path(command[0]).parent == Path(sys.executable).parent and command[1] == "ui"
    options = dict(zip(command[2::2], command[3::2], strict=True))
    assert options["--backend-store-uri"] == f"sqlite:///{(tmp_path / 'mlflow.db').resolve().as_posix()}"
    assert options["--default-artifact-root"] == (tmp_path / "mlruns").resolve().as_uri()
    assert (options["--host"], options["--port"]) == ("127.0.0.1", "5123")


def test_ui_refuses_a_remote_store(monkeypatch, capsys) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    assert tracking.main(["ui", "--port", "5123"]) == 2
    assert "open that server's own UI" in capsys.readouterr().err


def test_unreachable_tracking_uri_fails_fast_with_the_uri(monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    started = time.perf_counter()
    with pytest.raises(tracking.TrackingError, match=r"http://127\.0\.0\.1:9 is not reachable"):
        tracking.configure()
    assert time.perf_counter() - started < 10


def test_reset_of_a_remote_store_is_refused(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    with pytest.raises(tracking.TrackingError, match="refusing to reset http://127.0.0.1:9"):
        tracking.configure(reset=True)
    with pytest.raises(tracking.TrackingError, match="is never wiped"):
        tracking.configure(reset=True, uri="https://user:secret@mlflow.example.com")


def test_logging_and_loading_models_prints_nothing(chapter, capfd) -> None:
    capfd.readouterr()
    for model in (RandomForestClassifier(n_estimators=5, random_state=42),
                  XGBClassifier(n_estimators=5, n_jobs=1, random_state=42)):
        result = tracking.log_experiment_run("quiet", model, {}, chapter.X_train, chapter.y_train, chapter.X_test,
                                             chapter.y_test, tags={"kind": "test"})
        tracking.register_model(result, "v0.0.2-quiet", "checks that logging is silent")
    tracking.load_alias("production").predict(chapter.X_test[:3])
    out, err = capfd.readouterr()
    assert err == "" and out == ""


def test_reset_is_deterministic_and_reuses_the_template(chapter, monkeypatch) -> None:
    template = chapter.directory / tracking.TEMPLATE_FILE
    stamp = template.stat().st_mtime_ns

    def no_migrations(store) -> None:
        raise AssertionError("reset ran the migrations again instead of copying the template")

    monkeypatch.setattr(tracking, "_migrate_template", no_migrations)
    monkeypatch.setattr(tracking, "_chapter_specs", _small_specs)
    tracking.configure(reset=True, directory=chapter.directory)
    client = mlflow.MlflowClient()
    assert [e.name for e in client.search_experiments()] == ["Default"]
    assert client.search_registered_models() == []
    assert not any((chapter.directory / "mlruns").iterdir())
    tracking.run_chapter_experiments()
    tracking.register_chapter_versions()
    after = _snapshot()
    assert after == chapter.snapshot
    assert after["experiments"] == [("0", "Default"), ("1", tracking.EXPERIMENT)]
    assert template.stat().st_mtime_ns == stamp
