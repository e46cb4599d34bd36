"""What the API holds between requests: its settings, the serving model (swapped whole), metrics, jobs, window."""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from helpers.api.metrics import ApiMetrics
from helpers.api.window import MonitoringWindow
from helpers.common import paths
from helpers.common.schema import GATE_MARGIN, N_FEATURES
from helpers.monitoring.psi import ReferenceBins
from helpers.packaging import Predictor, load_model

BACKEND_FORMATS = {"onnx": "onnx", "sklearn": "joblib"}
RUNNING = ("queued", "training", "validating", "packaging")
"""Retraining job statuses before the end; a job ends as accepted, rejected or failed."""


@dataclass(frozen=True)
class ApiSettings:
    """How one API process is configured (command line, environment or code)."""

    model_dir: Path | None = None  # None: the bundle notebook 03 writes, built if missing
    backend: str = "onnx"
    retrain_token: str | None = None
    rate_limit_per_minute: float | None = None
    rate_limit_burst: int | None = None
    gate_margin: float = GATE_MARGIN
    retrain_dir: Path | None = None  # None: paths.RETRAINED_DIR
    models_dir: Path | None = None  # a model repository served on /v2 (advanced notebook A1); None: the one model
    rollout_token: str | None = None  # lets PUT /rollout/{name} change a model's routing; None: routing is fixed

    @classmethod
    def from_env(cls) -> ApiSettings:
        """Return the settings from MODEL_DIR, MODEL_BACKEND, RETRAIN_TOKEN, RATE_LIMIT_*, RETRAIN_*, MODELS_DIR and
        ROLLOUT_TOKEN variables."""
        env = os.environ.get
        rate, burst = float(env("RATE_LIMIT_PER_MINUTE", "0") or 0), env("RATE_LIMIT_BURST")
        return cls(model_dir=Path(env("MODEL_DIR")) if env("MODEL_DIR") else None,
                   backend=env("MODEL_BACKEND", "onnx"), retrain_token=env("RETRAIN_TOKEN") or None,
                   rate_limit_per_minute=rate or None, rate_limit_burst=int(burst) if burst else None,
                   gate_margin=float(env("RETRAIN_GATE_MARGIN", str(GATE_MARGIN))),
                   retrain_dir=Path(env("RETRAIN_DIR")) if env("RETRAIN_DIR") else None,
                   models_dir=Path(env("MODELS_DIR")) if env("MODELS_DIR") else None,
                   rollout_token=env("ROLLOUT_TOKEN") or None)


@dataclass(frozen=True)
class ServingModel:
    """A loaded bundle and the facts about it; replaced as a whole, never modified."""

    predictor: Predictor
    version: str
    backend: str
    directory: Path
    loaded_at: str
    card: dict
    reference: dict[str, ReferenceBins]

    def proba(self, X: np.ndarray) -> np.ndarray:
        """Return class probabilities for rows the contract already checked."""
        return self.predictor.proba_checked(X)


def load_serving_model(directory: Path, backend: str) -> ServingModel:
    """Load and warm up a bundle (integrity-checked) for the chosen backend; return it ready to serve."""
    if backend not in BACKEND_FORMATS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKEND_FORMATS)}")
    predictor = load_model(directory, BACKEND_FORMATS[backend], verify=True)
    predictor.predict_proba(np.zeros((1, N_FEATURES)))  # warm-up: the first call pays lazy initialisation
    card = predictor.metadata
    reference = {f: ReferenceBins(np.asarray(r["edges"]), np.asarray(r["shares"]))
                 for f, r in card.get("monitoring_reference", {}).items()}
    return ServingModel(predictor, card["version"], backend, Path(directory),
                        datetime.now(UTC).isoformat(timespec="seconds"), card, reference)


@dataclass
class ApiState:
    """Everything one app instance holds between requests."""

    settings: ApiSettings
    metrics: ApiMetrics = field(default_factory=ApiMetrics)
    window: MonitoringWindow = field(default_factory=MonitoringWindow)
    model: ServingModel | None = None
    not_ready_reason: str | None = "the model is loading"
    jobs: dict[str, dict] = field(default_factory=dict)
    retrain_lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.monotonic)

    @property
    def model_dir(self) -> Path:
        """Return the folder of the bundle served at start-up."""
        return Path(self.settings.model_dir or paths.MODEL_DIR)

    @property
    def retrain_dir(self) -> Path:
        """Return the folder accepted retrained bundles are written to."""
        return Path(self.settings.retrain_dir or paths.RETRAINED_DIR)

    def install(self, model: ServingModel) -> None:
        """Swap `model` in (one reference assignment: a request sees the old model or the new, never a mix)."""
        self.model = model
        self.not_ready_reason = None
        self.metrics.set_model(model.version, model.backend, float(model.card.get("metrics", {}).get(
            "accuracy", math.nan)))
