"""helpers.monitoring.simulation: the week's volumes, hours and clock, the drift it injects, its paired control."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import data
from helpers.common.schema import FEATURES, TARGET
from helpers.model import make_reference_model
from helpers.monitoring.drift import PSI_ALERT, PSI_WARNING
from helpers.monitoring.psi import MonitoringError
from helpers.monitoring.simulation import (
    DAILY_VOLUMES,
    DriftSpec,
    default_drift_schedule,
    hourly_weights,
    simulate_week,
)


def test_hourly_weights_have_quiet_nights_and_an_early_evening_peak() -> None:
    w = hourly_weights()
    assert w.shape == (24,) and w.sum() == pytest.approx(1.0) and (w > 0).all()
    assert int(np.argmax(w)) in (18, 19)
    assert w[0:6].max() < w[17:21].min()


def test_the_week_fits_in_the_live_traffic(course_data) -> None:
    _, traffic, _ = course_data
    assert list(DAILY_VOLUMES) == [700, 750, 800, 850, 900, 950, 1_000]
    assert sum(DAILY_VOLUMES) == 5_950 <= len(traffic) == 6_200


def test_week_has_the_daily_volumes_and_never_reuses_a_row(course_data, weeks, schedule) -> None:
    _, traffic, _ = course_data
    drifted, _ = weeks
    assert drifted.groupby("day").size().tolist() == list(DAILY_VOLUMES)
    assert len(drifted) == sum(DAILY_VOLUMES)
    assert drifted["pool_row"].is_unique
    untouched = [f for f in FEATURES if f not in {spec.feature for spec in schedule}]
    source = traffic.iloc[drifted["pool_row"]]
    np.testing.assert_array_equal(drifted[untouched].to_numpy(), source[untouched].to_numpy())
    np.testing.assert_array_equal(drifted[TARGET].to_numpy(), source[TARGET].to_numpy())


def test_hours_follow_the_weights(weeks) -> None:
    drifted, _ = weeks
    observed = drifted["hour"].value_counts(normalize=True).reindex(range(24), fill_value=0).to_numpy()
    np.testing.assert_allclose(observed, hourly_weights(), atol=0.015)
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
    same = ["timestamp", "day", "hour", "pool_row", TARGET]
    pd.testing.assert_frame_equal(drifted[same], control[same])
    shifted = {spec.feature for spec in schedule}
    untouched = [c for c in FEATURES if c not in shifted]
    pd.testing.assert_frame_equal(drifted[untouched], control[untouched])
    for spec in schedule:
        before = drifted["day"] < spec.start_day
        np.testing.assert_array_equal(drifted.loc[before, spec.feature], control.loc[before, spec.feature])
        assert (drifted.loc[~before, spec.feature] != control.loc[~before, spec.feature]).all()


def test_one_day_built_by_hand_equals_the_simulators_day(course_data, schedule) -> None:
    """The notebook's hand-built day: rows, hours and minutes drawn in the simulator's order, one DriftSpec applied."""
    _, traffic, _ = course_data
    sudden = schedule[1]
    rng = np.random.default_rng(42)
    rows = rng.permutation(len(traffic))[: sum(DAILY_VOLUMES)]
    hours = rng.choice(24, size=len(rows), p=hourly_weights())
    minutes = rng.integers(0, 60, size=len(rows))
    first = sum(DAILY_VOLUMES[:4])
    on_day_5 = slice(first, first + DAILY_VOLUMES[4])
    day = traffic.iloc[rows[on_day_5]].reset_index(drop=True)
    sd = traffic[sudden.feature].to_numpy().std()
    day[sudden.feature] = day[sudden.feature] + sudden.jump * sd
    order = np.argsort(hours[on_day_5] * 60 + minutes[on_day_5], kind="stable")
    by_hand = day.iloc[order].reset_index(drop=True)
    helper = simulate_week(traffic, [sudden]).query("day == 5")[traffic.columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(by_hand, helper)


def test_drift_sizes_are_in_standard_deviations_of_the_pool(course_data) -> None:
    _, traffic, _ = course_data
    sd = traffic["feature_1"].std(ddof=0)
    mean_spec = DriftSpec("feature_1", kind="mean", start_day=3, per_day=0.1, jump=0.5)
    assert [mean_spec.size(d) for d in (1, 2, 3, 4, 7)] == pytest.approx([0, 0, 0.6, 0.7, 1.0])
    moved = simulate_week(traffic, [mean_spec])
    control = simulate_week(traffic, [])
    gap = (moved["feature_1"] - control["feature_1"]).groupby(moved["day"]).mean()
    np.testing.assert_allclose(gap.to_numpy(), [mean_spec.size(d) * sd for d in range(1, 8)], atol=1e-12)
    scale_spec = DriftSpec("feature_1", kind="scale", start_day=1, jump=1.0)
    stretched = simulate_week(traffic, [scale_spec])
    ratio = stretched.groupby("day")["feature_1"].std() / control.groupby("day")["feature_1"].std()
    np.testing.assert_allclose(ratio.to_numpy(), 2.0, rtol=1e-9)


def test_simulator_rejects_impossible_requests(course_data) -> None:
    _, traffic, _ = course_data
    with pytest.raises(MonitoringError, match="the week needs 5950 rows but the pool holds only 100"):
        simulate_week(traffic.iloc[:100], [])
    with pytest.raises(MonitoringError, match="lacks: feature_99"):
        simulate_week(traffic, [DriftSpec("feature_99")])
    with pytest.raises(MonitoringError, match="every daily volume must be a positive count"):
        simulate_week(traffic, [], volumes=(10, 0))
    with pytest.raises(MonitoringError, match="non-empty DataFrame"):
        simulate_week(traffic.iloc[:0], [])
    with pytest.raises(MonitoringError, match="kind must be 'mean' or 'scale'"):
        DriftSpec("feature_1", kind="shear")
    with pytest.raises(MonitoringError, match="start_day counts from 1"):
        DriftSpec("feature_1", start_day=0)


def test_default_schedule_picks_features_by_role(schedule) -> None:
    roles = data.feature_roles()
    gradual, sudden, noise = schedule
    assert gradual.per_day > 0 and gradual.jump == 0 and gradual.feature in roles.informative
    assert sudden.jump > 0 and sudden.per_day == 0 and sudden.feature in roles.informative
    assert noise.kind == "scale" and noise.feature in roles.noise
    assert len({gradual.feature, sudden.feature, noise.feature}) == 3
    assert default_drift_schedule(data.feature_roles()) == schedule


def test_schedule_sizes_land_where_the_population_values_say(schedule) -> None:
    """Population PSI: delta^2 for a mean shift of delta sd, (r + 1/r)/2 - 1 for a variance ratio r."""
    gradual, sudden, noise = schedule
    assert gradual.size(5) ** 2 >= PSI_WARNING and gradual.size(7) ** 2 < PSI_ALERT  # Warning from Friday, not Alert
    assert gradual.size(4) ** 2 < PSI_WARNING
    assert sudden.size(sudden.start_day) ** 2 == pytest.approx(2.25)
    ratio = (1 + noise.size(noise.start_day)) ** 2  # the spread doubles: variance x4
    assert (ratio + 1 / ratio) / 2 - 1 == pytest.approx(1.125)


def daily_accuracy(fitted, week: pd.DataFrame) -> pd.Series:
    correct = fitted.predict(week[FEATURES].to_numpy()) == week[TARGET].to_numpy()
    return pd.Series(correct).groupby(week["day"].to_numpy()).mean()


def test_drift_in_noise_leaves_accuracy_while_the_sudden_shift_costs_it(course_data, weeks, schedule) -> None:
    reference, traffic, labels = course_data
    _, control = weeks
    forest = make_reference_model().fit(reference.to_numpy(), labels.to_numpy())  # v1.0.1's recipe
    gradual, sudden, noise = schedule
    base = daily_accuracy(forest, control)
    noise_only = daily_accuracy(forest, simulate_week(traffic, [noise]))
    sudden_only = daily_accuracy(forest, simulate_week(traffic, [sudden]))
    assert (noise_only - base).abs().max() < 0.01
    assert (base - sudden_only).loc[sudden.start_day :].min() > 0.05
    assert (base - sudden_only).loc[: sudden.start_day - 1].abs().max() == 0
