"""Experiment tracking: train, evaluate on the validation rows, and log params, metrics, tags and the model."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from helpers.common.schema import SEED
from helpers.data import split_dataset
from helpers.mlops import store
from helpers.model import REFERENCE_PARAMS, evaluate, make_reference_model

MODEL_NAME = "model"
"""The name each logged model gets inside its run."""
CHAPTER_RUNS: tuple[str, ...] = ("exp_001_random_forest", "exp_002_random_forest_tuned", "exp_003_gradient_boosting",
                                 "exp_004_xgboost")


@dataclass(frozen=True)
class RunResult:
    """One logged training run: its ids, the logged model's URI, the validation metrics and the fitted model."""

    name: str
    run_id: str
    model_uri: str
    algorithm: str
    params: dict[str, Any]
    metrics: dict[str, float]
    model: Any = field(default=None, repr=False, compare=False)


def pin(distribution: str) -> str:
    """Return `distribution==<installed version>`, a pip requirement for this environment."""
    return f"{distribution}=={metadata.version(distribution)}"


@functools.cache
def requirements(flavor: str) -> tuple[str, ...]:
    """Return the pinned pip requirements of a logged model, so MLflow never runs its slow dependency inference."""
    reqs = [pin("mlflow"), pin("numpy"), pin("scikit-learn")]
    if flavor == "xgboost":  # the CPU-only wheel installs as `xgboost-cpu`: pin the one that is installed
        installed = [name for name in ("xgboost", "xgboost-cpu") if distribution_installed(name)]
        reqs.append(pin(installed[0] if installed else "xgboost"))
    return tuple(reqs)


def distribution_installed(name: str) -> bool:
    """Return True if the pip distribution `name` is installed."""
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def log_model(model: Any, X_example: np.ndarray) -> Any:
    """Log a fitted model into the active run with a signature and an input example; return its ModelInfo."""
    from mlflow.models import infer_signature

    example = np.asarray(X_example[:5])
    common = {"name": MODEL_NAME, "input_example": example}
    if type(model).__module__.split(".")[0] == "xgboost":
        import mlflow.xgboost

        # The xgboost flavour's pyfunc predicts labels; MLflow offers no predict_proba option for it.
        return mlflow.xgboost.log_model(model, signature=infer_signature(example, model.predict(example)),
                                        pip_requirements=list(requirements("xgboost")), model_format="ubj", **common)
    import mlflow.sklearn

    # pickle, not MLflow's default skops: the trust list would live in the model's own MLmodel file, so it guards
    # against nothing a tampered artifact could not rewrite too. Safety comes from trusting the store (notebook 03
    # shows skops for files from strangers).
    return mlflow.sklearn.log_model(model, signature=infer_signature(example, model.predict_proba(example)),
                                    serialization_format="pickle", pyfunc_predict_fn="predict_proba",
                                    pip_requirements=list(requirements("sklearn")), **common)


def log_experiment_run(name: str, model: Any, params: dict[str, Any], X_train: np.ndarray, y_train: np.ndarray,
                       X_val: np.ndarray, y_val: np.ndarray, tags: dict[str, str] | None = None, *,
                       experiment: str = store.EXPERIMENT) -> RunResult:
    """Fit `model` (timed), evaluate it on the validation rows, log everything and the model; return a RunResult.

    A search (anything with `best_estimator_` after fitting, e.g. GridSearchCV) logs its best parameters, its
    cross-validated score and its best estimator.
    """
    import mlflow

    experiment_id = store.experiment_id(experiment)
    with store.quiet(), mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
        start = time.perf_counter()
        model.fit(X_train, y_train)
        train_seconds = time.perf_counter() - start
        fitted = getattr(model, "best_estimator_", model)
        logged = {**params, **{f"best_{k}": v for k, v in getattr(model, "best_params_", {}).items()}}
        metrics = {**evaluate(fitted, X_val, y_val), "train_seconds": float(train_seconds)}
        if hasattr(model, "best_score_"):
            metrics["cv_accuracy"] = float(model.best_score_)
        mlflow.set_tags({"algorithm": type(fitted).__name__, "kind": "experiment", "evaluated_on": "validation",
                         "train_rows": str(len(y_train)), "validation_rows": str(len(y_val)), **(tags or {})})
        mlflow.log_params(logged)
        mlflow.log_metrics(metrics)
        info = log_model(fitted, X_train)
    return RunResult(name, run.info.run_id, info.model_uri, type(fitted).__name__, logged, metrics, fitted)


def chapter_specs() -> list[tuple[str, Any, dict[str, Any]]]:
    """Return (run name, unfitted model, logged params) for the chapter's four experiments."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import GridSearchCV
    from xgboost import XGBClassifier

    # A small search: 4 candidates x 3 folds of 40-tree forests, then one refit (about 2 s on 2 cores).
    grid = {"max_depth": [10, None], "min_samples_leaf": [1, 3]}
    search = {"search": "GridSearchCV", "cv": 3, "candidates": 4, "n_estimators": 40, "random_state": SEED,
              "grid": "max_depth=[10, None] x min_samples_leaf=[1, 3]"}
    gb = {"n_estimators": 100, "learning_rate": 0.1, "max_depth": 3, "random_state": SEED}
    xgb = {"n_estimators": 100, "max_depth": 4, "learning_rate": 0.1, "subsample": 0.8, "colsample_bytree": 0.8,
           "tree_method": "hist", "n_jobs": 1, "random_state": SEED}  # one thread: the same sums on every CPU
    return [
        ("exp_001_random_forest", make_reference_model(), dict(REFERENCE_PARAMS)),
        ("exp_002_random_forest_tuned", GridSearchCV(make_reference_model(n_estimators=40), grid, cv=3), search),
        ("exp_003_gradient_boosting", GradientBoostingClassifier(**gb), gb),
        ("exp_004_xgboost", XGBClassifier(**xgb), xgb),
    ]


def run_chapter_experiments(experiment: str = store.EXPERIMENT) -> pd.DataFrame:
    """Train and log the chapter's four experiments on the course split; return `compare_runs()`."""
    split = split_dataset()
    for name, model, params in chapter_specs():
        log_experiment_run(name, model, params, split.X_train, split.y_train, split.X_val, split.y_val,
                           experiment=experiment)
    return compare_runs(experiment)


def compare_runs(experiment: str = store.EXPERIMENT) -> pd.DataFrame:
    """Return the experiment's runs from `mlflow.search_runs`, best validation accuracy first (ties: AUC, name)."""
    import mlflow

    store.active_store()
    columns = ["run_name", "algorithm", "accuracy", "f1", "roc_auc", "train_seconds"]
    with store.quiet():
        runs = mlflow.search_runs(experiment_names=[experiment], filter_string="tags.kind = 'experiment'")
    if runs.empty:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame({"run_name": runs["tags.mlflow.runName"], "algorithm": runs["tags.algorithm"],
                          **{m: runs[f"metrics.{m}"].astype(float) for m in columns[2:]}})
    table = table.sort_values(["accuracy", "roc_auc", "run_name"], ascending=[False, False, True], kind="stable")
    return table.reset_index(drop=True)


def logged_run(run_name: str, experiment: str = store.EXPERIMENT) -> RunResult | None:
    """Return the latest finished run called `run_name` as a RunResult (its model not loaded), or None."""
    mlflow_client = store.client()
    with store.quiet():
        found = mlflow_client.get_experiment_by_name(experiment)
        if found is None:
            return None
        runs = mlflow_client.search_runs([found.experiment_id], f"tags.mlflow.runName = '{run_name}' and "
                                         "attributes.status = 'FINISHED'", order_by=["attributes.start_time DESC"],
                                         max_results=1)
    if not runs or not runs[0].outputs or not runs[0].outputs.model_outputs:
        return None
    run = runs[0]
    return RunResult(run_name, run.info.run_id, f"models:/{run.outputs.model_outputs[0].model_id}",
                     run.data.tags.get("algorithm", ""), dict(run.data.params), dict(run.data.metrics))
