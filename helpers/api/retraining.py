"""One retraining job: train the candidate recipe, gate it against the serving model on validation, swap it in.

An accepted candidate is the serving recipe on more data, so it gets the next patch version (1.0.0 -> 1.0.1).
"""

from __future__ import annotations

import logging
import traceback

from helpers.api.state import ApiState, load_serving_model
from helpers.common.release import next_version, release_gate
from helpers.data import split_dataset
from helpers.model import Recipe, evaluate
from helpers.packaging import SERVING_FORMATS, save_model_bundle

log = logging.getLogger("helpers.api.retraining")


def update(state: ApiState, job_id: str, status: str, progress: float, message: str, **facts: object) -> None:
    """Replace the job record (readers always see a complete record)."""
    state.jobs[job_id] = {**state.jobs[job_id], "status": status, "progress": progress, "message": message, **facts}


def recipe_of(request: dict) -> Recipe:
    """Return the training recipe a /retrain request asks for: the reference recipe with the fields it sets."""
    params = {k: request[k] for k in ("n_estimators", "max_depth") if request.get(k) is not None}
    return Recipe(params=params, extra_rows=request["extra_rows"], shuffle_labels=request["shuffle_labels"])


def run_job(state: ApiState, job_id: str) -> None:
    """Run one job to its end: accepted, rejected or failed; the retraining lock is released in every case."""
    try:
        serving = state.model
        update(state, job_id, "training", 0.1, "training the candidate")
        split = split_dataset()
        recipe = recipe_of(state.jobs[job_id]["request"])
        candidate = recipe.fit(split)

        update(state, job_id, "validating", 0.6, "comparing candidate and serving model on the validation rows")
        metrics = {k: round(v, 6) for k, v in evaluate(candidate, split.X_val, split.y_val).items()}
        serving_accuracy = round(float((serving.predictor.predict(split.X_val) == split.y_val).mean()), 6)
        gate = release_gate(metrics["accuracy"], serving_accuracy, margin=state.settings.gate_margin)
        facts = {"candidate_metrics": metrics, "serving_metrics": {"accuracy": serving_accuracy},
                 "previous_version": serving.version}
        if not gate.passed:
            state.metrics.retrains.labels(outcome="rejected").inc()
            update(state, job_id, "rejected", 1.0, f"rejected: {gate.reason}; v{serving.version} keeps serving",
                   **facts)
            return

        update(state, job_id, "packaging", 0.8, "packaging and loading the candidate", **facts)
        version = next_version(serving.version, "patch")
        directory = state.retrain_dir / f"v{version}"
        X_train, _ = recipe.training_set(split)
        save_model_bundle(candidate, metrics, directory, version=version, X_train=X_train, formats=SERVING_FORMATS,
                          extra={"recipe": recipe.describe()})
        state.install(load_serving_model(directory, state.settings.backend))
        state.metrics.retrains.labels(outcome="accepted").inc()
        update(state, job_id, "accepted", 1.0, f"accepted: v{version} now serves ({gate.reason})",
               new_version=version, **facts)
    except Exception as err:  # noqa: BLE001 - a crashed job is reported; the serving model is untouched
        log.error("retraining job %s failed:\n%s", job_id, traceback.format_exc())
        state.metrics.retrains.labels(outcome="failed").inc()
        update(state, job_id, "failed", 1.0, f"failed: {type(err).__name__}: {err}; the serving model is unchanged")
    finally:
        state.retrain_lock.release()
