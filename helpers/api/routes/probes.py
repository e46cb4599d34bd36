"""Liveness and readiness: what Kubernetes asks before restarting a pod or sending it traffic."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from helpers.api import schemas
from helpers.api.deps import get_state
from helpers.api.errors import problem_docs

router = APIRouter(tags=["probes"])


@router.get("/health", response_model=schemas.Health)
async def health(request: Request) -> JSONResponse:
    """Liveness: 200 while the process runs."""
    state = get_state(request)
    model = state.model
    return JSONResponse({"status": "ok", "model_version": model.version if model else None,
                         "uptime_seconds": round(time.monotonic() - state.started, 3)})


@router.get("/ready", response_model=schemas.Readiness, responses=problem_docs(503))
async def ready(request: Request) -> JSONResponse:
    """Readiness: 200 only once the model is loaded and answered a warm-up prediction."""
    state = get_state(request)
    if state.model is None:
        return JSONResponse({"ready": False, "model_version": None, "reason": state.not_ready_reason},
                            status_code=503)
    return JSONResponse({"ready": True, "model_version": state.model.version, "reason": None})
