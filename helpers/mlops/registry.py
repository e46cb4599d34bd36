"""The model registry: versions of one registered model, aliases (production, staging), the release gate, rollback.

Every version carries tags: its semantic version, algorithm, validation accuracy (what the gate compares) and a
human-readable status derived from the aliases. The production history lives in registered-model tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from helpers.common.release import release_gate
from helpers.common.schema import MIN_ACCURACY
from helpers.mlops import store
from helpers.mlops.runs import CHAPTER_RUNS, RunResult, logged_run, run_chapter_experiments

TrackingError = store.TrackingError
STATUSES = ("Production", "Staging", "Development")
HISTORY_TAG = "production_history"
"""Registered-model tag: earlier production versions, oldest first (what `rollback()` walks back through)."""
CHAPTER_VERSIONS: dict[str, str] = {"exp_001_random_forest": "v1.0.0", "exp_002_random_forest_tuned": "v1.1.0",
                                    "exp_003_gradient_boosting": "v2.0.0", "exp_004_xgboost": "v2.1.0"}
"""The chapter's experiments as versions: v1.0.0 is the reference forest that notebooks 03 and 04 served."""


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


def registered_model() -> Any:
    """Return the registered model's entry; raise TrackingError if it is not registered."""
    from mlflow.exceptions import MlflowException

    try:
        with store.quiet():
            return store.client().get_registered_model(store.REGISTERED_MODEL)
    except MlflowException:
        raise TrackingError(f"model {store.REGISTERED_MODEL!r} is not registered in "
                            f"{store.redact(store.active_store().uri)}: run notebook 05 first") from None


def model_version(version: str | int) -> Any:
    """Return one version's entry; raise TrackingError naming model and version if it does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        with store.quiet():
            return store.client().get_model_version(store.REGISTERED_MODEL, str(int(version)))
    except (MlflowException, ValueError):
        raise TrackingError(f"model {store.REGISTERED_MODEL!r} has no version {version!r}") from None


def aliases() -> dict[str, str]:
    """Return the registered model's aliases as {alias: version}."""
    return {alias: str(version) for alias, version in registered_model().aliases.items()}


def alias_version(alias: str) -> str | None:
    """Return the version `alias` points at, or None."""
    return aliases().get(alias)


def version_of(semver: str) -> str:
    """Return the registry version number carrying semantic version `semver` (the latest if several do)."""
    with store.quiet():
        found = [mv for mv in store.client().search_model_versions(f"name = '{store.REGISTERED_MODEL}'")
                 if mv.tags.get("semver") == semver]
    if not found:
        raise TrackingError(f"model {store.REGISTERED_MODEL!r} has no version tagged {semver}")
    return str(max(int(mv.version) for mv in found))


def accuracy_of(version: str | int) -> float:
    """Return the validation accuracy recorded on a version (NaN if none was recorded)."""
    return float(model_version(version).tags.get("accuracy", "nan"))


def register_model(result: RunResult, semver: str, description: str = "") -> str:
    """Register a logged run's model as a new version (status Development); return the version number."""
    import mlflow

    tags = {"semver": semver, "algorithm": result.algorithm, "status": "Development", "run_name": result.name,
            **{m: f"{result.metrics[m]:.4f}" for m in ("accuracy", "f1", "roc_auc") if m in result.metrics}}
    with store.quiet():
        version = mlflow.register_model(result.model_uri, store.REGISTERED_MODEL, tags=tags)
        if description:
            store.client().update_model_version(store.REGISTERED_MODEL, version.version, description=description)
    return str(version.version)


def sync_status() -> None:
    """Set every version's `status` tag from the aliases: Production, Staging or Development."""
    mlflow_client, current = store.client(), aliases()
    with store.quiet():
        for mv in mlflow_client.search_model_versions(f"name = '{store.REGISTERED_MODEL}'"):
            holders = {a for a, v in current.items() if v == str(mv.version)}
            status = "Production" if "production" in holders else "Staging" if "staging" in holders else "Development"
            if mv.tags.get("status") != status:
                mlflow_client.set_model_version_tag(store.REGISTERED_MODEL, mv.version, "status", status)


def history() -> list[str]:
    """Return the earlier production versions, oldest first."""
    return [v for v in registered_model().tags.get(HISTORY_TAG, "").split(",") if v]


def set_alias(alias: str, version: str | int) -> str | None:
    """Point `alias` at `version` (a production move is remembered for rollback); return where it pointed before."""
    version = str(model_version(version).version)
    before = alias_version(alias)
    if before == version:
        return before
    with store.quiet():
        store.client().set_registered_model_alias(store.REGISTERED_MODEL, alias, version)
        if alias == "production" and before is not None:
            store.client().set_registered_model_tag(store.REGISTERED_MODEL, HISTORY_TAG, ",".join([*history(), before]))
    sync_status()
    return before


def delete_alias(alias: str) -> None:
    """Remove an alias (nothing happens if it does not exist)."""
    if alias in aliases():
        with store.quiet():
            store.client().delete_registered_model_alias(store.REGISTERED_MODEL, alias)
        sync_status()


def production_accuracy() -> float | None:
    """Return the validation accuracy of the production version, or None when nothing is in production."""
    try:
        current = alias_version("production")
    except TrackingError:  # nothing registered yet
        return None
    return accuracy_of(current) if current else None


def promote(version: str | int, min_accuracy: float = MIN_ACCURACY) -> PromotionResult:
    """Move `production` to `version` if it passes the release gate against production; return the decision.

    A refused version leaves production unchanged; a promoted one leaves `staging`.
    """
    mv = model_version(version)
    version, semver, accuracy = str(mv.version), mv.tags.get("semver", "?"), float(mv.tags.get("accuracy", "nan"))
    current = alias_version("production")
    current_accuracy = accuracy_of(current) if current else None

    def decide(promoted: bool, reason: str) -> PromotionResult:
        return PromotionResult(version, semver, promoted, reason, accuracy, current, current_accuracy)

    if current == version:
        return decide(False, "it is already in production")
    gate = release_gate(accuracy, current_accuracy, min_accuracy=min_accuracy)
    if not gate.passed:
        return decide(False, gate.reason)
    set_alias("production", version)
    if alias_version("staging") == version:
        delete_alias("staging")
    return decide(True, gate.reason)


def rollback() -> str:
    """Move `production` back to the previous production version; return that version."""
    earlier = history()
    if not earlier:
        raise TrackingError(f"model {store.REGISTERED_MODEL!r} has no previous production version to roll back to")
    previous = earlier.pop()
    with store.quiet():
        store.client().set_registered_model_alias(store.REGISTERED_MODEL, "production", previous)
        store.client().set_registered_model_tag(store.REGISTERED_MODEL, HISTORY_TAG, ",".join(earlier))
    sync_status()
    return previous


def load_alias(alias: str) -> Any:
    """Return the pyfunc model `models:/course-classifier@<alias>`; TrackingError names the aliases that exist.

    scikit-learn versions were logged with pyfunc_predict_fn="predict_proba": their `predict` returns an (n, 2)
    array of class probabilities. The XGBoost version's pyfunc returns class labels.
    """
    known = aliases()
    if alias not in known:
        raise TrackingError(f"model {store.REGISTERED_MODEL!r} has no alias {alias!r} "
                            f"(its aliases: {', '.join(sorted(known)) or 'none'})")
    import mlflow.pyfunc

    with store.quiet():  # the requirements were pinned from this very environment: no mismatch check (~1 s)
        return mlflow.pyfunc.load_model(f"models:/{store.REGISTERED_MODEL}@{alias}", suppress_warnings=True)


def registry_table() -> pd.DataFrame:
    """Return one row per registered version: version, semver, algorithm, accuracy (validation), aliases, status."""
    columns = ["version", "semver", "algorithm", "accuracy", "aliases", "status"]
    current = aliases()
    with store.quiet():
        versions = store.client().search_model_versions(f"name = '{store.REGISTERED_MODEL}'")
    rows = [{"version": int(mv.version), "semver": mv.tags.get("semver", ""), "algorithm": mv.tags.get("algorithm", ""),
             "accuracy": float(mv.tags.get("accuracy", "nan")),
             "aliases": ", ".join(sorted(a for a, v in current.items() if v == str(mv.version))),
             "status": mv.tags.get("status", "")} for mv in versions]
    return pd.DataFrame(rows, columns=columns).sort_values("version").reset_index(drop=True)


def register_chapter_versions(experiment: str = store.EXPERIMENT) -> pd.DataFrame:
    """Register the chapter's four experiments as v1.0.0 … v2.1.0 (logging them first if missing); return the table.

    v1.0.0, the reference forest that notebooks 03-04 packaged and served, becomes production; the tuned forest
    v1.1.0 goes to staging, waiting for the gate.
    """
    runs = {name: logged_run(name, experiment) for name in CHAPTER_RUNS}
    if any(run is None for run in runs.values()):
        run_chapter_experiments(experiment)
        runs = {name: logged_run(name, experiment) for name in CHAPTER_RUNS}
    numbers = {}
    for name, semver in CHAPTER_VERSIONS.items():
        result = runs[name]
        assert result is not None
        m = result.metrics
        numbers[semver] = register_model(result, semver, f"{semver}: {result.algorithm} from run {name}; validation "
                                         f"accuracy {m['accuracy']:.4f}, F1 {m['f1']:.4f}, ROC AUC {m['roc_auc']:.4f}.")
    set_alias("production", numbers["v1.0.0"])
    set_alias("staging", numbers["v1.1.0"])
    return registry_table()
