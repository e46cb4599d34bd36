"""Alert rules: drift that persists two days, accuracy below the baseline, p95 latency above the first day's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from helpers.monitoring.checks import require_columns
from helpers.monitoring.drift import PSI_ALERT, PSI_WARNING, STATUSES
from helpers.monitoring.psi import MonitoringError

ACCURACY_MARGIN = 0.05
"""Alert when daily accuracy falls more than this below the baseline accuracy."""
LATENCY_INCREASE = 0.10
"""Warn when daily p95 latency is more than this fraction above the baseline (the first day's) p95."""
SEVERITIES = ("INFO", "WARNING", "ALERT")

# Rule names, shared with deploy/monitoring/alert_rules.yml (Prometheus severity: WARNING=warning, ALERT=critical).
RULE_DRIFT_STARTED = "FeatureDriftStarted"
RULE_DRIFT_WARNING = "FeatureDriftWarning"
RULE_DRIFT_ALERT = "FeatureDriftAlert"
RULE_ACCURACY = "ModelAccuracyBelowBaseline"
RULE_LATENCY = "PredictLatencyP95AboveBaseline"
PROMETHEUS_SEVERITY = {"WARNING": "warning", "ALERT": "critical"}

METRICS_READ_BY_RULES: tuple[str, ...] = (
    "model_feature_psi",  # gauge, label `feature`: PSI of the recent window against the training reference
    "model_accuracy",  # gauge: accuracy on labelled feedback
    "model_baseline_accuracy",  # gauge: accuracy measured at training time
    "http_request_duration_seconds_bucket",  # histogram buckets, label `endpoint`
    "model_baseline_p95_seconds",  # gauge: p95 latency of /predict measured at release time
)
"""The Prometheus series that alert_rules.yml reads: the API must expose every one of them."""


DAILY_METRIC_COLUMNS = ("day", "requests", "accuracy", "positive_rate", "p50_ms", "p95_ms")
TIME_COLUMNS = ("end_of_day", "date", "time")


@dataclass(frozen=True)
class Alert:
    """One alert: when it fired, how severe it is (INFO, WARNING, ALERT), which rule fired and why."""

    time: datetime | str
    severity: str
    rule: str
    message: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise MonitoringError(f"severity must be one of {', '.join(SEVERITIES)}, got {self.severity!r}")


def day_times(daily_metrics: pd.DataFrame) -> dict[int, datetime | str]:
    """Return the alert time of each day: its end-of-day/date column if there is one, else 'day N'."""
    column = next((c for c in TIME_COLUMNS if c in daily_metrics.columns), None)
    if column is None:
        return {int(d): f"day {int(d)}" for d in daily_metrics["day"]}
    pairs = zip(daily_metrics["day"], daily_metrics[column], strict=True)
    return {int(d): pd.Timestamp(t).to_pydatetime() for d, t in pairs}


def drift_findings(drift: pd.DataFrame) -> list[tuple[int, str, str, str]]:
    """Return (day, severity, rule, message) for drift lasting two consecutive days; INFO on a run's first day."""
    found = []
    rank = {status: i for i, status in enumerate(STATUSES)}
    for feature, rows in drift.groupby("feature", sort=False):
        warn_run = alert_run = 0
        previous_day = None
        for day, value, status in rows.sort_values("day")[["day", "psi", "status"]].itertuples(index=False):
            if previous_day is not None and day != previous_day + 1:
                warn_run = alert_run = 0  # a missing day breaks the run
            previous_day = day
            warn_run = warn_run + 1 if rank[status] >= rank["Warning"] else 0
            alert_run = alert_run + 1 if rank[status] >= rank["Alert"] else 0
            if alert_run >= 2:
                found.append((int(day), "ALERT", RULE_DRIFT_ALERT,
                              f"{feature} PSI {value:.3f} >= {PSI_ALERT} for {alert_run} consecutive days"))
            elif warn_run >= 2:
                found.append((int(day), "WARNING", RULE_DRIFT_WARNING,
                              f"{feature} PSI {value:.3f} >= {PSI_WARNING} for {warn_run} consecutive days"))
            elif warn_run == 1:
                found.append((int(day), "INFO", RULE_DRIFT_STARTED,
                              f"{feature} PSI {value:.3f} ({status}) for one day: waiting for a second day"))
    return found


def evaluate_alerts(
    daily_metrics: pd.DataFrame,
    drift: pd.DataFrame,
    baseline_accuracy: float,
    accuracy_margin: float = ACCURACY_MARGIN,
    latency_increase: float = LATENCY_INCREASE,
) -> list[Alert]:
    """Return the week's alerts in time order: persistent drift, accuracy below baseline, p95 latency up."""
    require_columns(daily_metrics, DAILY_METRIC_COLUMNS, "daily_metrics")
    require_columns(drift, ("day", "feature", "psi", "status"), "drift")
    if daily_metrics.empty:
        raise MonitoringError("daily_metrics has no rows")
    unknown = sorted(set(drift["status"]) - set(STATUSES))
    if unknown:
        raise MonitoringError(f"drift column status holds unknown value(s): {', '.join(map(str, unknown))}")
    if not 0 <= baseline_accuracy <= 1:
        raise MonitoringError(f"baseline_accuracy must lie in [0, 1], got {baseline_accuracy}")

    metrics = daily_metrics.sort_values("day")
    found = drift_findings(drift)

    floor = baseline_accuracy - accuracy_margin
    for day, accuracy in zip(metrics["day"], metrics["accuracy"], strict=True):
        if pd.notna(accuracy) and accuracy < floor:
            found.append((int(day), "ALERT", RULE_ACCURACY, f"accuracy {accuracy:.4f} is more than "
                          f"{accuracy_margin:.2f} below the baseline {baseline_accuracy:.4f}"))

    first_p95 = float(metrics["p95_ms"].iloc[0])
    for day, p95 in zip(metrics["day"], metrics["p95_ms"], strict=True):
        if p95 > first_p95 * (1 + latency_increase):
            found.append((int(day), "WARNING", RULE_LATENCY, f"p95 latency {p95:.1f} ms is more than "
                          f"{latency_increase:.0%} above the first day's {first_p95:.1f} ms"))

    most_severe_first = {severity: i for i, severity in enumerate(reversed(SEVERITIES))}
    found.sort(key=lambda f: (f[0], most_severe_first[f[1]], f[2], f[3]))
    times = day_times(metrics)
    return [Alert(times.get(day, f"day {day}"), severity, rule, message) for day, severity, rule, message in found]


def alerts_frame(alerts: list[Alert]) -> pd.DataFrame:
    """Return the alerts as a table with columns time, severity, rule, message (one row per alert)."""
    return pd.DataFrame(
        [(a.time, a.severity, a.rule, a.message) for a in alerts], columns=["time", "severity", "rule", "message"]
    )


def end_of_day(start: datetime, day: int) -> datetime:
    """Return the last minute of simulated `day` (1-based) of a week that starts at `start`."""
    return start + timedelta(days=day) - timedelta(minutes=1)

