"""Background retraining for the API: train a candidate, gate it on held-out data, swap it in atomically."""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING

import numpy as np

from helpers.data import FEATURES, TARGET, load_production_pool, split_dataset
from helpers.model import evaluate, make_reference_model
from helpers.packaging import save_model_bundle

if TYPE_CHECKING:
    from helpers.serving import ApiState

log = logging.getLogger("helpers.retraining")


def next_version(version: str) -> str:
    """Return the next minor semantic version: 1.0.0 -> 1.1.0."""
    major, minor, *_ = (int(p) for p in version.split("."))
    return f"{major}.{minor + 1}.0"


def _update(state: ApiState, job_id: str, status: str, progress: float, message: str, **extra: object) -> None:
    """Replace the job record (readers always see a complete record)."""
    state.jobs[job_id] = {**state.jobs[job_id], "status": status, "progress": progress, "message": message, **extra}


def run_job(state: ApiState, job_id: str) -> None:
    """Run one retraining job to its end: accepted, rejected or failed; the lock is released in all cases."""
    from helpers.serving import install_model, load_serving_model

    try:
        request = state.jobs[job_id]["request"]
        serving = state.model
        _update(state, job_id, "training", 0.1, "training the candidate")
        X_train, X_test, y_train, y_test = split_dataset()
        if request["extra_rows"]:
            pool = load_production_pool().iloc[: request["extra_rows"]]
            X_train = np.vstack([X_train, pool[FEATURES].to_numpy()])
            y_train = np.concatenate([y_train, pool[TARGET].to_numpy()])
        if request["shuffle_labels"]:
            y_train = np.random.default_rng(0).permutation(y_train)
        candidate = make_reference_model().set_params(n_estimators=request["n_estimators"],
                                                      max_depth=request["max_depth"])
        candidate.fit(X_train, y_train)

        _update(state, job_id, "validating", 0.6, "comparing candidate and serving model on held-out data")
        candidate_metrics = {k: round(v, 6) for k, v in evaluate(candidate, X_test, y_test).items()}
        serving_pred = serving.predictor.predict(X_test)
        serving_metrics = {"accuracy": round(float(np.mean(serving_pred == y_test)), 6)}
        floor = serving_metrics["accuracy"] - state.gate_margin
        facts = {"candidate_metrics": candidate_metrics, "serving_metrics": serving_metrics,
                 "previous_version": serving.version}
        if candidate_metrics["accuracy"] < floor:
            state.metrics.retrains.labels(outcome="rejected").inc()
            _update(state, job_id, "rejected", 1.0,
                    f"rejected: candidate accuracy {candidate_metrics['accuracy']:.4f} is below the gate "
                    f"{floor:.4f} (serving {serving_metrics['accuracy']:.4f} minus margin {state.gate_margin}); "
                    f"v{serving.version} keeps serving", **facts)
            return

        _update(state, job_id, "packaging", 0.8, "packaging and loading the candidate", **facts)
        version = next_version(serving.version)
        directory = state.retrain_dir / f"v{version}"
        formats = ("onnx", "joblib")  # what the two serving backends load; the other formats are for people
        save_model_bundle(candidate, candidate_metrics, directory, version=version, X_train=X_train, formats=formats)
        new_model = load_serving_model(directory, state.backend)
        install_model(state, new_model)
        state.metrics.retrains.labels(outcome="accepted").inc()
        _update(state, job_id, "accepted", 1.0,
                f"accepted: v{version} now serves (accuracy {candidate_metrics['accuracy']:.4f} vs "
                f"{serving_metrics['accuracy']:.4f})", new_version=version, **facts)
    except Exception as err:  # noqa: BLE001 - a crashed job is reported; the serving model is untouched
        log.error("retraining job %s failed:\n%s", job_id, traceback.format_exc())
        state.metrics.retrains.labels(outcome="failed").inc()
        _update(state, job_id, "failed", 1.0, f"failed: {type(err).__name__}: {err}; the serving model is unchanged")
    finally:
        state.retrain_lock.release()
