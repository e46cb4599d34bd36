"""helpers.model (02): the reference forest is deterministic, honest about quality, and one recipe trains them all."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import data, model


@pytest.fixture(scope="module")
def split() -> data.Split:
    return data.split_dataset()


def test_reference_model_is_saved_with_validation_and_test_metrics(tmp_path, split) -> None:
    fitted, record = model.train_reference_model(tmp_path)
    assert record["rows"] == {"train": 1_000, "validation": 400, "test": 600}
    assert record["validation"] == model.evaluate(fitted, split.X_val, split.y_val)
    assert record["test"] == model.evaluate(fitted, split.X_test, split.y_test)
    assert 0.8 <= record["test"]["accuracy"] <= 0.95, "the task should be realistic, not trivial"
    assert model.load_reference_record(tmp_path) == record
    np.testing.assert_array_equal(model.load_reference_model(tmp_path).predict_proba(split.X_test),
                                  fitted.predict_proba(split.X_test))


def test_load_is_pure_and_ensure_rebuilds_identically(tmp_path, split) -> None:
    with pytest.raises(FileNotFoundError, match="run notebooks/02_training.ipynb"):
        model.load_reference_model(tmp_path)
    first = model.ensure_reference_model(tmp_path)
    (tmp_path / model.MODEL_FILE).unlink()
    second = model.ensure_reference_model(tmp_path)
    np.testing.assert_array_equal(first.predict_proba(split.X_val), second.predict_proba(split.X_val))


def test_the_reference_settings_live_in_one_place() -> None:
    assert model.make_reference_model().get_params()["n_estimators"] == 100
    assert model.make_reference_model(n_estimators=7, max_depth=3).get_params()["max_depth"] == 3


def test_recipe_adds_backlog_rows_and_can_shuffle_labels(split) -> None:
    X, y = model.Recipe(extra_rows=300).training_set(split)
    backlog = data.backlog(data.ensure_production_pool()).iloc[:300]
    assert X.shape == (1_300, 20)
    np.testing.assert_array_equal(X[1_000:], backlog[data.FEATURES].to_numpy())
    _, shuffled = model.Recipe(shuffle_labels=True).training_set(split)
    assert sorted(shuffled) == sorted(split.y_train) and not np.array_equal(shuffled, split.y_train)
    assert model.Recipe(extra_rows=300, params={"n_estimators": 5}).describe() == {
        "n_estimators": 5, "random_state": 42, "extra_rows": 300, "shuffle_labels": False}


def test_a_recipe_without_changes_is_the_reference_forest(split) -> None:
    fitted = model.Recipe().fit(split)
    reference = model.make_reference_model().fit(split.X_train, split.y_train)
    np.testing.assert_array_equal(fitted.predict_proba(split.X_val), reference.predict_proba(split.X_val))


def test_evaluate_reports_all_metrics_and_catches_a_bad_model(split) -> None:
    from sklearn.dummy import DummyClassifier

    dummy = DummyClassifier(strategy="most_frequent").fit(split.X_train, split.y_train)
    scores = model.evaluate(dummy, split.X_test, split.y_test)
    assert set(scores) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert scores["accuracy"] == 0.5 and scores["roc_auc"] == 0.5
