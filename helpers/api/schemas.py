"""The shapes of the API's answers and of its other requests (retraining, feedback), for validation and /docs."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from helpers.common.schema import BACKLOG_ROWS, MAX_BATCH_ROWS


class Prediction(BaseModel):
    """The model's answer for one row."""

    prediction: int
    probabilities: dict[str, float]
    confidence: float


class PredictResponse(Prediction):
    """The answer to POST /predict."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "prediction": 1, "probabilities": {"0": 0.13, "1": 0.87}, "confidence": 0.87,
        "model_version": "1.0.0", "request_id": "4f0c1f7e-2b7e-4a57-9d8e-6d1c2f5e9a10"}]})
    model_version: str
    request_id: str


class BatchResponse(BaseModel):
    """The answer to POST /predict_batch: one prediction per row, in order."""

    predictions: list[Prediction]
    count: int
    model_version: str
    request_id: str


class Health(BaseModel):
    """Liveness: the process is up."""

    status: str
    model_version: str | None
    uptime_seconds: float


class Readiness(BaseModel):
    """Readiness: the model is loaded and answered a warm-up prediction."""

    ready: bool
    model_version: str | None
    reason: str | None = None


class RetrainRequest(BaseModel):
    """How to train the candidate: the reference recipe with these changes. The defaults retrain it as it is.

    Strict: a JSON number where an integer belongs (1.0), or a boolean where a number belongs, is refused.
    """

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"extra_rows": 1000}]})
    n_estimators: int | None = Field(None, ge=1, le=500, description="trees in the forest (None: the recipe's 100)")
    max_depth: int | None = Field(None, ge=1, le=100, description="maximum tree depth (None: unlimited)")
    extra_rows: int = Field(0, ge=0, le=BACKLOG_ROWS, description="labelled backlog rows added to the training rows")
    shuffle_labels: bool = Field(False, description="train on shuffled labels: a broken candidate the gate must stop")


class RetrainAccepted(BaseModel):
    """A retraining job was queued."""

    job_id: str
    status: str
    status_url: str


class RetrainJob(BaseModel):
    """Progress and outcome of a retraining job."""

    job_id: str
    status: str
    progress: float
    message: str
    request: dict
    candidate_metrics: dict | None = None
    serving_metrics: dict | None = None
    previous_version: str | None = None
    new_version: str | None = None


class Feedback(BaseModel):
    """Delayed ground truth for an earlier request: one label (0 or 1) per row of that request."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"request_id": "4f0c1f7e-2b7e-4a57-9d8e-6d1c2f5e9a10", "labels": [1]}]})
    request_id: str = Field(min_length=1, max_length=64)
    labels: list[Annotated[int, Field(ge=0, le=1)]] = Field(min_length=1, max_length=MAX_BATCH_ROWS)
