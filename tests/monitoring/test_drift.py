"""helpers.monitoring.drift: PSI per feature and its thresholds, KS with multiple-testing corrections, day by day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers.common.schema import FEATURES
from helpers.monitoring import drift
from helpers.monitoring.drift import PSI_ALERT, PSI_WARNING, adjust_pvalues, drift_status, ks_table, psi_table
from helpers.monitoring.psi import MonitoringError, psi
from helpers.monitoring.simulation import DAILY_VOLUMES

# --------------------------------------------------------------------------------------------------------------
# PSI per feature, statuses
# --------------------------------------------------------------------------------------------------------------


def test_psi_table_is_indexed_by_feature_and_finds_the_shifted_one() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame(rng.normal(size=(2_000, 3)), columns=["a", "b", "c"])
    current = pd.DataFrame(rng.normal(size=(1_000, 3)), columns=["a", "b", "c"]).assign(b=lambda d: d["b"] + 1)
    table = psi_table(reference, current)
    assert list(table.index) == ["a", "b", "c"] and table.idxmax() == "b"
    assert table["b"] > PSI_ALERT > PSI_WARNING > table[["a", "c"]].max()
    assert table["b"] == psi(reference["b"].to_numpy(), current["b"].to_numpy())
    assert list(psi_table(reference, current, features=["c"]).index) == ["c"]


@pytest.mark.parametrize(
    ("value", "status"),
    [(0.0, "Normal"), (0.0999, "Normal"), (0.1, "Warning"), (0.2499, "Warning"), (0.25, "Alert"), (3.0, "Alert")],
)
def test_drift_status_thresholds(value, status) -> None:
    assert drift_status(value) == status


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf")])
def test_drift_status_rejects_impossible_psi(value) -> None:
    with pytest.raises(MonitoringError, match="PSI"):
        drift_status(value)


# --------------------------------------------------------------------------------------------------------------
# KS and multiple testing
# --------------------------------------------------------------------------------------------------------------


def test_pvalue_corrections_on_a_hand_worked_case() -> None:
    p = np.array([0.04, 0.001, 0.5, 0.011, 0.01])
    np.testing.assert_allclose(adjust_pvalues(p, "none"), p)
    # Bonferroni: p x 5, capped at 1.
    np.testing.assert_allclose(adjust_pvalues(p, "bonferroni"), [0.2, 0.005, 1.0, 0.055, 0.05])
    # Holm, sorted: 0.001*5, 0.01*4, 0.011*3 (= 0.033, lifted to 0.04 by the running maximum), 0.04*2, 0.5*1.
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [0.08, 0.005, 0.5, 0.04, 0.04])
    # Benjamini-Hochberg, sorted: p_(k) x 5 / k (0.005, 0.025, 0.0183, 0.05, 0.5), then the running minimum from
    # the top (0.025 falls to 0.0183).
    np.testing.assert_allclose(adjust_pvalues(p, "bh"), [0.05, 0.005, 0.5, 0.011 * 5 / 3, 0.011 * 5 / 3])
    # Flagged at alpha = 0.045 (0.05 itself would sit on BH's and Bonferroni's rounding edge: 0.04 x 5 / 4).
    flagged = {c: int((adjust_pvalues(p, c) < 0.045).sum()) for c in ("none", "bh", "holm", "bonferroni")}
    assert flagged == {"none": 4, "bh": 3, "holm": 3, "bonferroni": 1}
    assert adjust_pvalues(p, "none") is not p, "a copy: the caller's array is never changed"


def test_bonferroni_is_capped_at_one_and_matches_the_formula_by_hand() -> None:
    p = np.random.default_rng(8).uniform(0, 0.2, size=20)
    np.testing.assert_allclose(adjust_pvalues(p, "bonferroni"), np.minimum(p * 20, 1.0), rtol=1e-12)
    order = np.argsort(p)
    holm = np.empty(20)
    holm[order] = np.minimum(np.maximum.accumulate(p[order] * (20 - np.arange(20))), 1.0)
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), holm, rtol=1e-12)


@pytest.mark.parametrize("size", [1, 2, 20, 200])
def test_every_correction_agrees_with_statsmodels(size) -> None:
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(size).uniform(0, 0.3, size=size)
    p[: size // 4] = p[size // 4 : 2 * (size // 4)]  # ties
    for correction, method in (("bonferroni", "bonferroni"), ("holm", "holm"), ("bh", "fdr_bh")):
        np.testing.assert_allclose(adjust_pvalues(p, correction), multipletests(p, method=method)[1], rtol=1e-12)


def test_corrections_are_ordered_from_lenient_to_strict() -> None:
    p = np.random.default_rng(4).uniform(0, 0.2, size=20)
    adjusted = [adjust_pvalues(p, c) for c in ("none", "bh", "holm", "bonferroni")]
    for looser, stricter in zip(adjusted, adjusted[1:], strict=False):
        assert np.all(looser <= stricter + 1e-15)


@pytest.mark.parametrize("p_values", [[0.5, 1.2], [-0.1], [np.nan, 0.2], [[0.1, 0.2]]])
def test_adjust_pvalues_refuses_what_is_not_a_p_value(p_values) -> None:
    with pytest.raises(MonitoringError, match="p-values must be"):
        adjust_pvalues(np.asarray(p_values), "holm")


def test_ks_table_applies_the_correction_across_features() -> None:
    rng = np.random.default_rng(5)
    features = [f"f{i}" for i in range(20)]
    reference = pd.DataFrame(rng.normal(size=(1_000, 20)), columns=features)
    shifts = np.zeros(20)
    shifts[:4] = [0.5, 0.2, 0.15, 0.12]
    current = pd.DataFrame(rng.normal(size=(1_000, 20)) + shifts, columns=features)
    tables = {c: ks_table(reference, current, correction=c) for c in ("none", "holm", "bonferroni")}
    for correction, table in tables.items():
        assert list(table.columns) == ["statistic", "p_value", "p_adjusted", "drifted"]
        assert table["drifted"].dtype == bool
        np.testing.assert_allclose(table["p_adjusted"], adjust_pvalues(table["p_value"].to_numpy(), correction))
        assert table.loc["f0", "drifted"], "a 0.5 sd shift at 1,000 rows must be caught by any correction"
    counts = {c: int(t["drifted"].sum()) for c, t in tables.items()}
    assert counts["none"] >= counts["holm"] >= counts["bonferroni"] >= 1
    assert counts["none"] > counts["bonferroni"]
    scipy_f1 = stats.ks_2samp(reference["f1"], current["f1"])
    assert tables["none"].loc["f1", "statistic"] == scipy_f1.statistic
    assert tables["none"].loc["f1", "p_value"] == scipy_f1.pvalue


def test_ks_statistic_is_the_largest_gap_between_the_two_cumulative_distributions() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=300), rng.normal(0.3, size=200)
    grid = np.sort(np.concatenate([a, b]))
    gap = np.abs(np.searchsorted(np.sort(a), grid, side="right") / a.size
                 - np.searchsorted(np.sort(b), grid, side="right") / b.size).max()
    table = ks_table(pd.DataFrame({"x": a}), pd.DataFrame({"x": b}), correction="none")
    assert table.loc["x", "statistic"] == pytest.approx(gap, abs=1e-12)


@pytest.mark.parametrize(("kwargs", "message"), [({"correction": "sidak"}, "correction must be one of"),
                                                 ({"alpha": 0.0}, "alpha must lie strictly between 0 and 1"),
                                                 ({"alpha": 1.5}, "alpha must lie strictly between 0 and 1")])
def test_ks_table_rejects_bad_settings(kwargs, message) -> None:
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
    with pytest.raises(MonitoringError, match=message):
        ks_table(frame, frame, **kwargs)
    with pytest.raises(MonitoringError, match="correction must be one of"):
        adjust_pvalues(np.array([0.5]), "sidak")


# --------------------------------------------------------------------------------------------------------------
# Drift over the course's week
# --------------------------------------------------------------------------------------------------------------


def test_daily_drift_has_one_row_per_day_and_feature(week_drift) -> None:
    week, _ = week_drift
    assert len(week) == 7 * len(FEATURES)
    assert list(week.columns) == ["day", "feature", "rows", "psi", "status", "ks_statistic", "p_value",
                                  "p_adjusted", "ks_drifted"]
    assert week.groupby("day")["rows"].first().tolist() == list(DAILY_VOLUMES)
    assert (week["status"] == week["psi"].map(drift_status)).all()


def test_daily_drift_is_psi_and_ks_of_each_day(course_data, weeks, week_drift) -> None:
    reference, _, _ = course_data
    drifted, _ = weeks
    table, _ = week_drift
    day_5 = drifted[drifted["day"] == 5]
    row = table[(table["day"] == 5)].set_index("feature")
    np.testing.assert_allclose(row["psi"], psi_table(reference, day_5, FEATURES).to_numpy(), rtol=1e-12)
    ks = ks_table(reference, day_5, FEATURES)
    np.testing.assert_allclose(row["p_adjusted"], ks["p_adjusted"].to_numpy(), rtol=1e-12)
    assert row["ks_drifted"].tolist() == ks["drifted"].tolist()


def test_daily_drift_needs_the_day_column(course_data) -> None:
    reference, traffic, _ = course_data
    with pytest.raises(MonitoringError, match="missing the day column 'day'"):
        drift.daily_drift(reference, traffic)


def test_default_week_reaches_warning_alert_and_leaves_the_rest_normal(week_drift, schedule) -> None:
    table, control = week_drift
    psi_by_day = table.pivot(index="day", columns="feature", values="psi")
    status = table.pivot(index="day", columns="feature", values="status")
    ks = table.pivot(index="day", columns="feature", values="ks_drifted")
    gradual, sudden, noise = schedule
    # Gradual: Normal at first, Warning (never Alert) by the end of the week.
    assert status.loc[1:3, gradual.feature].eq("Normal").all()
    assert status.loc[6:7, gradual.feature].eq("Warning").all()
    assert psi_by_day.loc[7, gradual.feature] == psi_by_day[gradual.feature].max()
    # Sudden and noise: Alert, and flagged by KS, from their start day; Normal before it.
    for spec in (sudden, noise):
        assert status.loc[: spec.start_day - 1, spec.feature].eq("Normal").all()
        assert status.loc[spec.start_day :, spec.feature].eq("Alert").all()
        assert ks.loc[spec.start_day :, spec.feature].all()
    untouched = [f for f in FEATURES if f not in {s.feature for s in schedule}]
    assert status[untouched].eq("Normal").all().all() and not ks[untouched].any().any()
    assert control["status"].eq("Normal").all() and not control["ks_drifted"].any()
