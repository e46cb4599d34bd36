"""Which model answers, and retraining it in the background behind the release gate."""

from __future__ import annotations

import threading
import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from helpers.api import schemas
from helpers.api.contract import body_doc
from helpers.api.deps import get_model, get_state, parsed_body, require_token
from helpers.api.errors import ApiError, problem_docs
from helpers.api.state import RUNNING, ApiState

router = APIRouter(tags=["model"])


@router.get("/model_info")
async def model_info(state: ApiState = Depends(get_state)) -> JSONResponse:  # noqa: B008
    """The model card from metadata.json plus serving facts."""
    model = get_model(state)
    card = {k: v for k, v in model.card.items() if k != "monitoring_reference"}
    return JSONResponse({"model": card, "serving": {
        "version": model.version, "backend": model.backend, "loaded_at": model.loaded_at,
        "bundle": model.directory.name, "retraining_enabled": bool(state.settings.retrain_token),
        "rate_limit_per_minute": state.settings.rate_limit_per_minute}})


@router.post("/retrain", status_code=202, response_model=schemas.RetrainAccepted,
             responses=problem_docs(400, 401, 403, 409, 413, 415, 422, 429, 503), dependencies=[Depends(require_token)],
             openapi_extra=body_doc(schemas.RetrainRequest, required=False))
async def retrain(request: Request) -> JSONResponse:
    """Train a candidate in the background; it replaces the serving model only if it passes the gate."""
    from helpers.api.retraining import run_job  # scikit-learn and pandas load only when a job is asked for

    body = await parsed_body(request, schemas.RetrainRequest, optional=True)
    state = get_state(request)
    get_model(state)
    if not state.retrain_lock.acquire(blocking=False):
        running = next((j["job_id"] for j in state.jobs.values() if j["status"] in RUNNING), "?")
        raise ApiError(409, f"a retraining job is already running ({running})", [], "conflict")
    job_id = str(uuid.uuid4())
    state.jobs[job_id] = {"job_id": job_id, "status": "queued", "progress": 0.0, "message": "queued",
                          "request": body.model_dump()}
    threading.Thread(target=run_job, args=(state, job_id), name=f"retrain-{job_id[:8]}", daemon=True).start()
    return JSONResponse({"job_id": job_id, "status": "queued", "status_url": f"/retrain/{job_id}"}, status_code=202)


@router.get("/retrain/{job_id}", response_model=schemas.RetrainJob, responses=problem_docs(404))
async def retrain_status(job_id: str, state: ApiState = Depends(get_state)) -> JSONResponse:  # noqa: B008
    """Progress and outcome of a retraining job."""
    job = state.jobs.get(job_id)
    if job is None:
        raise ApiError(404, f"no retraining job {job_id[:64]!r}", ["path", "job_id"], "not_found")
    return JSONResponse(dict(job))
