"""The course's reference model: the seed's RandomForest, trained once and cached under artifacts/."""

from __future__ import annotations

import json
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from helpers import paths
from helpers.data import SEED, split_dataset

REFERENCE_PARAMS: dict = {"n_estimators": 100, "random_state": SEED}
REFERENCE_MODEL_FILE = "reference_model.joblib"
REFERENCE_METRICS_FILE = "reference_metrics.json"


def make_reference_model() -> RandomForestClassifier:
    """Return an unfitted RandomForest with the course's settings (100 trees, seed 42)."""
    return RandomForestClassifier(**REFERENCE_PARAMS)


def evaluate(model, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Return accuracy, precision, recall, F1 and ROC AUC of a fitted classifier on (X, y)."""
    pred = model.predict(X)
    proba = model.predict_proba(X)[:, 1]
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(y, proba)),
    }


def train_reference_model(directory: Path | None = None) -> tuple[RandomForestClassifier, dict]:
    """Train the reference model on the 70% split, save it and its test metrics; return (model, metrics)."""
    directory = Path(directory or paths.ARTIFACTS_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    X_train, X_test, y_train, y_test = split_dataset()
    model = make_reference_model()
    start = time.perf_counter()
    model.fit(X_train, y_train)
    train_seconds = time.perf_counter() - start
    metrics = evaluate(model, X_test, y_test)
    joblib.dump(model, directory / REFERENCE_MODEL_FILE)
    record = {"metrics": metrics, "train_seconds": train_seconds, "params": REFERENCE_PARAMS,
              "train_rows": int(len(y_train)), "test_rows": int(len(y_test))}
    (directory / REFERENCE_METRICS_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return model, metrics


def load_reference_model(directory: Path | None = None) -> RandomForestClassifier:
    """Return the cached reference model, training and caching it first if it is missing."""
    directory = Path(directory or paths.ARTIFACTS_DIR)
    path = directory / REFERENCE_MODEL_FILE
    if not path.exists():
        return train_reference_model(directory)[0]
    return joblib.load(path)


def load_reference_metrics(directory: Path | None = None) -> dict[str, float]:
    """Return the reference model's test-set metrics (training the model first if needed)."""
    directory = Path(directory or paths.ARTIFACTS_DIR)
    path = directory / REFERENCE_METRICS_FILE
    if not path.exists():
        train_reference_model(directory)
    return json.loads(path.read_text())["metrics"]
