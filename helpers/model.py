"""Notebook 02: the reference forest, the one training recipe every later model follows, and honest evaluation."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from helpers.common import paths
from helpers.common.schema import FEATURES, SEED, TARGET
from helpers.data import Split, backlog, ensure_production_pool, split_dataset

REFERENCE_PARAMS: dict[str, Any] = {"n_estimators": 100, "random_state": SEED}
MODEL_FILE = "reference_model.joblib"
RECORD_FILE = "reference_metrics.json"
HOW_TO_CREATE = "run notebooks/02_training.ipynb or call helpers.model.ensure_reference_model()"


def make_reference_model(**overrides: Any) -> RandomForestClassifier:
    """Return an unfitted RandomForest with the course's settings (100 trees, seed 42), `overrides` applied."""
    return RandomForestClassifier(**{**REFERENCE_PARAMS, **overrides})


def evaluate(model: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Return accuracy, precision, recall, F1 and ROC AUC of a fitted classifier on (X, y)."""
    proba = model.predict_proba(X)[:, 1]
    pred = model.predict(X)
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(y, proba)),
    }


@dataclass(frozen=True)
class Recipe:
    """How a model of the course is trained: the reference forest's settings changed by `params`, fitted on the
    training rows plus the first `extra_rows` rows of the labelled backlog, with labels shuffled on request (a
    deliberately broken candidate for the gates to stop)."""

    params: dict[str, Any] = field(default_factory=dict)
    extra_rows: int = 0
    shuffle_labels: bool = False

    def training_set(self, split: Split) -> tuple[np.ndarray, np.ndarray]:
        """Return (X, y) this recipe trains on."""
        X, y = split.X_train, split.y_train
        if self.extra_rows:
            extra = backlog(ensure_production_pool()).iloc[: self.extra_rows]
            X = np.vstack([X, extra[FEATURES].to_numpy(dtype=np.float64)])
            y = np.concatenate([y, extra[TARGET].to_numpy(dtype=np.int64)])
        if self.shuffle_labels:
            y = np.random.default_rng(SEED).permutation(y)
        return X, y

    def fit(self, split: Split) -> RandomForestClassifier:
        """Return the recipe's forest, fitted."""
        X, y = self.training_set(split)
        return make_reference_model(**self.params).fit(X, y)

    def describe(self) -> dict[str, Any]:
        """Return the recipe as plain parameters (for a run log or a model card)."""
        return {**REFERENCE_PARAMS, **self.params, "extra_rows": self.extra_rows,
                "shuffle_labels": self.shuffle_labels}


def train_reference_model(directory: Path | None = None) -> tuple[RandomForestClassifier, dict]:
    """Fit the reference forest on the training rows, score it on validation and, once, on test; save both.

    Return (model, record) where record holds the validation and test metrics and the training time.
    """
    import joblib

    directory = Path(directory or paths.REFERENCE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    split = split_dataset()
    model = make_reference_model()
    start = time.perf_counter()
    model.fit(split.X_train, split.y_train)
    record = {"train_seconds": time.perf_counter() - start, "params": REFERENCE_PARAMS, "rows": split.sizes(),
              "validation": evaluate(model, split.X_val, split.y_val),
              "test": evaluate(model, split.X_test, split.y_test)}
    joblib.dump(model, directory / MODEL_FILE)
    (directory / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return model, record


def load_reference_model(directory: Path | None = None) -> RandomForestClassifier:
    """Return the reference forest notebook 02 saved; FileNotFoundError says how to create it."""
    import joblib

    path = Path(directory or paths.REFERENCE_DIR) / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {paths.relative(path)}: {HOW_TO_CREATE}")
    return joblib.load(path)


def load_reference_record(directory: Path | None = None) -> dict:
    """Return the reference forest's record: validation and test metrics, training time, row counts."""
    path = Path(directory or paths.REFERENCE_DIR) / RECORD_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {paths.relative(path)}: {HOW_TO_CREATE}")
    return json.loads(path.read_text())


def ensure_reference_model(directory: Path | None = None) -> RandomForestClassifier:
    """Return the reference forest, training and saving it first if it is missing (bit-identical every time)."""
    directory = Path(directory or paths.REFERENCE_DIR)
    if not ((directory / MODEL_FILE).is_file() and (directory / RECORD_FILE).is_file()):
        return train_reference_model(directory)[0]
    return load_reference_model(directory)
