"""Predictions: one row or a batch, each body validated by the pydantic contract before the model sees it."""

from __future__ import annotations

import uuid

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from helpers.api import schemas
from helpers.api.contract import BatchRequest, PredictRequest, batch_rows, body_doc
from helpers.api.deps import get_model, get_state, json_body, parsed_body, validated
from helpers.api.errors import problem_docs
from helpers.api.scoring import ROW_CHUNKS
from helpers.api.state import ApiState, ServingModel
from helpers.packaging import TIE_TOLERANCE, winning_class

ERRORS = problem_docs(400, 413, 415, 422, 429, 503)


async def score(model: ServingModel, X: np.ndarray) -> np.ndarray:
    """Return probabilities: onnxruntime inline on the event loop (tens of µs for a row: less than the hop to a
    worker thread and back; a large batch in row chunks on every core), scikit-learn in the thread pool
    (milliseconds that would stall every other request)."""
    if model.backend == "onnx":
        return ROW_CHUNKS.proba(model.proba, X)
    return await run_in_threadpool(model.proba, X)


def answered(state: ApiState, X: np.ndarray, labels: np.ndarray, body: dict) -> Response:
    """Remember the request for monitoring, count its predictions, and return the JSON response with its id."""
    request_id = str(uuid.uuid4())
    state.window.remember(request_id, X, labels)
    state.metrics.count_predictions(labels.tolist())
    content = orjson.dumps({**body, "request_id": request_id})
    return Response(content, media_type="application/json", headers={"x-request-id": request_id})


async def predict(request: Request) -> Response:
    """Predict one row of exactly 20 finite numbers."""
    row = (await parsed_body(request, PredictRequest)).features
    state = get_state(request)
    model = get_model(state)
    X = np.array([row], dtype=np.float64)
    proba = (await score(model, X))[0].tolist()
    top = max(proba)  # the winning_class rule on one row, in plain Python (numpy costs more for two numbers):
    label = next(c for c, p in enumerate(proba) if p >= top - TIE_TOLERANCE)  # a 50/50 vote goes to class 0
    p0, p1 = round(proba[0], 6), round(proba[1], 6)
    return answered(state, X, np.array([label]), {"prediction": label, "probabilities": {"0": p0, "1": p1},
                                                  "confidence": max(p0, p1), "model_version": model.version})


async def predict_batch(request: Request) -> Response:
    """Predict 1 to 1,000 rows at once."""
    body = await json_body(request)
    X = batch_rows(body)
    if X is None:  # not a valid batch for the fast check: pydantic decides, and names the field if it is wrong
        X = np.array(validated(body, BatchRequest).rows, dtype=np.float64)
    state = get_state(request)
    model = get_model(state)
    raw = await score(model, X)
    labels, proba = winning_class(raw), np.round(raw.astype(np.float64), 6)  # float64: no float32 digits
    columns = labels.tolist(), *proba.T.tolist(), proba.max(axis=1).tolist()  # lists: cheaper per row than numpy
    predictions = [{"prediction": c, "probabilities": {"0": a, "1": b}, "confidence": top}
                   for c, a, b, top in zip(*columns, strict=True)]
    return answered(state, X, labels, {"predictions": predictions, "count": len(predictions),
                                       "model_version": model.version})


def add_routes(app: FastAPI) -> None:
    """Serve /predict and /predict_batch on the app itself. An included router's routes are reached through extra
    matching layers in FastAPI 0.165 (about 45 more Python calls per request): fine elsewhere, not on the hot path."""
    common = {"methods": ["POST"], "tags": ["predictions"], "responses": ERRORS}
    app.add_api_route("/predict", predict, response_model=schemas.PredictResponse,
                      openapi_extra=body_doc(PredictRequest), **common)
    app.add_api_route("/predict_batch", predict_batch, response_model=schemas.BatchResponse,
                      openapi_extra=body_doc(BatchRequest), **common)
