"""Notebook 04: the model API as a FastAPI app, assembled from its parts (state, errors, metrics, routers).

Serve it with `python -m helpers.api --port 8000` (uvicorn); test it in-process with FastAPI's TestClient.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from helpers.api.errors import install_error_handlers
from helpers.api.metrics import MetricsMiddleware, TokenBucket
from helpers.api.repository import open_repository
from helpers.api.routes import model, monitoring, predict, probes, rollout, v2
from helpers.api.state import ApiSettings, ApiState, load_serving_model

log = logging.getLogger("helpers.api")


def create_app(settings: ApiSettings | None = None, **changes: Any) -> FastAPI:
    """Return the API app for `settings` (default ApiSettings()), with any field changed by keyword.

    The model loads at start-up (the lifespan): /ready answers 503 until it has, and a bundle that fails its
    integrity check stops the server with the reason.
    """
    settings = dataclasses.replace(settings or ApiSettings(), **changes)
    state = ApiState(settings)

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        if settings.model_dir is None:
            from helpers.packaging import ensure_model_bundle

            ensure_model_bundle(state.model_dir)
        state.install(load_serving_model(state.model_dir, settings.backend))
        log.info("serving %s v%s with %s", state.model_dir.name, state.model.version, settings.backend)
        open_repository(served)  # the /v2 model repository, when settings.models_dir names one
        if settings.retrain_token:
            threading.Thread(target=preload_training, name="preload-training", daemon=True).start()
        yield

    app = FastAPI(title="Course model API", version="1.0.0", lifespan=lifespan,
                  description="Predictions from the course's RandomForest, with health, readiness, retraining "
                              "behind a gate, and Prometheus metrics.")
    app.state.api = state
    limiter = TokenBucket(settings.rate_limit_per_minute, settings.rate_limit_burst) \
        if settings.rate_limit_per_minute else None
    app.add_middleware(MetricsMiddleware, metrics=state.metrics, limiter=limiter)
    install_error_handlers(app)
    predict.add_routes(app)  # first, and on the app itself: /predict is the hot path
    for router in (probes.router, model.router, monitoring.router, v2.router, rollout.router):
        app.include_router(router)
    return app


def preload_training() -> None:
    """Import what a retraining job needs (scikit-learn, pandas, the ONNX converter): run in a background thread
    by a server that may retrain, so its first job starts at once. A server that cannot retrain never loads it."""
    for name in ("helpers.api.retraining", "skl2onnx", "skops.io"):
        importlib.import_module(name)


def create_app_from_env() -> FastAPI:
    """Return the app configured from environment variables (what uvicorn workers and containers use)."""
    return create_app(ApiSettings.from_env())
