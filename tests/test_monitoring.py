"""helpers.monitoring: PSI that matches theory, KS corrections, the alert rules and the simulated week."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from helpers import data, model
from helpers import monitoring as mon

N_LARGE = 200_000


def straightforward_psi(reference: np.ndarray, current: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """An independent PSI: cut points picked from the sorted reference, bins counted one by one with masks."""
    ordered = np.sort(reference)
    picks = [ordered[int(np.ceil(k * len(ordered) / bins)) - 1] for k in range(1, bins)]
    cuts = sorted(set(picks))
    lows, highs = [-np.inf, *cuts], [*cuts, np.inf]
    total = 0.0
    for lo, hi in zip(lows, highs, strict=True):
        e = max(np.mean((reference > lo) & (reference <= hi)), eps)
        a = max(np.mean((current > lo) & (current <= hi)), eps)
        total += (a - e) * np.log(a / e)
    return total


# --------------------------------------------------------------------------------------------------------------
# PSI
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gaussians() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.normal(size=N_LARGE), rng.normal(size=N_LARGE)


@pytest.mark.parametrize("delta", [0.25, 0.5, 1.0])
def test_mean_shift_of_delta_sd_gives_psi_near_delta_squared(gaussians, delta) -> None:
    reference, current = gaussians
    value = mon.psi(reference, current + delta)
    # Deciles read a little under the population value delta^2 (0.5 sd: 0.24 instead of 0.25).
    assert value == pytest.approx(delta**2, rel=0.15)


def test_variance_ratio_reads_below_the_population_formula(gaussians) -> None:
    reference, current = gaussians
    ratio = 2.0
    population = (ratio + 1 / ratio) / 2 - 1  # 0.25
    value = mon.psi(reference, current * np.sqrt(ratio))
    # Decile bins under-read a change of spread (about 0.15 here): loose bounds, but a clear signal.
    assert 0.4 * population < value < population


def test_identical_samples_give_zero_psi(gaussians) -> None:
    reference, current = gaussians
    assert mon.psi(reference, reference) == pytest.approx(0.0, abs=1e-12)
    assert mon.psi(reference, current) < 1e-3


def test_out_of_range_values_are_counted_not_dropped() -> None:
    reference = np.random.default_rng(1).normal(size=5_000)
    current = reference.max() + 1 + np.arange(500.0)
    bins = mon.ReferenceBins.fit(reference)
    shares = bins.shares_of(current)
    assert shares.sum() == pytest.approx(1.0)
    assert shares[-1] == 1.0
    dropped, _ = np.histogram(current, bins=np.concatenate([[reference.min()], bins.edges, [reference.max()]]))
    assert dropped.sum() == 0, "np.histogram on closed reference edges would have dropped every value"
    assert bins.psi(current) > 5.0
    below = bins.shares_of(reference.min() - 1 - np.arange(500.0))
    assert below[0] == 1.0 and below.sum() == pytest.approx(1.0)


def test_reference_bins_are_deciles_with_a_tenth_each() -> None:
    reference = np.random.default_rng(2).normal(size=10_000)
    bins = mon.ReferenceBins.fit(reference)
    assert len(bins.edges) == 9 and len(bins.shares) == 10
    np.testing.assert_allclose(bins.shares, 0.1, atol=1e-12)
    np.testing.assert_allclose(bins.edges, np.quantile(reference, np.arange(1, 10) / 10), atol=1e-3)
    assert np.isin(bins.edges, reference).all(), "cut points are reference values"


def test_constant_reference_does_not_divide_by_zero() -> None:
    reference = np.full(1_000, 3.0)
    with np.errstate(all="raise"):
        bins = mon.ReferenceBins.fit(reference)
        assert bins.shares.sum() == pytest.approx(1.0) and len(bins.shares) <= 3
        assert mon.psi(reference, np.full(200, 3.0)) == 0.0
        up, down = mon.psi(reference, np.full(200, 3.5)), mon.psi(reference, np.full(200, 2.5))
    assert np.isfinite(up) and up > 5.0
    assert np.isfinite(down) and down > 5.0


def test_duplicate_quantiles_are_merged() -> None:
    reference = np.repeat([0.0, 1.0, 2.0], [700, 200, 100])  # a discrete feature: most deciles coincide
    bins = mon.ReferenceBins.fit(reference)
    np.testing.assert_array_equal(bins.edges, [0.0, 1.0])
    np.testing.assert_allclose(bins.shares, [0.7, 0.2, 0.1])
    assert mon.psi(reference, reference) == pytest.approx(0.0)
    assert np.isfinite(mon.psi(reference, np.repeat([0.0, 2.0], [100, 900])))


@pytest.mark.parametrize(("n_ref", "n_cur", "shift", "bins"), [(2_000, 300, 0.0, 10), (1_600, 1_300, 0.4, 10),
                                                                 (500, 50, 2.0, 10), (3_000, 800, -0.3, 5)])
def test_psi_matches_an_independent_implementation(n_ref, n_cur, shift, bins) -> None:
    rng = np.random.default_rng(n_ref + n_cur)
    reference = rng.standard_t(df=5, size=n_ref)
    current = rng.standard_t(df=5, size=n_cur) + shift
    assert mon.psi(reference, current, bins) == pytest.approx(straightforward_psi(reference, current, bins), rel=1e-12)


def test_psi_table_is_indexed_by_feature_and_finds_the_shifted_one() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame(rng.normal(size=(2_000, 3)), columns=["a", "b", "c"])
    current = pd.DataFrame(rng.normal(size=(1_000, 3)), columns=["a", "b", "c"]).assign(b=lambda d: d["b"] + 1)
    table = mon.psi_table(reference, current)
    assert list(table.index) == ["a", "b", "c"] and table.idxmax() == "b"
    assert table["b"] > mon.PSI_ALERT > mon.PSI_WARNING > table[["a", "c"]].max()
    assert list(mon.psi_table(reference, current, features=["c"]).index) == ["c"]


@pytest.mark.parametrize(
    ("value", "status"),
    [(0.0, "Normal"), (0.0999, "Normal"), (0.1, "Warning"), (0.2499, "Warning"), (0.25, "Alert"), (3.0, "Alert")],
)
def test_drift_status_thresholds(value, status) -> None:
    assert mon.drift_status(value) == status


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf")])
def test_drift_status_rejects_impossible_psi(value) -> None:
    with pytest.raises(mon.MonitoringError, match="PSI"):
        mon.drift_status(value)


# --------------------------------------------------------------------------------------------------------------
# KS and multiple testing
# --------------------------------------------------------------------------------------------------------------


def test_pvalue_corrections_on_a_hand_worked_case() -> None:
    p = np.array([0.04, 0.001, 0.5, 0.011, 0.01])
    np.testing.assert_allclose(mon.adjust_pvalues(p, "none"), p)
    np.testing.assert_allclose(mon.adjust_pvalues(p, "bonferroni"), [0.2, 0.005, 1.0, 0.055, 0.05])
    # Holm, sorted: 0.001*5, 0.01*4, 0.011*3 (= 0.033, lifted to 0.04 by the running maximum), 0.04*2, 0.5*1.
    np.testing.assert_allclose(mon.adjust_pvalues(p, "holm"), [0.08, 0.005, 0.5, 0.04, 0.04])
    flagged = {c: int((mon.adjust_pvalues(p, c) < 0.05).sum()) for c in ("none", "holm", "bonferroni")}
    assert flagged == {"none": 4, "holm": 3, "bonferroni": 1}


def test_corrections_are_ordered_from_lenient_to_strict() -> None:
    p = np.random.default_rng(4).uniform(0, 0.2, size=20)
    adjusted = [mon.adjust_pvalues(p, c) for c in ("none", "bh", "holm", "bonferroni")]
    for looser, stricter in zip(adjusted, adjusted[1:], strict=False):
        assert np.all(looser <= stricter + 1e-15)


def test_ks_table_applies_the_correction_across_features() -> None:
    rng = np.random.default_rng(5)
    features = [f"f{i}" for i in range(20)]
    reference = pd.DataFrame(rng.normal(size=(1_000, 20)), columns=features)
    shifts = np.zeros(20)
    shifts[:4] = [0.5, 0.2, 0.15, 0.12]
    current = pd.DataFrame(rng.normal(size=(1_000, 20)) + shifts, columns=features)
    tables = {c: mon.ks_table(reference, current, correction=c) for c in ("none", "holm", "bonferroni")}
    for correction, table in tables.items():
        assert list(table.columns) == ["statistic", "p_value", "p_adjusted", "drifted"]
        assert table["drifted"].dtype == bool
        np.testing.assert_allclose(table["p_adjusted"], mon.adjust_pvalues(table["p_value"].to_numpy(), correction))
        assert table.loc["f0", "drifted"], "a 0.5 sd shift at 1,000 rows must be caught by any correction"
    counts = {c: int(t["drifted"].sum()) for c, t in tables.items()}
    assert counts["none"] >= counts["holm"] >= counts["bonferroni"] >= 1
    assert counts["none"] > counts["bonferroni"]


def test_ks_table_rejects_an_unknown_correction() -> None:
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
    with pytest.raises(mon.MonitoringError, match="correction must be one of"):
        mon.ks_table(frame, frame, correction="sidak")


# --------------------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------------------


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(6)
    return (pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "c"]),
            pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"]))


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda ref, cur: (ref, cur.drop(columns=["b"])), "current is missing column(s): b"),
        (lambda ref, cur: (ref.drop(columns=["c"]), cur), "current has column(s) the reference lacks: c"),
        (lambda ref, cur: (ref, cur.assign(a=np.where(cur.index == 3, np.nan, cur["a"]))), "current column a holds 1"),
        (lambda ref, cur: (ref.assign(c=np.inf), cur), "reference column c holds 50 missing or infinite"),
        (lambda ref, cur: (ref, cur.iloc[:0]), "current has no rows"),
        (lambda ref, cur: (ref.iloc[:0], cur), "reference has no rows"),
        (lambda ref, cur: (ref.assign(b="x"), cur), "reference column b must be numeric"),
    ],
)
def test_bad_frames_raise_a_message_naming_the_column(corrupt, message) -> None:
    reference, current = corrupt(*_frames())
    for check in (mon.psi_table, mon.ks_table):
        with pytest.raises(mon.MonitoringError, match=message.replace("(", r"\(").replace(")", r"\)")):
            check(reference, current)


def test_explicit_features_must_exist_in_both_frames() -> None:
    reference, current = _frames()
    with pytest.raises(mon.MonitoringError, match=r"reference is missing column\(s\): z; current is missing"):
        mon.psi_table(reference, current, features=["a", "z"])


@pytest.mark.parametrize(
    ("reference", "current", "message"),
    [
        ([], [1.0], "reference is empty"),
        ([1.0, 2.0], [], "current is empty"),
        ([1.0, np.nan], [1.0], "reference holds 1 missing or infinite value"),
        ([1.0, 2.0], [np.inf], "current holds 1 missing or infinite value"),
        ([[1.0, 2.0]], [1.0], "one-dimensional"),
    ],
)
def test_bad_arrays_raise(reference, current, message) -> None:
    with pytest.raises(mon.MonitoringError, match=message):
        mon.psi(np.asarray(reference), np.asarray(current))


def test_bins_must_be_at_least_two() -> None:
    with pytest.raises(mon.MonitoringError, match="bins"):
        mon.ReferenceBins.fit(np.arange(10.0), bins=1)


# --------------------------------------------------------------------------------------------------------------
# The simulated week
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def course_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    train, pool = data.generate()
    return train[data.FEATURES], pool


@pytest.fixture(scope="module")
def schedule() -> list[mon.DriftSpec]:
    return mon.default_drift_schedule(data.feature_roles())


@pytest.fixture(scope="module")
def weeks(course_data, schedule) -> tuple[pd.DataFrame, pd.DataFrame]:
    _, pool = course_data
    return mon.simulate_week(pool, schedule), mon.simulate_week(pool, [])


@pytest.fixture(scope="module")
def week_drift(course_data, weeks) -> tuple[pd.DataFrame, pd.DataFrame]:
    reference, _ = course_data
    drifted, control = weeks
    return (mon.daily_drift(reference, drifted, features=data.FEATURES),
            mon.daily_drift(reference, control, features=data.FEATURES))


def test_hourly_weights_have_quiet_nights_and_an_early_evening_peak() -> None:
    w = mon.hourly_weights()
    assert w.shape == (24,) and w.sum() == pytest.approx(1.0) and (w > 0).all()
    assert int(np.argmax(w)) in (18, 19)
    assert w[0:6].max() < w[17:21].min()


def test_week_has_the_daily_volumes_and_never_reuses_a_row(course_data, weeks, schedule) -> None:
    _, pool = course_data
    drifted, _ = weeks
    assert drifted.groupby("day").size().tolist() == list(mon.DAILY_VOLUMES)
    assert len(drifted) == sum(mon.DAILY_VOLUMES) == 8_050
    assert drifted["pool_row"].is_unique
    untouched = [f for f in data.FEATURES if f not in {spec.feature for spec in schedule}]
    source = pool.iloc[drifted["pool_row"]]
    np.testing.assert_array_equal(drifted[untouched].to_numpy(), source[untouched].to_numpy())
    np.testing.assert_array_equal(drifted[data.TARGET].to_numpy(), source[data.TARGET].to_numpy())


def test_hours_follow_the_weights(weeks) -> None:
    drifted, _ = weeks
    observed = drifted["hour"].value_counts(normalize=True).reindex(range(24), fill_value=0).to_numpy()
    np.testing.assert_allclose(observed, mon.hourly_weights(), atol=0.015)
    assert observed[0:6].sum() < observed[17:21].sum() / 3


def test_timestamps_sit_on_the_simulated_clock(weeks) -> None:
    drifted, _ = weeks
    ts = drifted["timestamp"]
    assert ts.is_monotonic_increasing
    assert (ts.dt.second == 0).all()
    assert ((ts.dt.normalize() - pd.Timestamp(2026, 3, 2)).dt.days + 1 == drifted["day"]).all()
    assert (ts.dt.hour == drifted["hour"]).all()
    assert ts.min() >= pd.Timestamp(2026, 3, 2) and ts.max() < pd.Timestamp(2026, 3, 9)


def test_control_week_is_the_same_week_without_the_drift(weeks, schedule) -> None:
    drifted, control = weeks
    same = ["timestamp", "day", "hour", "pool_row", data.TARGET]
    pd.testing.assert_frame_equal(drifted[same], control[same])
    shifted = {spec.feature for spec in schedule}
    untouched = [c for c in data.FEATURES if c not in shifted]
    pd.testing.assert_frame_equal(drifted[untouched], control[untouched])
    for spec in schedule:
        before = drifted["day"] < spec.start_day
        np.testing.assert_array_equal(drifted.loc[before, spec.feature], control.loc[before, spec.feature])
        assert (drifted.loc[~before, spec.feature] != control.loc[~before, spec.feature]).all()


def test_drift_sizes_are_in_reference_standard_deviations(course_data) -> None:
    _, pool = course_data
    sd = pool["feature_1"].std(ddof=0)
    mean_spec = mon.DriftSpec("feature_1", kind="mean", start_day=3, per_day=0.1, jump=0.5)
    assert [mean_spec.size(d) for d in (1, 2, 3, 4, 7)] == pytest.approx([0, 0, 0.6, 0.7, 1.0])
    moved = mon.simulate_week(pool, [mean_spec])
    control = mon.simulate_week(pool, [])
    gap = (moved["feature_1"] - control["feature_1"]).groupby(moved["day"]).mean()
    np.testing.assert_allclose(gap.to_numpy(), [mean_spec.size(d) * sd for d in range(1, 8)], atol=1e-12)
    scale_spec = mon.DriftSpec("feature_1", kind="scale", start_day=1, jump=1.0)
    stretched = mon.simulate_week(pool, [scale_spec])
    ratio = stretched.groupby("day")["feature_1"].std() / control.groupby("day")["feature_1"].std()
    np.testing.assert_allclose(ratio.to_numpy(), 2.0, rtol=1e-9)


def test_simulator_rejects_impossible_requests(course_data) -> None:
    _, pool = course_data
    with pytest.raises(mon.MonitoringError, match="the week needs 8050 rows but the pool holds only 100"):
        mon.simulate_week(pool.iloc[:100], [])
    with pytest.raises(mon.MonitoringError, match="lacks: feature_99"):
        mon.simulate_week(pool, [mon.DriftSpec("feature_99")])
    with pytest.raises(mon.MonitoringError, match="kind must be 'mean' or 'scale'"):
        mon.DriftSpec("feature_1", kind="shear")


def test_default_schedule_picks_features_by_role(schedule) -> None:
    roles = data.feature_roles()
    gradual, sudden, noise = schedule
    assert gradual.per_day > 0 and gradual.jump == 0 and gradual.feature in roles.informative
    assert sudden.jump > 0 and sudden.per_day == 0 and sudden.feature in roles.informative
    assert noise.feature in roles.noise
    assert len({gradual.feature, sudden.feature, noise.feature}) == 3
    assert mon.default_drift_schedule(data.feature_roles()) == schedule


def test_daily_drift_has_one_row_per_day_and_feature(week_drift) -> None:
    drift, _ = week_drift
    assert len(drift) == 7 * len(data.FEATURES)
    assert list(drift.columns) == ["day", "feature", "rows", "psi", "status", "ks_statistic", "p_value",
                                   "p_adjusted", "ks_drifted"]
    assert drift.groupby("day")["rows"].first().tolist() == list(mon.DAILY_VOLUMES)
    assert (drift["status"] == drift["psi"].map(mon.drift_status)).all()


def test_daily_drift_needs_the_day_column(course_data) -> None:
    reference, pool = course_data
    with pytest.raises(mon.MonitoringError, match="missing the day column 'day'"):
        mon.daily_drift(reference, pool)


def test_default_week_reaches_warning_alert_and_leaves_the_rest_normal(week_drift, schedule) -> None:
    drift, control = week_drift
    psi = drift.pivot(index="day", columns="feature", values="psi")
    status = drift.pivot(index="day", columns="feature", values="status")
    ks = drift.pivot(index="day", columns="feature", values="ks_drifted")
    gradual, sudden, noise = schedule
    # Gradual: Normal at first, Warning (not Alert) on the last two days.
    assert status.loc[1:3, gradual.feature].eq("Normal").all()
    assert status.loc[6:7, gradual.feature].eq("Warning").all()
    assert psi[gradual.feature].is_monotonic_increasing or psi.loc[7, gradual.feature] == psi[gradual.feature].max()
    # Sudden and noise: Alert, and flagged by KS, from their start day; Normal before it.
    for spec in (sudden, noise):
        assert status.loc[: spec.start_day - 1, spec.feature].eq("Normal").all()
        assert status.loc[spec.start_day :, spec.feature].eq("Alert").all()
        assert ks.loc[spec.start_day :, spec.feature].all()
    untouched = [f for f in data.FEATURES if f not in {s.feature for s in schedule}]
    assert status[untouched].eq("Normal").all().all()
    assert control["status"].eq("Normal").all()


@pytest.fixture(scope="module")
def reference_model(tmp_path_factory):
    return model.load_reference_model(tmp_path_factory.mktemp("model"))


def _daily_accuracy(fitted, week: pd.DataFrame) -> pd.Series:
    correct = fitted.predict(week[data.FEATURES].to_numpy()) == week[data.TARGET].to_numpy()
    return pd.Series(correct).groupby(week["day"].to_numpy()).mean()


def test_drift_in_noise_leaves_accuracy_while_the_sudden_shift_costs_it(course_data, weeks, schedule,
                                                                         reference_model) -> None:
    _, pool = course_data
    _, control = weeks
    gradual, sudden, noise = schedule
    base = _daily_accuracy(reference_model, control)
    noise_only = _daily_accuracy(reference_model, mon.simulate_week(pool, [noise]))
    sudden_only = _daily_accuracy(reference_model, mon.simulate_week(pool, [sudden]))
    assert (noise_only - base).abs().max() < 0.01
    assert (base - sudden_only).loc[sudden.start_day :].min() > 0.05


# --------------------------------------------------------------------------------------------------------------
# Alerts
# --------------------------------------------------------------------------------------------------------------

START = datetime(2026, 3, 2)


def _metrics(days: int = 7, accuracy: float = 0.87, p95: float = 20.0, **overrides: list) -> pd.DataFrame:
    frame = pd.DataFrame({
        "day": range(1, days + 1),
        "requests": 1_000,
        "accuracy": accuracy,
        "positive_rate": 0.5,
        "p50_ms": 8.0,
        "p95_ms": p95,
        "end_of_day": [mon.end_of_day(START, d) for d in range(1, days + 1)],
    })
    for column, values in overrides.items():
        frame[column] = values
    return frame


def _drift(statuses: list[str], feature: str = "feature_3") -> pd.DataFrame:
    psi_of = {"Normal": 0.02, "Warning": 0.15, "Alert": 0.4}
    return pd.DataFrame({"day": range(1, len(statuses) + 1), "feature": feature,
                         "psi": [psi_of[s] for s in statuses], "status": statuses})


def _by_severity(alerts: list[mon.Alert]) -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    for a in alerts:
        out.setdefault(a.severity, []).append((a.time.day - START.day + 1, a.rule))
    return out


def test_end_of_day_is_the_last_minute_of_the_day() -> None:
    assert mon.end_of_day(START, 1) == datetime(2026, 3, 2, 23, 59)
    assert mon.end_of_day(START, 7) == datetime(2026, 3, 8, 23, 59)


def test_a_one_day_blip_raises_no_warning_or_alert() -> None:
    alerts = mon.evaluate_alerts(_metrics(), _drift(["Normal", "Alert", "Normal", "Warning", "Normal", "Normal",
                                                     "Normal"]), baseline_accuracy=0.88)
    assert {a.severity for a in alerts} == {"INFO"}
    assert _by_severity(alerts)["INFO"] == [(2, mon.RULE_DRIFT_STARTED), (4, mon.RULE_DRIFT_STARTED)]


def test_two_consecutive_days_raise_warning_then_alert() -> None:
    drift = _drift(["Normal", "Warning", "Warning", "Alert", "Alert", "Warning", "Normal"])
    found = _by_severity(mon.evaluate_alerts(_metrics(), drift, baseline_accuracy=0.88))
    assert found["INFO"] == [(2, mon.RULE_DRIFT_STARTED)]
    # Day 4: Warning-or-worse for three days but Alert for one only, so a WARNING; day 5: Alert twice, an ALERT.
    assert found["WARNING"] == [(3, mon.RULE_DRIFT_WARNING), (4, mon.RULE_DRIFT_WARNING), (6, mon.RULE_DRIFT_WARNING)]
    assert found["ALERT"] == [(5, mon.RULE_DRIFT_ALERT)]


def test_a_missing_day_breaks_the_run() -> None:
    drift = _drift(["Warning"] * 7).query("day != 4")
    found = _by_severity(mon.evaluate_alerts(_metrics(), drift, baseline_accuracy=0.88))
    assert found["INFO"] == [(1, mon.RULE_DRIFT_STARTED), (5, mon.RULE_DRIFT_STARTED)]
    assert [day for day, _ in found["WARNING"]] == [2, 3, 6, 7]


def test_accuracy_more_than_the_margin_below_baseline_is_an_alert() -> None:
    metrics = _metrics(**{"accuracy": [0.87, 0.831, 0.829, np.nan, 0.70, 0.87, 0.87]})
    found = _by_severity(mon.evaluate_alerts(metrics, _drift(["Normal"] * 7), baseline_accuracy=0.88))
    assert found == {"ALERT": [(3, mon.RULE_ACCURACY), (5, mon.RULE_ACCURACY)]}
    strict = mon.evaluate_alerts(metrics, _drift(["Normal"] * 7), baseline_accuracy=0.88, accuracy_margin=0.01)
    assert [a.severity for a in strict] == ["ALERT"] * 3


def test_p95_more_than_ten_percent_above_the_first_day_is_a_warning() -> None:
    metrics = _metrics(**{"p95_ms": [20.0, 21.9, 22.0, 22.1, 30.0, 18.0, 20.0]})
    alerts = mon.evaluate_alerts(metrics, _drift(["Normal"] * 7), baseline_accuracy=0.88)
    assert _by_severity(alerts) == {"WARNING": [(4, mon.RULE_LATENCY), (5, mon.RULE_LATENCY)]}
    assert "22.1 ms" in alerts[0].message and "20.0 ms" in alerts[0].message


def test_alerts_come_sorted_by_time_most_severe_first() -> None:
    metrics = _metrics(**{"accuracy": [0.87, 0.87, 0.7, 0.7, 0.87, 0.87, 0.87], "p95_ms": [20, 20, 25, 20, 20, 20, 20]})
    alerts = mon.evaluate_alerts(metrics, _drift(["Alert", "Alert", "Alert", "Normal", "Normal", "Normal", "Normal"]),
                                 baseline_accuracy=0.88)
    times = [a.time for a in alerts]
    assert times == sorted(times)
    day_3 = [a.severity for a in alerts if a.time == mon.end_of_day(START, 3)]
    assert day_3 == ["ALERT", "ALERT", "WARNING"]
    table = mon.alerts_frame(alerts)
    assert list(table.columns) == ["time", "severity", "rule", "message"] and len(table) == len(alerts)
    assert list(mon.alerts_frame([]).columns) == ["time", "severity", "rule", "message"]


def test_without_a_time_column_alerts_are_labelled_by_day() -> None:
    metrics = _metrics(**{"accuracy": [0.5] * 7}).drop(columns=["end_of_day"])
    alerts = mon.evaluate_alerts(metrics, _drift(["Normal"] * 7), baseline_accuracy=0.88)
    assert [a.time for a in alerts] == [f"day {d}" for d in range(1, 8)]


@pytest.mark.parametrize(
    ("metrics", "drift", "message"),
    [
        (_metrics().drop(columns=["p95_ms"]), _drift(["Normal"] * 7), r"daily_metrics is missing column\(s\): p95_ms"),
        (_metrics(), _drift(["Normal"] * 7).drop(columns=["status"]), r"drift is missing column\(s\): status"),
        (_metrics(), _drift(["Normal"] * 7).assign(status="Bad"), "unknown value"),
        (_metrics().iloc[:0], _drift(["Normal"] * 7), "daily_metrics has no rows"),
    ],
)
def test_bad_alert_inputs_raise(metrics, drift, message) -> None:
    with pytest.raises(mon.MonitoringError, match=message):
        mon.evaluate_alerts(metrics, drift, baseline_accuracy=0.88)


def test_alert_severity_is_checked() -> None:
    with pytest.raises(mon.MonitoringError, match="severity"):
        mon.Alert(START, "CRITICAL", "x", "y")


def test_control_week_raises_no_alert_and_the_drifted_week_does(week_drift, schedule) -> None:
    drift, control = week_drift
    steady = _metrics(accuracy=0.87, p95=21.0)
    quiet = mon.evaluate_alerts(steady, control, baseline_accuracy=0.88)
    assert [a for a in quiet if a.severity != "INFO"] == []
    loud = _by_severity(mon.evaluate_alerts(steady, drift, baseline_accuracy=0.88))
    gradual, sudden, noise = schedule
    assert (7, mon.RULE_DRIFT_WARNING) in loud["WARNING"]
    alert_days = [day for day, rule in loud["ALERT"] if rule == mon.RULE_DRIFT_ALERT]
    assert min(alert_days) == noise.start_day + 1 and sudden.start_day + 1 in alert_days


# --------------------------------------------------------------------------------------------------------------
# The week through the API, and the files the dashboard reads
# --------------------------------------------------------------------------------------------------------------


def _served(days: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A tiny served week: per day, two hourly batches; predictions right on odd rows only."""
    predictions = pd.DataFrame({
        "day": np.repeat(np.arange(1, days + 1), 4),
        "hour": np.tile([8, 8, 18, 18], days),
        "prediction": np.tile([1, 0, 1, 1], days),
        "label": np.tile([1, 1, 1, 0], days),
    })
    batches = pd.DataFrame({"day": np.repeat(np.arange(1, days + 1), 2), "hour": np.tile([8, 18], days),
                            "latency_s": [0.001, 0.003] * days})
    return predictions, batches


def test_daily_metrics_count_score_and_time_each_day() -> None:
    daily = mon.daily_metrics(*_served())
    assert list(daily.columns) == ["day", "date", "requests", "accuracy", "positive_rate", "p50_ms", "p95_ms"]
    assert daily["date"].tolist() == ["2026-03-02", "2026-03-03"]
    assert daily["requests"].tolist() == [4, 4]
    assert daily["accuracy"].tolist() == [0.5, 0.5] and daily["positive_rate"].tolist() == [0.75, 0.75]
    np.testing.assert_allclose(daily["p50_ms"], 2.0)
    np.testing.assert_allclose(daily["p95_ms"], 2.9)


def test_rows_without_a_label_are_left_out_of_accuracy() -> None:
    predictions, batches = _served(1)
    predictions.loc[1, "label"] = -1  # its label never arrived
    assert mon.daily_metrics(predictions, batches)["accuracy"].iloc[0] == pytest.approx(2 / 3)


def test_hourly_traffic_covers_all_24_hours() -> None:
    hourly = mon.hourly_traffic(*_served())
    assert hourly["hour"].tolist() == list(range(24))
    assert hourly.loc[[8, 18], "requests"].tolist() == [4, 4] and hourly["requests"].sum() == 8
    assert hourly.loc[8, "mean_latency_ms"] == pytest.approx(1.0) and hourly["mean_latency_ms"].isna().sum() == 22


def test_week_alerts_are_stamped_at_the_end_of_the_simulated_day() -> None:
    daily = mon.daily_metrics(*_served())
    alerts = mon.week_alerts(daily, _drift(["Normal", "Normal"]), baseline_accuracy=0.88)
    assert [(a.time, a.rule) for a in alerts] == [(datetime(2026, 3, 2, 23, 59), mon.RULE_ACCURACY),
                                                 (datetime(2026, 3, 3, 23, 59), mon.RULE_ACCURACY)]


@pytest.fixture(scope="module")
def small_week(course_data) -> pd.DataFrame:
    _, pool = course_data
    return mon.simulate_week(pool, [mon.DriftSpec("feature_1", start_day=2, jump=2.0)], volumes=(60, 80))


def test_send_week_serves_every_row_logs_it_and_feeds_back_its_label(bundle_dir, small_week, tmp_path) -> None:
    from helpers import server

    log = tmp_path / "log.jsonl"
    with server.start_api(model_dir=bundle_dir, name="test-monitoring") as api:
        run = mon.send_week(api.url, small_week, log)
    assert len(run.predictions) == 140 and (run.predictions["label"] >= 0).all()
    np.testing.assert_array_equal(run.predictions[data.FEATURES].to_numpy(), small_week[data.FEATURES].to_numpy())
    np.testing.assert_array_equal(run.predictions["label"], small_week[data.TARGET])
    assert len(run.batches) == small_week.groupby(["day", "hour"]).ngroups and (run.batches["latency_s"] > 0).all()
    assert len(log.read_text().splitlines()) == 2 * len(run.batches)  # one prediction and one feedback line each
    again, batches = mon.read_prediction_log(log)
    pd.testing.assert_frame_equal(again, run.predictions)
    pd.testing.assert_frame_equal(batches, run.batches)
    accuracy = run.gauges.query("metric == 'model_accuracy'").set_index("day")["value"]
    assert accuracy.index.tolist() == [1, 2]
    assert accuracy[2] == pytest.approx((run.predictions["prediction"] == run.predictions["label"]).mean())
    psi = run.gauges.query("metric == 'model_feature_psi'").pivot(index="day", columns="feature", values="value")
    bins = mon.ReferenceBins.fit(mon.training_reference()["feature_1"].to_numpy())  # what the bundle's card holds
    for day in (1, 2):  # the API's window holds every row served so far (fewer than 1,000)
        seen = run.predictions.loc[run.predictions["day"] <= day, "feature_1"].to_numpy()
        assert psi.loc[day, "feature_1"] == pytest.approx(bins.psi(seen), abs=1e-12)
    assert f'http_request_duration_seconds_count{{endpoint="/predict_batch"}} {len(run.batches)}' in run.metrics_text


def test_send_week_without_an_api_says_how_to_start_one(small_week) -> None:
    from helpers import server

    with pytest.raises(mon.MonitoringError, match=r"could not reach the API.*start_api\(\)"):
        mon.send_week(f"http://127.0.0.1:{server.free_port()}", small_week.head(3))


def test_missing_prediction_log_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(mon.MonitoringError, match="no prediction log"):
        mon.read_prediction_log(tmp_path / "nothing.jsonl")


@pytest.mark.slow
def test_load_monitoring_results_regenerates_missing_files_then_reads_them(bundle_dir, tmp_path) -> None:
    first = mon.load_monitoring_results(tmp_path, model_dir=bundle_dir)
    names = {p.name for p in tmp_path.iterdir()}
    assert names >= {*mon.RESULT_FILES.values(), mon.PREDICTION_LOG}
    assert first.daily["requests"].tolist() == list(mon.DAILY_VOLUMES)
    assert len(first.drift) == 7 * 20 and len(first.hourly) == 24 and len(first.predictions) == 8_050
    assert {"FeatureDriftAlert", "ModelAccuracyBelowBaseline"} <= set(first.alerts["rule"])
    (tmp_path / mon.PREDICTION_LOG).touch()  # a file changed on disk is read as it is, not regenerated
    mtime = (tmp_path / mon.RESULT_FILES["daily"]).stat().st_mtime_ns
    second = mon.load_monitoring_results(tmp_path, model_dir=bundle_dir)
    assert (tmp_path / mon.RESULT_FILES["daily"]).stat().st_mtime_ns == mtime
    pd.testing.assert_frame_equal(second.daily, first.daily)
