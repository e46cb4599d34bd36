"""Predictions: one row through the pydantic contract, a batch through its fast path (same contract on failure)."""

from __future__ import annotations

import uuid

import numpy as np
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from helpers.api import contract, schemas
from helpers.api.deps import get_model, get_state, json_body
from helpers.api.errors import ApiError, problem_docs
from helpers.api.state import ApiState, ServingModel

router = APIRouter(tags=["predictions"])
ERRORS = problem_docs(400, 413, 415, 422, 429, 503)


def body_doc(model: type) -> dict:
    """Return openapi_extra documenting a JSON body this router validates itself (schema and example)."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": model.model_json_schema(ref_template="#/components/schemas/{model}"),
        "examples": {"example": {"value": model.model_config["json_schema_extra"]["examples"][0]}}}}}}


def validated(model: type, body: bytes):  # noqa: ANN201 - returns an instance of `model`
    """Return `body` parsed by the pydantic `model`, or raise ApiError with the contract's messages."""
    try:
        return model.model_validate_json(body)
    except ValidationError as err:
        status, detail = contract.problems(err)
        raise ApiError(status, detail[0]["msg"], detail=detail) from None


async def score(model: ServingModel, X: np.ndarray) -> np.ndarray:
    """Return probabilities: onnxruntime inline (tens of µs, less than a thread-pool hop), scikit-learn in a thread."""
    if model.backend == "onnx":
        return model.proba(X)
    return await run_in_threadpool(model.proba, X)


def answered(state: ApiState, X: np.ndarray, labels: np.ndarray, body: dict) -> Response:
    """Remember the request for monitoring, count its predictions, and return the JSON response with its id."""
    request_id = str(uuid.uuid4())
    state.window.remember(request_id, X, labels)
    state.metrics.count_predictions(labels.tolist())
    content = orjson.dumps({**body, "request_id": request_id})
    return Response(content, media_type="application/json", headers={"x-request-id": request_id})


@router.post("/predict", response_model=schemas.PredictResponse, responses=ERRORS,
             openapi_extra=body_doc(contract.PredictRequest))
async def predict(request: Request) -> Response:
    """Predict one row of exactly 20 finite numbers."""
    row = validated(contract.PredictRequest, await json_body(request)).features
    state = get_state(request)
    model = get_model(state)
    X = np.array([row], dtype=np.float64)
    proba = (await score(model, X))[0]
    label = int(proba.argmax())
    p0, p1 = round(float(proba[0]), 6), round(float(proba[1]), 6)
    return answered(state, X, np.array([label]), {"prediction": label, "probabilities": {"0": p0, "1": p1},
                                                  "confidence": max(p0, p1), "model_version": model.version})


@router.post("/predict_batch", response_model=schemas.BatchResponse, responses=ERRORS,
             openapi_extra=body_doc(contract.BatchRequest))
async def predict_batch(request: Request) -> Response:
    """Predict 1 to 1,000 rows at once."""
    body = await json_body(request)
    X = contract.fast_rows(body)
    if X is None:
        X = np.array(validated(contract.BatchRequest, body).rows, dtype=np.float64)
    state = get_state(request)
    model = get_model(state)
    raw = await score(model, X)
    labels, proba = raw.argmax(axis=1), np.round(raw, 6)
    predictions = [{"prediction": c, "probabilities": {"0": a, "1": b}, "confidence": max(a, b)}
                   for c, (a, b) in zip(labels.tolist(), proba.tolist(), strict=True)]
    return answered(state, X, labels, {"predictions": predictions, "count": len(predictions),
                                       "model_version": model.version})
