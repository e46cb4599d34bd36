"""helpers.model: the reference forest is deterministic, cached, rebuilt when missing, and honest about quality."""

from __future__ import annotations

import json

import numpy as np

from helpers import data, model


def test_reference_model_trains_caches_and_reloads(tmp_path) -> None:
    fitted, metrics = model.train_reference_model(tmp_path)
    assert (tmp_path / model.REFERENCE_MODEL_FILE).exists()
    record = json.loads((tmp_path / model.REFERENCE_METRICS_FILE).read_text())
    assert record["metrics"] == metrics and record["test_rows"] == 600
    assert 0.8 <= metrics["accuracy"] <= 0.95, "the task should be realistic, not trivial"
    loaded = model.load_reference_model(tmp_path)
    _, X_test, _, _ = data.split_dataset()
    np.testing.assert_array_equal(loaded.predict_proba(X_test), fitted.predict_proba(X_test))


def test_missing_model_is_rebuilt_identically(tmp_path) -> None:
    first = model.load_reference_model(tmp_path)
    (tmp_path / model.REFERENCE_MODEL_FILE).unlink()
    second = model.load_reference_model(tmp_path)
    _, X_test, _, _ = data.split_dataset()
    np.testing.assert_array_equal(first.predict_proba(X_test), second.predict_proba(X_test))
    assert model.load_reference_metrics(tmp_path)["accuracy"] == first.score(X_test, data.split_dataset()[3])


def test_evaluate_reports_all_metrics_and_catches_a_bad_model() -> None:
    from sklearn.dummy import DummyClassifier

    X_train, X_test, y_train, y_test = data.split_dataset()
    dummy = DummyClassifier(strategy="most_frequent").fit(X_train, y_train)
    scores = model.evaluate(dummy, X_test, y_test)
    assert set(scores) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert scores["accuracy"] == 0.5 and scores["roc_auc"] == 0.5
