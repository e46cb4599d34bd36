"""helpers.monitoring.alerts: drift must last two consecutive days (INFO on the first), accuracy, latency."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from helpers.monitoring import alerts as al
from helpers.monitoring.psi import MonitoringError

START = datetime(2026, 3, 2)


def metrics(days: int = 7, accuracy: float = 0.87, p95: float = 20.0, **overrides: list) -> pd.DataFrame:
    frame = pd.DataFrame({
        "day": range(1, days + 1),
        "requests": 1_000,
        "accuracy": accuracy,
        "positive_rate": 0.5,
        "p50_ms": 8.0,
        "p95_ms": p95,
        "end_of_day": [al.end_of_day(START, d) for d in range(1, days + 1)],
    })
    for column, values in overrides.items():
        frame[column] = values
    return frame


def drift(statuses: list[str], feature: str = "feature_3") -> pd.DataFrame:
    psi_of = {"Normal": 0.02, "Warning": 0.15, "Alert": 0.4}
    return pd.DataFrame({"day": range(1, len(statuses) + 1), "feature": feature,
                         "psi": [psi_of[s] for s in statuses], "status": statuses})


def by_severity(alerts: list[al.Alert]) -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    for a in alerts:
        out.setdefault(a.severity, []).append((a.time.day - START.day + 1, a.rule))
    return out


def test_end_of_day_is_the_last_minute_of_the_day() -> None:
    assert al.end_of_day(START, 1) == datetime(2026, 3, 2, 23, 59)
    assert al.end_of_day(START, 7) == datetime(2026, 3, 8, 23, 59)


def test_a_one_day_blip_raises_no_warning_or_alert() -> None:
    alerts = al.evaluate_alerts(metrics(), drift(["Normal", "Alert", "Normal", "Warning", "Normal", "Normal",
                                                  "Normal"]), baseline_accuracy=0.88)
    assert {a.severity for a in alerts} == {"INFO"}
    assert by_severity(alerts)["INFO"] == [(2, al.RULE_DRIFT_STARTED), (4, al.RULE_DRIFT_STARTED)]
    assert "waiting for a second day" in alerts[0].message


def test_two_consecutive_days_raise_warning_then_alert() -> None:
    statuses = ["Normal", "Warning", "Warning", "Alert", "Alert", "Warning", "Normal"]
    found = by_severity(al.evaluate_alerts(metrics(), drift(statuses), baseline_accuracy=0.88))
    assert found["INFO"] == [(2, al.RULE_DRIFT_STARTED)]
    # Day 4: Warning-or-worse for three days but Alert for one only, so a WARNING; day 5: Alert twice, an ALERT.
    assert found["WARNING"] == [(3, al.RULE_DRIFT_WARNING), (4, al.RULE_DRIFT_WARNING), (6, al.RULE_DRIFT_WARNING)]
    assert found["ALERT"] == [(5, al.RULE_DRIFT_ALERT)]


def test_runs_are_counted_per_feature() -> None:
    both = pd.concat([drift(["Warning", "Normal"] * 3 + ["Normal"], "feature_1"),
                      drift(["Normal", "Warning"] * 3 + ["Normal"], "feature_2")])
    alerts = al.evaluate_alerts(metrics(), both, baseline_accuracy=0.88)
    assert {a.severity for a in alerts} == {"INFO"} and len(alerts) == 6, "alternating features never persist"


def test_a_missing_day_breaks_the_run() -> None:
    found = by_severity(al.evaluate_alerts(metrics(), drift(["Warning"] * 7).query("day != 4"),
                                           baseline_accuracy=0.88))
    assert found["INFO"] == [(1, al.RULE_DRIFT_STARTED), (5, al.RULE_DRIFT_STARTED)]
    assert [day for day, _ in found["WARNING"]] == [2, 3, 6, 7]


def test_accuracy_more_than_the_margin_below_baseline_is_an_alert() -> None:
    table = metrics(accuracy=[0.87, 0.831, 0.829, np.nan, 0.70, 0.87, 0.87])
    found = by_severity(al.evaluate_alerts(table, drift(["Normal"] * 7), baseline_accuracy=0.88))
    assert found == {"ALERT": [(3, al.RULE_ACCURACY), (5, al.RULE_ACCURACY)]}
    strict = al.evaluate_alerts(table, drift(["Normal"] * 7), baseline_accuracy=0.88, accuracy_margin=0.01)
    assert [a.severity for a in strict] == ["ALERT"] * 3
    assert al.ACCURACY_MARGIN == 0.05


def test_p95_more_than_ten_percent_above_the_first_day_is_a_warning() -> None:
    table = metrics(p95_ms=[20.0, 21.9, 22.0, 22.1, 30.0, 18.0, 20.0])
    alerts = al.evaluate_alerts(table, drift(["Normal"] * 7), baseline_accuracy=0.88)
    assert by_severity(alerts) == {"WARNING": [(4, al.RULE_LATENCY), (5, al.RULE_LATENCY)]}
    assert "22.1 ms" in alerts[0].message and "20.0 ms" in alerts[0].message
    assert al.LATENCY_INCREASE == 0.10


def test_alerts_come_sorted_by_time_most_severe_first() -> None:
    table = metrics(accuracy=[0.87, 0.87, 0.7, 0.7, 0.87, 0.87, 0.87], p95_ms=[20, 20, 25, 20, 20, 20, 20])
    alerts = al.evaluate_alerts(table, drift(["Alert", "Alert", "Alert", "Normal", "Normal", "Normal", "Normal"]),
                                baseline_accuracy=0.88)
    times = [a.time for a in alerts]
    assert times == sorted(times)
    day_3 = [a.severity for a in alerts if a.time == al.end_of_day(START, 3)]
    assert day_3 == ["ALERT", "ALERT", "WARNING"]
    frame = al.alerts_frame(alerts)
    assert list(frame.columns) == ["time", "severity", "rule", "message"] and len(frame) == len(alerts)
    assert list(al.alerts_frame([]).columns) == ["time", "severity", "rule", "message"]


def test_without_a_time_column_alerts_are_labelled_by_day() -> None:
    table = metrics(accuracy=[0.5] * 7).drop(columns=["end_of_day"])
    alerts = al.evaluate_alerts(table, drift(["Normal"] * 7), baseline_accuracy=0.88)
    assert [a.time for a in alerts] == [f"day {d}" for d in range(1, 8)]


@pytest.mark.parametrize(
    ("table", "drift_table", "baseline", "message"),
    [
        (metrics().drop(columns=["p95_ms"]), drift(["Normal"] * 7), 0.88,
         r"daily_metrics is missing column\(s\): p95_ms"),
        (metrics(), drift(["Normal"] * 7).drop(columns=["status"]), 0.88, r"drift is missing column\(s\): status"),
        (metrics(), drift(["Normal"] * 7).assign(status="Bad"), 0.88, "drift column status holds unknown value"),
        (metrics().iloc[:0], drift(["Normal"] * 7), 0.88, "daily_metrics has no rows"),
        (metrics(), drift(["Normal"] * 7), 88.0, r"baseline_accuracy must lie in \[0, 1\]"),
    ],
)
def test_bad_alert_inputs_raise(table, drift_table, baseline, message) -> None:
    with pytest.raises(MonitoringError, match=message):
        al.evaluate_alerts(table, drift_table, baseline_accuracy=baseline)


def test_alert_severity_is_checked() -> None:
    with pytest.raises(MonitoringError, match="severity"):
        al.Alert(START, "CRITICAL", "x", "y")


def test_control_week_raises_no_alert_and_the_drifted_week_does(week_drift, schedule) -> None:
    drifted, control = week_drift
    steady = metrics(accuracy=0.87, p95=21.0)
    quiet = al.evaluate_alerts(steady, control, baseline_accuracy=0.88)
    assert quiet == []
    loud = by_severity(al.evaluate_alerts(steady, drifted, baseline_accuracy=0.88))
    gradual, sudden, noise = schedule
    assert (7, al.RULE_DRIFT_WARNING) in loud["WARNING"]
    assert {day for day, rule in loud["WARNING"] if rule == al.RULE_DRIFT_WARNING} <= set(range(gradual.start_day, 8))
    alert_days = [day for day, rule in loud["ALERT"] if rule == al.RULE_DRIFT_ALERT]
    assert min(alert_days) == noise.start_day + 1 and sudden.start_day + 1 in alert_days
    assert (noise.start_day, al.RULE_DRIFT_STARTED) in loud["INFO"]
