"""Experiment tracking and the model registry with MLflow: an embedded SQLite store under artifacts/, quiet, offline.

By default everything lives in `artifacts/mlflow.db` (runs, metrics, registry) and `artifacts/mlruns/` (model
files), anchored on the repository root. Set `MLFLOW_TRACKING_URI` to use a tracking server instead.
`python -m helpers.tracking ui [--port 5000]` opens the MLflow UI on the local store (`make mlflow-ui`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import shutil
import socket
import sqlite3
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# MLflow reads these when it is imported and when it logs; a value the user already set wins.
_MLFLOW_ENV: dict[str, str] = {
    "MLFLOW_DISABLE_TELEMETRY": "true",  # never send usage data: the course runs offline
    "DO_NOT_TRACK": "true",  # the cross-tool spelling of the same wish
    "MLFLOW_LOGGING_LEVEL": "ERROR",  # no timestamped INFO/WARNING lines in notebook outputs
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # no tqdm bars while artifacts are copied
    "TQDM_DISABLE": "1",  # no tqdm bars from anything else either
    "GIT_PYTHON_REFRESH": "quiet",  # MLflow asks git for the source commit; no warning when git is missing
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",  # no "View run at http://..." lines after each run
    "MLFLOW_LOCK_MODEL_DEPENDENCIES": "false",  # never call `uv` (it would reach the network) to lock requirements
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",  # a dead server fails in seconds, not after minutes of retries
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",  # seconds per HTTP request to a tracking server
}
for _key, _value in _MLFLOW_ENV.items():
    os.environ.setdefault(_key, _value)
_NOISY_LOGGERS = ("mlflow", "alembic", "sqlalchemy", "urllib3", "git", "skops")
for _name in _NOISY_LOGGERS:
    logging.getLogger(_name).setLevel(logging.ERROR)

import mlflow  # noqa: E402 - the settings above must be in place before MLflow is imported
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from mlflow.utils import logging_utils as _mlflow_logging  # noqa: E402

with warnings.catch_warnings():  # importing MLflow's SQL store trips a SQLAlchemy deprecation (`noload`): not ours
    warnings.simplefilter("ignore", DeprecationWarning)
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

from helpers import paths  # noqa: E402
from helpers.data import SEED, split_dataset  # noqa: E402
from helpers.model import evaluate  # noqa: E402

for _name in _NOISY_LOGGERS:  # MLflow configures its logger on import: set the level again
    logging.getLogger(_name).setLevel(logging.ERROR)

EXPERIMENT = "model-deployment"
REGISTERED_MODEL = "course-classifier"
MIN_ACCURACY = 0.80  # the promotion gate's floor on test accuracy
STATUSES = ("Production", "Staging", "Development")
CHAPTER_RUNS: list[str] = ["exp_001_random_forest", "exp_002_random_forest_tuned", "exp_003_gradient_boosting",
                           "exp_004_xgboost"]
DB_FILE = "mlflow.db"
ARTIFACTS_SUBDIR = "mlruns"
TEMPLATE_FILE = f".mlflow-template-{mlflow.__version__}.db"  # a new MLflow version migrates a new template
REACH_TIMEOUT = 3.0  # seconds a tracking server gets to answer before we call it unreachable
UI_PORT = 5000
_MODEL_NAME = "model"  # the name each logged model gets inside its run
_HISTORY_TAG = "production_history"  # registered-model tag: earlier production versions, oldest first
_PREVIOUS_TAG = "previous_production"  # registered-model tag: the version `rollback()` returns to

# Python warnings (`warnings.warn`) MLflow raises while inferring signatures; each is matched by the start of its
# message. MLflow's other complaints (the pickle caution, pip-requirement inference, git, alembic's migration
# steps, "Registered model ..." lines) go through its loggers and event stream, which _quiet() and the
# ERROR level above silence.
_KNOWN_WARNINGS = (
    r"Hint: Inferred schema contains integer column",  # int columns in a DataFrame example (ours are floats)
    r"Failed to infer signature from type hint",  # models with annotated predict() methods
)


class TrackingError(RuntimeError):
    """Raised when the tracking store or the registry cannot do what was asked; the message says why."""


@dataclass(frozen=True)
class Store:
    """Where MLflow keeps runs and models: the course's local SQLite store, or an external tracking URI."""

    uri: str
    local: bool
    db: Path | None = None
    artifacts: Path | None = None
    template: Path | None = None


@dataclass(frozen=True)
class RunResult:
    """One logged training run: its ids, the logged model's URI, the measured metrics and the fitted model."""

    name: str
    run_id: str
    experiment_id: str
    model_uri: str
    model_id: str
    algorithm: str
    params: dict[str, Any]
    metrics: dict[str, float]
    model: Any = field(repr=False, compare=False)


@dataclass(frozen=True)
class PromotionResult:
    """The gate's decision on one version: promoted or refused, and why."""

    version: str
    semver: str
    promoted: bool
    reason: str
    accuracy: float
    production_before: str | None
    production_accuracy: float | None

    def __str__(self) -> str:
        verdict = "promoted to production" if self.promoted else "refused"
        return f"version {self.version} ({self.semver}) {verdict}: {self.reason}"


_active: Store | None = None


# --------------------------------------------------------------------------------------------------- the store


def _local_store(directory: Path | None) -> Store:
    """Return the course's local store rooted at `directory` (default: artifacts/, looked up at call time)."""
    folder = Path(directory or paths.ARTIFACTS_DIR).resolve()
    db = folder / DB_FILE
    return Store(uri=f"sqlite:///{db.as_posix()}", local=True, db=db, artifacts=folder / ARTIFACTS_SUBDIR,
                 template=folder / TEMPLATE_FILE)


def resolve_store(directory: Path | None = None, uri: str | None = None) -> Store:
    """Return the store to use: `uri`, else the local one in `directory`, else $MLFLOW_TRACKING_URI, else artifacts/."""
    if uri is None and directory is None:
        env_uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
        # MLflow copies the URI we set into the environment; only a value the user set counts.
        if env_uri and not (_active is not None and env_uri == _active.uri):
            uri = env_uri
    default = _local_store(directory)
    if uri is None or uri == default.uri:
        return default
    return Store(uri=uri, local=False)


def _redact(uri: str) -> str:
    """Return `uri` without a user name or password, for messages."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return uri


def _check_reachable(uri: str, timeout: float = REACH_TIMEOUT) -> None:
    """Return None if a server-based tracking URI answers within `timeout` seconds; raise TrackingError otherwise.

    An http(s) server must answer a cheap MLflow API request (401/403 count: the server is there, it wants
    credentials); a database server must accept a TCP connection. MLflow's own retries could take minutes.
    """
    parts = urlsplit(uri)
    scheme = parts.scheme.split("+")[0]
    hint = "Start the server, or unset MLFLOW_TRACKING_URI to use the local store artifacts/mlflow.db."
    if scheme in ("http", "https"):
        import requests

        probe = uri.rstrip("/") + "/api/2.0/mlflow/experiments/search?max_results=1"
        try:
            status = requests.get(probe, timeout=timeout).status_code
        except requests.RequestException as exc:
            raise TrackingError(f"the MLflow tracking server at {_redact(uri)} is not reachable "
                                f"({type(exc).__name__}, waited at most {timeout:g} s). {hint}") from None
        if status not in (200, 401, 403):
            raise TrackingError(f"{_redact(uri)} answered HTTP {status} to an MLflow API request: it does not "
                                f"look like an MLflow tracking server. {hint}")
        return
    default_ports = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
    if scheme not in default_ports or not parts.hostname:
        return
    try:
        with socket.create_connection((parts.hostname, parts.port or default_ports[scheme]), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise TrackingError(f"the tracking database at {_redact(uri)} is not reachable ({reason}, waited at most "
                            f"{timeout:g} s). {hint}") from None


def _migrate_template(store: Store) -> None:
    """Create the store's template database by running MLflow's migrations once (the slow step, ~1 s)."""
    assert store.template is not None and store.artifacts is not None
    store.template.parent.mkdir(parents=True, exist_ok=True)
    partial = store.template.with_name(f"{store.template.name}.{os.getpid()}.tmp")
    partial.unlink(missing_ok=True)
    with _quiet():
        migrated = SqlAlchemyStore(f"sqlite:///{partial.as_posix()}", store.artifacts.as_uri())
        migrated.engine.dispose()
    os.replace(partial, store.template)  # atomic: an interrupted migration never leaves a half-made template


def _restore_template(store: Store) -> None:
    """Make the store's database a copy of the migrated template (migrating it first if it is missing)."""
    assert store.db is not None and store.template is not None
    if not store.template.exists():
        _migrate_template(store)
    # SQLite's backup API writes the template's pages into the database file in place: a connection MLflow still
    # holds in its pool sees the fresh content, where deleting and copying the file would leave it writing to
    # the deleted one.
    source = sqlite3.connect(f"{store.template.as_uri()}?mode=ro", uri=True)
    target = sqlite3.connect(store.db)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def configure(reset: bool = False, *, directory: Path | None = None, uri: str | None = None) -> str:
    """Point MLflow's tracking and registry at the store (see `resolve_store`); return its URI.

    `reset=True` empties the local store (database and model files) and starts again from the migrated
    template, so a rerun gets the same experiment ids and version numbers. A server is never reset.
    """
    global _active
    store = resolve_store(directory, uri)
    if mlflow.active_run() is not None:  # a run left open by an interrupted cell would swallow the next runs
        with _quiet():
            mlflow.end_run(status="KILLED")
    if store.local:
        assert store.db is not None and store.artifacts is not None
        if reset:
            shutil.rmtree(store.artifacts, ignore_errors=True)
        if reset or not store.db.exists():
            _restore_template(store)
        store.artifacts.mkdir(parents=True, exist_ok=True)
    else:
        if reset:
            raise TrackingError(
                f"refusing to reset {_redact(store.uri)}: only the course's own local store is ever wiped; a "
                "tracking server or a database you chose is never wiped. Unset MLFLOW_TRACKING_URI to work on the "
                "local store, or log into a fresh experiment name."
            )
        _check_reachable(store.uri)
    mlflow.set_tracking_uri(store.uri)
    mlflow.set_registry_uri(store.uri)
    _active = store
    return store.uri


def _ensure_configured() -> Store:
    """Return the active store, configuring the default one first if nothing was configured yet."""
    if _active is None:
        configure()
    assert _active is not None
    return _active


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence MLflow's own event stream and its known warnings for the duration of a block."""
    was_enabled = _mlflow_logging.MLFLOW_LOGGING_STREAM.enabled
    _mlflow_logging.disable_logging()  # MLflow prints "Registered model ..." lines through this stream
    try:
        with warnings.catch_warnings():
            for message in _KNOWN_WARNINGS:
                warnings.filterwarnings("ignore", message=message)
            # Anything else MLflow's own modules warn about while we drive them (schema hints, options we do
            # not use) says nothing about the models; warnings from scikit-learn or XGBoost still show.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\.")
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"mlflow\.")
            # SQLAlchemy deprecations inside MLflow's own store code (e.g. the `noload` loader strategy).
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(mlflow|sqlalchemy|alembic)\.")
            yield
    finally:
        _mlflow_logging.MLFLOW_LOGGING_STREAM.enabled = was_enabled


def _client() -> MlflowClient:
    """Return a client on the configured store."""
    store = _ensure_configured()
    return MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)


def _experiment_id(name: str) -> str:
    """Return the id of experiment `name`, creating it (with its artifacts under the store's folder) if needed."""
    store = _ensure_configured()
    client = _client()
    with _quiet():
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        location = (store.artifacts / name).as_uri() if store.local and store.artifacts else None
        return client.create_experiment(name, artifact_location=location)


# ------------------------------------------------------------------------------------------------ logging runs


def _pin(distribution: str) -> str:
    """Return `distribution==<installed version>`, a pip requirement for this environment."""
    return f"{distribution}=={metadata.version(distribution)}"


@functools.cache
def _requirements(flavor: str) -> tuple[str, ...]:
    """Return the pinned pip requirements of a logged model, so MLflow never runs its slow, noisy inference."""
    reqs = [_pin("mlflow"), _pin("numpy"), _pin("scikit-learn")]
    if flavor == "xgboost":
        # The CPU-only wheel installs as `xgboost-cpu`; pin what is installed, not the name MLflow guesses.
        dists = metadata.packages_distributions().get("xgboost", ["xgboost"])
        reqs.append(_pin(dists[0]))
    return tuple(reqs)


def _is_xgboost(model: Any) -> bool:
    """Return True for XGBoost's scikit-learn-style models."""
    return type(model).__module__.split(".")[0] == "xgboost"


def _log_model(model: Any, X_example: np.ndarray) -> Any:
    """Log a fitted model into the active run with a signature and an input example; return its ModelInfo."""
    example = np.asarray(X_example[:5])
    common = {"name": _MODEL_NAME, "input_example": example}
    if _is_xgboost(model):
        import mlflow.xgboost

        # The xgboost flavour's pyfunc predicts labels; MLflow offers no predict_proba option for it.
        signature = infer_signature(example, model.predict(example))
        return mlflow.xgboost.log_model(model, signature=signature, pip_requirements=list(_requirements("xgboost")),
                                        model_format="ubj", **common)
    import mlflow.sklearn

    signature = infer_signature(example, model.predict_proba(example))
    # Serialization: MLflow 3.17 defaults to skops, which refuses to reload a forest unless its tree classes are
    # listed as trusted (UntrustedTypesFoundException). We choose "pickle": the allow-list would be stored in
    # the model's own MLmodel file, so it protects against nothing a tampered artifact could not also rewrite
    # (MLflow itself gates skops loads behind MLFLOW_ALLOW_PICKLE_DESERIALIZATION for that reason), and pickle
    # saves and loads several times faster. Safety here comes from trusting the store: only load models from a
    # store you control. Notebook 03 shows skops for files that come from strangers.
    return mlflow.sklearn.log_model(model, signature=signature, serialization_format="pickle",
                                    pyfunc_predict_fn="predict_proba", pip_requirements=list(_requirements("sklearn")),
                                    **common)


def log_experiment_run(
    name: str,
    model: Any,
    params: dict[str, Any],
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    tags: dict[str, str] | None = None,
    *,
    experiment: str = EXPERIMENT,
) -> RunResult:
    """Fit `model` (timed), evaluate it on the test set, log params, metrics, tags and the model; return a RunResult.

    A search (anything with `best_estimator_` after fitting, e.g. GridSearchCV) logs its best parameters,
    its cross-validated score and its best estimator.
    """
    experiment_id = _experiment_id(experiment)
    with _quiet(), mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
        start = time.perf_counter()
        model.fit(X_train, y_train)
        train_seconds = time.perf_counter() - start
        fitted = getattr(model, "best_estimator_", model)
        algorithm = type(fitted).__name__
        logged_params = dict(params)
        logged_params.update({f"best_{k}": v for k, v in getattr(model, "best_params_", {}).items()})
        metrics = {**evaluate(fitted, X_test, y_test), "train_seconds": float(train_seconds)}
        if hasattr(model, "best_score_"):
            metrics["cv_accuracy"] = float(model.best_score_)
        run_tags = {"algorithm": algorithm, "kind": "experiment", "train_rows": str(len(y_train)),
                    "test_rows": str(len(y_test)), **(tags or {})}
        mlflow.set_tags(run_tags)
        mlflow.log_params(logged_params)
        mlflow.log_metrics(metrics)
        info = _log_model(fitted, X_train)
    return RunResult(name=name, run_id=run.info.run_id, experiment_id=experiment_id, model_uri=info.model_uri,
                     model_id=info.model_id, algorithm=algorithm, params=logged_params, metrics=metrics,
                     model=fitted)


def _chapter_specs() -> list[tuple[str, Any, dict[str, Any]]]:
    """Return (run name, unfitted model, logged params) for the chapter's four experiments."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.model_selection import GridSearchCV
    from xgboost import XGBClassifier

    rf = {"n_estimators": 100, "random_state": SEED}
    # A small, fast search: 4 candidates x 3 folds = 12 fits of 40 trees, then one refit (about 2 s on 2 idle
    # cores). Searching max_features above sqrt would multiply the cost: each split would try more columns.
    grid = {"max_depth": [10, None], "min_samples_leaf": [1, 3]}
    search = {"search": "GridSearchCV", "cv": 3, "candidates": 4, "n_estimators": 40, "random_state": SEED,
              "grid": "max_depth=[10, None] x min_samples_leaf=[1, 3]"}
    gb = {"n_estimators": 100, "learning_rate": 0.1, "max_depth": 3, "random_state": SEED}
    xgb = {"n_estimators": 100, "max_depth": 4, "learning_rate": 0.1, "subsample": 0.8, "colsample_bytree": 0.8,
           "tree_method": "hist", "n_jobs": 1, "random_state": SEED}
    return [
        ("exp_001_random_forest", RandomForestClassifier(**rf), rf),
        ("exp_002_random_forest_tuned",
         GridSearchCV(RandomForestClassifier(n_estimators=40, random_state=SEED), grid, cv=3), search),
        ("exp_003_gradient_boosting", GradientBoostingClassifier(**gb), gb),
        ("exp_004_xgboost", XGBClassifier(**xgb), xgb),
    ]


def compare_runs(experiment: str = EXPERIMENT) -> pd.DataFrame:
    """Return the experiment's runs from `mlflow.search_runs`, best test accuracy first (ties: ROC AUC, name)."""
    _ensure_configured()
    columns = ["run_name", "algorithm", "accuracy", "f1", "roc_auc", "train_seconds"]
    with _quiet():
        runs = mlflow.search_runs(experiment_names=[experiment], filter_string="tags.kind = 'experiment'")
    if runs.empty:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame({
        "run_name": runs["tags.mlflow.runName"],
        "algorithm": runs["tags.algorithm"],
        **{m: runs[f"metrics.{m}"].astype(float) for m in columns[2:]},
    })
    table = table.sort_values(["accuracy", "roc_auc", "run_name"], ascending=[False, False, True])
    return table.reset_index(drop=True)


def run_chapter_experiments(experiment: str = EXPERIMENT) -> pd.DataFrame:
    """Run and log the chapter's four experiments on the course split; return the comparison (see compare_runs)."""
    X_train, X_test, y_train, y_test = split_dataset()
    for name, model, params in _chapter_specs():
        log_experiment_run(name, model, params, X_train, y_train, X_test, y_test, experiment=experiment)
    return compare_runs(experiment)


# ---------------------------------------------------------------------------------------------------- registry


def _version_of(version: str | int) -> str:
    """Return a version number as the string MLflow uses."""
    return str(int(version))


def register_model(result: RunResult, semver: str, description: str = "") -> str:
    """Register a logged run's model as a new version of REGISTERED_MODEL (status Development); return the version."""
    client = _client()
    tags = {"semver": semver, "algorithm": result.algorithm, "status": "Development", "run_name": result.name,
            **{m: f"{result.metrics[m]:.4f}" for m in ("accuracy", "f1", "roc_auc") if m in result.metrics}}
    with _quiet():
        version = mlflow.register_model(result.model_uri, REGISTERED_MODEL, tags=tags)
        if description:
            client.update_model_version(REGISTERED_MODEL, version.version, description=description)
    return str(version.version)


def _logged_run(experiment: str, run_name: str) -> RunResult | None:
    """Return the latest finished run called `run_name` in `experiment` as a RunResult (model not loaded)."""
    client = _client()
    with _quiet():
        found = client.get_experiment_by_name(experiment)
        if found is None:
            return None
        runs = client.search_runs([found.experiment_id], f"tags.mlflow.runName = '{run_name}' and "
                                  "attributes.status = 'FINISHED'", order_by=["attributes.start_time DESC"],
                                  max_results=1)
        if not runs or not runs[0].outputs or not runs[0].outputs.model_outputs:
            return None
        run = runs[0]
        model_id = run.outputs.model_outputs[0].model_id
    return RunResult(name=run_name, run_id=run.info.run_id, experiment_id=found.experiment_id,
                     model_uri=f"models:/{model_id}", model_id=model_id, algorithm=run.data.tags.get("algorithm", ""),
                     params=dict(run.data.params),
                     metrics=dict(run.data.metrics), model=None)


def register_chapter_versions(experiment: str = EXPERIMENT) -> pd.DataFrame:
    """Register five real models as v1.0.0 … v2.1.0, set the starting lifecycle; return registry_table().

    v1.0.0 is a forest trained on the first half of the training rows (its own run); v1.1.0 … v2.1.0 are the
    chapter's four experiment runs (logged first if they are missing). Then v1.0.0 goes to production, v1.1.0
    is promoted through the gate (it replaces v1.0.0 only if it is not worse), and v2.0.0 goes to staging.
    """
    from sklearn.ensemble import RandomForestClassifier

    runs = {name: _logged_run(experiment, name) for name in CHAPTER_RUNS}
    if any(run is None for run in runs.values()):
        run_chapter_experiments(experiment)
        runs = {name: _logged_run(experiment, name) for name in CHAPTER_RUNS}
    X_train, X_test, y_train, y_test = split_dataset()
    half = len(y_train) // 2
    rf = {"n_estimators": 100, "random_state": SEED, "train_fraction": 0.5}
    first = log_experiment_run("v1.0.0_random_forest_half_data", RandomForestClassifier(n_estimators=100,
                               random_state=SEED), rf, X_train[:half], y_train[:half], X_test, y_test,
                               tags={"kind": "registry"}, experiment=experiment)
    forest, tuned, boosting, booster = (runs[name] for name in CHAPTER_RUNS)
    assert forest is not None and tuned is not None and boosting is not None and booster is not None
    best = ", ".join(f"{k.removeprefix('best_')}={v}" for k, v in sorted(tuned.params.items()) if k.startswith("best_"))
    plan = [
        ("v1.0.0", first, f"RandomForest ({rf['n_estimators']} trees) on the first half of the training rows"),
        ("v1.1.0", forest, f"RandomForest ({forest.params['n_estimators']} trees) on all training rows"),
        ("v1.2.0", tuned, f"RandomForest tuned by a 3-fold grid search (best: {best})"),
        ("v2.0.0", boosting, f"GradientBoosting (scikit-learn, {boosting.params['n_estimators']} stages)"),
        ("v2.1.0", booster, f"XGBoost (CPU, {booster.params['n_estimators']} rounds); its pyfunc predicts labels"),
    ]
    versions = []
    for semver, result, what in plan:
        m = result.metrics
        text = (f"{semver}: {what}. Test accuracy {m['accuracy']:.4f}, F1 {m['f1']:.4f}, "
                f"ROC AUC {m['roc_auc']:.4f} on {len(y_test)} held-out rows.")
        versions.append(register_model(result, semver, text))
    set_alias("production", versions[0])
    promote(versions[1])
    set_alias("staging", versions[3])
    return registry_table()


def _registered_model() -> Any:
    """Return REGISTERED_MODEL's registry entry; raise TrackingError if it is not registered."""
    client = _client()
    try:
        with _quiet():
            return client.get_registered_model(REGISTERED_MODEL)
    except MlflowException:
        raise TrackingError(f"model {REGISTERED_MODEL!r} is not registered in {_redact(_active.uri)}: "
                            "run register_chapter_versions() first") from None


def _model_version(version: str | int) -> Any:
    """Return one version's registry entry; raise TrackingError naming model and version if it does not exist."""
    client = _client()
    try:
        with _quiet():
            return client.get_model_version(REGISTERED_MODEL, _version_of(version))
    except (MlflowException, ValueError):
        raise TrackingError(f"model {REGISTERED_MODEL!r} has no version {version!r}") from None


def _aliases() -> dict[str, str]:
    """Return REGISTERED_MODEL's aliases as {alias: version string}."""
    return {alias: str(version) for alias, version in _registered_model().aliases.items()}


def _alias_version(alias: str) -> str | None:
    """Return the version `alias` points at, or None."""
    return _aliases().get(alias)


def _sync_status() -> None:
    """Set every version's `status` tag from the aliases: Production, Staging or Development."""
    client = _client()
    aliases = _aliases()
    with _quiet():
        for mv in client.search_model_versions(f"name = '{REGISTERED_MODEL}'"):
            holders = {a for a, v in aliases.items() if v == str(mv.version)}
            status = "Production" if "production" in holders else "Staging" if "staging" in holders else "Development"
            if mv.tags.get("status") != status:
                client.set_model_version_tag(REGISTERED_MODEL, mv.version, "status", status)


def _history() -> list[str]:
    """Return the earlier production versions, oldest first."""
    raw = _registered_model().tags.get(_HISTORY_TAG, "")
    return [v for v in raw.split(",") if v]


def _write_history(history: list[str]) -> None:
    """Store the production history and its last entry as registered-model tags."""
    client = _client()
    with _quiet():
        client.set_registered_model_tag(REGISTERED_MODEL, _HISTORY_TAG, ",".join(history))
        client.set_registered_model_tag(REGISTERED_MODEL, _PREVIOUS_TAG, history[-1] if history else "")


def production_accuracy() -> float | None:
    """Return the test accuracy recorded on the production version, or None when nothing is in production."""
    try:
        current = _alias_version("production")
    except TrackingError:  # the model is not registered yet
        return None
    return float(_model_version(current).tags.get("accuracy", "nan")) if current else None


def set_alias(alias: str, version: str | int) -> str | None:
    """Point `alias` at `version` (moving `production` records history); return the version it pointed at before."""
    version = str(_model_version(version).version)
    before = _alias_version(alias)
    if before == version:
        return before
    client = _client()
    with _quiet():
        client.set_registered_model_alias(REGISTERED_MODEL, alias, version)
    if alias == "production" and before is not None:
        _write_history([*_history(), before])
    _sync_status()
    return before


def promote(version: str | int, min_accuracy: float = MIN_ACCURACY) -> PromotionResult:
    """Move `production` to `version` if its test accuracy passes the gate; return the decision and its reason.

    The gate: accuracy at least `min_accuracy`, and not worse than the current production version.
    A refused version leaves production unchanged. A promoted version leaves `staging`.
    """
    mv = _model_version(version)
    version = str(mv.version)
    semver = mv.tags.get("semver", "?")
    accuracy = float(mv.tags.get("accuracy", "nan"))
    current = _alias_version("production")
    current_acc = float(_model_version(current).tags.get("accuracy", "nan")) if current else None

    def decide(promoted: bool, reason: str) -> PromotionResult:
        return PromotionResult(version, semver, promoted, reason, accuracy, current, current_acc)

    if current == version:
        return decide(False, "it is already in production")
    if not accuracy >= min_accuracy:  # also refuses a version without a recorded accuracy (nan)
        return decide(False, f"test accuracy {accuracy:.4f} is below the gate's minimum {min_accuracy:.4f}")
    if current_acc is not None and accuracy < current_acc:
        return decide(False, f"test accuracy {accuracy:.4f} is worse than production version {current} "
                             f"({current_acc:.4f})")
    set_alias("production", version)
    if _alias_version("staging") == version:
        with _quiet():
            _client().delete_registered_model_alias(REGISTERED_MODEL, "staging")
        _sync_status()
    than = f", not worse than version {current} ({current_acc:.4f})" if current else ", first production version"
    return decide(True, f"test accuracy {accuracy:.4f} passes the minimum {min_accuracy:.4f}{than}")


def rollback() -> str:
    """Move `production` back to the previous production version; return that version."""
    history = _history()
    if not history:
        raise TrackingError(f"model {REGISTERED_MODEL!r} has no previous production version to roll back to")
    previous = history.pop()
    with _quiet():
        _client().set_registered_model_alias(REGISTERED_MODEL, "production", previous)
    _write_history(history)
    _sync_status()
    return previous


def load_alias(alias: str) -> Any:
    """Return the pyfunc model `models:/course-classifier@<alias>`; raise TrackingError if the alias does not exist.

    scikit-learn versions were logged with pyfunc_predict_fn="predict_proba": their `predict` returns an
    (n, 2) array of class probabilities. The XGBoost version's pyfunc returns class labels.
    """
    aliases = _aliases()
    if alias not in aliases:
        known = ", ".join(sorted(aliases)) or "none"
        raise TrackingError(f"model {REGISTERED_MODEL!r} has no alias {alias!r} (its aliases: {known})")
    import mlflow.pyfunc

    with _quiet():
        return mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL}@{alias}")


def registry_table() -> pd.DataFrame:
    """Return one row per registered version: version, semver, algorithm, accuracy, aliases, status."""
    columns = ["version", "semver", "algorithm", "accuracy", "aliases", "status"]
    aliases = _aliases()
    with _quiet():
        versions = _client().search_model_versions(f"name = '{REGISTERED_MODEL}'")
    rows = [{
        "version": int(mv.version),
        "semver": mv.tags.get("semver", ""),
        "algorithm": mv.tags.get("algorithm", ""),
        "accuracy": float(mv.tags.get("accuracy", "nan")),
        "aliases": ", ".join(sorted(a for a, v in aliases.items() if v == str(mv.version))),
        "status": mv.tags.get("status", ""),
    } for mv in versions]
    return pd.DataFrame(rows, columns=columns).sort_values("version").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------- UI


def ui_command(port: int = UI_PORT, directory: Path | None = None) -> list[str]:
    """Return the `mlflow ui` command line for the local store (the venv's mlflow, bound to 127.0.0.1)."""
    store = resolve_store(directory)
    if not store.local:
        raise TrackingError(f"MLFLOW_TRACKING_URI points at {_redact(store.uri)}: open that server's own UI "
                            "instead, or unset the variable to browse the local store")
    assert store.artifacts is not None
    exe = Path(sys.executable).with_name("mlflow.exe" if os.name == "nt" else "mlflow")
    if not exe.exists():
        raise TrackingError(f"no mlflow executable next to {sys.executable}: run `make install`")
    # One worker is plenty for one reader and starts in a few seconds on 2 cores (the default is 4).
    return [str(exe), "ui", "--backend-store-uri", store.uri, "--default-artifact-root", store.artifacts.as_uri(),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]


def main(argv: list[str] | None = None) -> int:
    """Run `python -m helpers.tracking ui [--port N]`: the MLflow UI in the foreground; return its exit code."""
    parser = argparse.ArgumentParser(prog="python -m helpers.tracking", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ui = commands.add_parser("ui", help="serve the MLflow UI on the local store until Ctrl-C")
    ui.add_argument("--port", type=int, default=UI_PORT, help=f"port on 127.0.0.1 (default {UI_PORT})")
    args = parser.parse_args(argv)
    try:
        command = ui_command(args.port)
        configure()  # a missing database is copied from the template (migrated once), before the UI opens it
    except TrackingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The server's background job runner (GenAI evaluation jobs, 6+ extra processes) has nothing to do here.
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    print(f"MLflow UI on http://127.0.0.1:{args.port} (store: {paths.relative(_active.db)}); Ctrl-C stops it",
          flush=True)
    if os.name == "posix":
        # Become the server: Ctrl-C and kill reach it directly, and no wrapper process is left to orphan.
        os.execv(command[0], command)  # noqa: S606 - the venv's own mlflow, fixed arguments
    import subprocess

    try:
        return subprocess.run(command, check=False).returncode
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
