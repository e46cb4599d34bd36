"""helpers.mlops.registry: versions with semver and status, aliases, the release gate, history and rollback."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from helpers.mlops import registry, runs, store


def set_accuracy(version: str, accuracy: float) -> None:
    """Overwrite the validation accuracy a version carries (what the gate compares), to put the gate on a knife edge."""
    store.client().set_model_version_tag(store.REGISTERED_MODEL, version, "accuracy", f"{accuracy:.4f}")


def production() -> str | None:
    return registry.alias_version("production")


def test_the_chapter_versions_carry_semver_validation_accuracy_and_a_status(chapter) -> None:
    table = chapter.registry
    assert list(table.columns) == ["version", "semver", "algorithm", "accuracy", "aliases", "status"]
    assert table["version"].tolist() == [1, 2, 3, 4]
    assert table["semver"].tolist() == ["v1.0.0", "v1.1.0", "v2.0.0", "v2.1.0"]
    assert table["algorithm"].tolist() == ["RandomForestClassifier", "RandomForestClassifier",
                                           "GradientBoostingClassifier", "XGBClassifier"]
    by_name = chapter.comparison.set_index("run_name")["accuracy"].round(4)
    assert table["accuracy"].tolist() == [by_name[name] for name in registry.CHAPTER_VERSIONS]
    assert table["aliases"].tolist() == ["production", "staging", "", ""]
    assert table["status"].tolist() == ["Production", "Staging", "Development", "Development"]
    first = registry.model_version(1)
    assert "exp_001_random_forest" in first.description and "validation accuracy" in first.description
    assert registry.version_of("v2.1.0") == "4"


def test_set_alias_moves_an_alias_and_the_status_follows(chapter) -> None:
    registry.set_alias("staging", 4)
    assert registry.set_alias("staging", 3) == "4"
    table = registry.registry_table().set_index("version")
    assert (table.loc[3, "aliases"], table.loc[3, "status"]) == ("staging", "Staging")
    assert (table.loc[4, "aliases"], table.loc[4, "status"]) == ("", "Development")
    assert set(table["status"]) <= set(registry.STATUSES)
    with pytest.raises(store.TrackingError, match="course-classifier.*no version '99'"):
        registry.set_alias("staging", "99")
    with pytest.raises(store.TrackingError, match="no version tagged v9.9.9"):
        registry.version_of("v9.9.9")


def test_a_refused_promotion_leaves_production_unchanged(chapter) -> None:
    split = chapter.split
    shuffled = np.random.default_rng(0).permutation(split.y_train)
    bad = runs.log_experiment_run("shuffled_labels", RandomForestClassifier(n_estimators=5, random_state=42), {},
                                  split.X_train, shuffled, split.X_val, split.y_val, tags={"kind": "test"})
    version = registry.register_model(bad, "v0.0.1-shuffled")
    registry.set_alias("production", 1)
    before = registry.registry_table()
    result = registry.promote(version)
    assert not result.promoted and result.production_before == "1" and result.accuracy < 0.65
    assert "is below the gate" in result.reason and f"version {version} (v0.0.1-shuffled) refused" in str(result)
    assert registry.registry_table().equals(before)
    assert registry.promote(1).reason == "it is already in production"


def test_the_gate_has_a_margin_and_a_promotion_leaves_staging(chapter) -> None:
    registry.set_alias("production", 1)
    registry.set_alias("staging", 2)
    set_accuracy("1", 0.8500)
    set_accuracy("3", 0.8200)  # 12 rows of 400 worse: beyond the 0.02 margin
    refused = registry.promote(3)
    assert not refused.promoted and "below the gate 0.8300" in refused.reason and production() == "1"
    set_accuracy("2", 0.8475)  # one row worse: noise, within the margin
    promoted = registry.promote(2)
    assert promoted.promoted and promoted.production_before == "1" and production() == "2"
    table = registry.registry_table().set_index("version")
    assert (table.loc[2, "aliases"], table.loc[2, "status"]) == ("production", "Production")
    assert table.loc[1, "status"] == "Development"
    assert registry.history()[-1] == "1"


def test_rollback_moves_production_back_and_the_served_predictions_follow(chapter) -> None:
    X = chapter.split.X_val
    registry.set_alias("production", 1)
    before = registry.load_alias("production").predict(X)
    assert before.shape == (len(X), 2) and np.allclose(before.sum(axis=1), 1.0), "pyfunc returns probabilities"
    registry.set_alias("production", 3)
    assert not np.allclose(registry.load_alias("production").predict(X), before)
    assert registry.rollback() == "1"
    np.testing.assert_array_equal(registry.load_alias("production").predict(X), before)
    table = registry.registry_table().set_index("version")
    assert table.loc[1, "status"] == "Production" and table.loc[3, "status"] == "Development"


def test_rollback_without_history_is_a_clear_error(chapter) -> None:
    store.client().set_registered_model_tag(store.REGISTERED_MODEL, registry.HISTORY_TAG, "")
    with pytest.raises(store.TrackingError, match="course-classifier.*no previous production version"):
        registry.rollback()


def test_a_missing_alias_names_the_model_and_the_aliases_there_are(chapter) -> None:
    registry.set_alias("staging", 2)
    with pytest.raises(store.TrackingError, match=r"'course-classifier' has no alias 'champion' "
                                                  r"\(its aliases: production, staging\)"):
        registry.load_alias("champion")
    registry.delete_alias("staging")
    registry.delete_alias("staging")  # deleting twice is harmless
    assert "staging" not in registry.aliases()
