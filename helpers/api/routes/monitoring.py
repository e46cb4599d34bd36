"""Monitoring: delayed ground truth comes back (/feedback), Prometheus scrapes the gauges (/metrics)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from helpers.api import schemas
from helpers.api.contract import body_doc
from helpers.api.deps import get_state, parsed_body
from helpers.api.errors import ApiError, problem_docs
from helpers.api.state import ApiState

router = APIRouter(tags=["monitoring"])


@router.post("/feedback", responses=problem_docs(400, 404, 413, 415, 422, 429),
             openapi_extra=body_doc(schemas.Feedback))
async def feedback(request: Request) -> JSONResponse:
    """Delayed ground truth for an earlier request; feeds the model_accuracy metric."""
    body = await parsed_body(request, schemas.Feedback)
    state = get_state(request)
    try:
        accuracy = state.window.record_truth(body.request_id, body.labels)
    except KeyError:
        raise ApiError(404, f"unknown or expired request_id {body.request_id!r}", ["body", "request_id"],
                       "not_found") from None
    except ValueError as err:
        raise ApiError(422, str(err), ["body", "labels"], "length") from None
    state.metrics.labelled_rows.inc(len(body.labels))
    state.metrics.accuracy.set(accuracy)
    return JSONResponse({"accepted": len(body.labels), "window_accuracy": round(accuracy, 6)})


@router.get("/metrics", response_class=Response)
async def metrics(state: ApiState = Depends(get_state)) -> Response:  # noqa: B008
    """Prometheus text format: requests, latency, predictions per class, model info, drift, accuracy."""
    reference = state.model.reference if state.model else {}
    for feature, value in state.window.psi(reference).items():
        state.metrics.psi.labels(feature=feature).set(value)
    state.metrics.window_rows.set(state.window.filled)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
