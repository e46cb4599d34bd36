"""Drift detection (PSI, KS), a simulated production week and the alerting rules of notebook 06."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.data import FeatureRoles
from helpers.psi import (  # noqa: F401 - re-exported: notebook 06 teaches them from here
    PSI_EPSILON,
    MonitoringError,
    ReferenceBins,
    _check_values,
    _psi_from_shares,
    _shares,
    psi,
)

PSI_WARNING = 0.1
"""PSI at or above this is a moderate shift: status "Warning"."""
PSI_ALERT = 0.25
"""PSI at or above this is a major shift: status "Alert"."""
ACCURACY_MARGIN = 0.05
"""Alert when daily accuracy falls more than this below the baseline accuracy."""
LATENCY_INCREASE = 0.10
"""Warn when daily p95 latency is more than this fraction above the baseline (the first day's) p95."""

STATUSES = ("Normal", "Warning", "Alert")
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


# --------------------------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------------------------


def _check_frame(df: pd.DataFrame, features: list[str], name: str) -> None:
    """Raise MonitoringError unless `df` is a non-empty frame with finite numeric `features`."""
    if not isinstance(df, pd.DataFrame):
        raise MonitoringError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    if df.empty:
        raise MonitoringError(f"{name} has no rows")
    for col in features:
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            raise MonitoringError(f"{name} column {col} must be numeric, found dtype {df[col].dtype}")
        bad = ~np.isfinite(df[col].to_numpy(dtype=np.float64))
        if bad.any():
            raise MonitoringError(
                f"{name} column {col} holds {int(bad.sum())} missing or infinite value(s), "
                f"first at row {df.index[np.flatnonzero(bad)[0]]}"
            )


def _features(
    reference: pd.DataFrame, current: pd.DataFrame, features: Sequence[str] | None, current_extras_ok: bool = False
) -> list[str]:
    """Return the feature list to compare, raising MonitoringError that names missing or unexpected columns."""
    for df, name in ((reference, "reference"), (current, "current")):
        if not isinstance(df, pd.DataFrame):
            raise MonitoringError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    if features is None:
        chosen = [str(c) for c in reference.columns]
        extra = [str(c) for c in current.columns if c not in reference.columns]
        if extra and not current_extras_ok:
            raise MonitoringError(
                f"current has column(s) the reference lacks: {', '.join(extra)} "
                "(pass features=[...] to compare a subset)"
            )
    else:
        chosen = list(features)
    if not chosen:
        raise MonitoringError("no features to compare")
    problems = []
    for df, name in ((reference, "reference"), (current, "current")):
        missing = [f for f in chosen if f not in df.columns]
        if missing:
            problems.append(f"{name} is missing column(s): {', '.join(missing)}")
    if problems:
        raise MonitoringError("; ".join(problems))
    _check_frame(reference, chosen, "reference")
    _check_frame(current, chosen, "current")
    return chosen


# --------------------------------------------------------------------------------------------------------------
# PSI
# --------------------------------------------------------------------------------------------------------------


def psi_table(
    reference: pd.DataFrame, current: pd.DataFrame, features: list[str] | None = None, bins: int = 10
) -> pd.Series:
    """Return the PSI of every feature (a Series indexed by feature name)."""
    chosen = _features(reference, current, features)
    values = [psi(reference[f].to_numpy(), current[f].to_numpy(), bins) for f in chosen]
    return pd.Series(values, index=pd.Index(chosen, name="feature"), name="psi")


def drift_status(psi_value: float) -> str:
    """Return "Normal" (PSI < 0.1), "Warning" (0.1 <= PSI < 0.25) or "Alert" (PSI >= 0.25)."""
    if not np.isfinite(psi_value) or psi_value < 0:
        raise MonitoringError(f"a PSI is a finite number >= 0, got {psi_value}")
    if psi_value >= PSI_ALERT:
        return "Alert"
    if psi_value >= PSI_WARNING:
        return "Warning"
    return "Normal"


# --------------------------------------------------------------------------------------------------------------
# KS with a multiple-testing correction
# --------------------------------------------------------------------------------------------------------------

CORRECTIONS = ("none", "bonferroni", "holm", "bh")


def adjust_pvalues(p_values: np.ndarray, correction: str = "bonferroni") -> np.ndarray:
    """Return p-values adjusted for testing several features at once ("none", "bonferroni", "holm" or "bh")."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if correction == "none":
        return p.copy()
    if correction == "bonferroni":
        return np.minimum(p * m, 1.0)
    if correction == "holm":
        order = np.argsort(p, kind="stable")
        # The k-th smallest p-value (k = 0, 1, ...) is multiplied by m - k; running max keeps the order.
        stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(stepped, 1.0)
        return adjusted
    if correction == "bh":
        from scipy import stats  # imported here: the API server needs PSI, not scipy

        return stats.false_discovery_control(p, method="bh")
    raise MonitoringError(f"correction must be one of {', '.join(CORRECTIONS)}; got {correction!r}")


def ks_table(
    reference_df: pd.DataFrame,
    current_df: pd.DataFrame,
    features: list[str] | None = None,
    alpha: float = 0.05,
    correction: str = "bonferroni",
) -> pd.DataFrame:
    """Return per-feature two-sample KS results: statistic, p_value, p_adjusted and drifted (p_adjusted < alpha)."""
    if correction not in CORRECTIONS:
        raise MonitoringError(f"correction must be one of {', '.join(CORRECTIONS)}; got {correction!r}")
    if not 0 < alpha < 1:
        raise MonitoringError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    chosen = _features(reference_df, current_df, features)
    from scipy import stats

    results = [stats.ks_2samp(reference_df[f].to_numpy(), current_df[f].to_numpy()) for f in chosen]
    table = pd.DataFrame(
        {"statistic": [float(r.statistic) for r in results], "p_value": [float(r.pvalue) for r in results]},
        index=pd.Index(chosen, name="feature"),
    )
    table["p_adjusted"] = adjust_pvalues(table["p_value"].to_numpy(), correction)
    table["drifted"] = table["p_adjusted"] < alpha
    return table


# --------------------------------------------------------------------------------------------------------------
# Drift over a week
# --------------------------------------------------------------------------------------------------------------


def daily_drift(
    reference_df: pd.DataFrame,
    traffic_df: pd.DataFrame,
    day_col: str = "day",
    features: list[str] | None = None,
    alpha: float = 0.05,
    correction: str = "bonferroni",
) -> pd.DataFrame:
    """Return one row per (day, feature): rows, psi, status, ks_statistic, p_value, p_adjusted, ks_drifted."""
    if not isinstance(traffic_df, pd.DataFrame) or day_col not in traffic_df.columns:
        raise MonitoringError(f"traffic is missing the day column {day_col!r}")
    chosen = _features(reference_df, traffic_df, features, current_extras_ok=True)
    if day_col in chosen:
        chosen.remove(day_col)
    fitted = {f: ReferenceBins.fit(reference_df[f].to_numpy()) for f in chosen}
    parts = []
    for day, batch in traffic_df.groupby(day_col, sort=True):
        ks = ks_table(reference_df, batch, chosen, alpha=alpha, correction=correction)
        psis = [fitted[f].psi(batch[f].to_numpy()) for f in chosen]
        parts.append(
            pd.DataFrame(
                {
                    day_col: day,
                    "feature": chosen,
                    "rows": len(batch),
                    "psi": psis,
                    "status": [drift_status(v) for v in psis],
                    "ks_statistic": ks["statistic"].to_numpy(),
                    "p_value": ks["p_value"].to_numpy(),
                    "p_adjusted": ks["p_adjusted"].to_numpy(),
                    "ks_drifted": ks["drifted"].to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------------------------------------------
# The simulated production week
# --------------------------------------------------------------------------------------------------------------

DAILY_VOLUMES: tuple[int, ...] = (1000, 1050, 1100, 1150, 1200, 1250, 1300)
"""Requests per day, Monday to Sunday: traffic grows 5% of Monday's volume a day."""

# Relative traffic in each hour of the day, 00h to 23h: quiet nights, a working-day plateau, an early-evening peak.
HOURLY_PROFILE: tuple[float, ...] = (
    2, 1, 1, 1, 1, 2,  # 00-05h: night
    3, 5, 7, 8, 8, 9,  # 06-11h: morning ramp
    9, 8, 8, 8, 9, 11,  # 12-17h: afternoon
    14, 14, 10, 7, 5, 3,  # 18-23h: evening peak, then wind-down
)  # fmt: skip


def hourly_weights() -> np.ndarray:
    """Return 24 probabilities (summing to 1) that a request arrives in each hour of the day."""
    profile = np.asarray(HOURLY_PROFILE, dtype=np.float64)
    return profile / profile.sum()


@dataclass(frozen=True)
class DriftSpec:
    """A shift injected into one feature, in units of that feature's standard deviation in the pool.

    From `start_day` on, the size is `jump + per_day * (days since start_day + 1)`:
    `jump` alone is a sudden shift, `per_day` alone a gradual one. `kind="mean"` adds size x sd to every
    value; `kind="scale"` stretches values around the mean so the spread becomes (1 + size) x sd.
    """

    feature: str
    kind: str = "mean"
    start_day: int = 1
    per_day: float = 0.0
    jump: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("mean", "scale"):
            raise MonitoringError(f"DriftSpec kind must be 'mean' or 'scale', got {self.kind!r}")
        if self.start_day < 1:
            raise MonitoringError(f"DriftSpec start_day counts from 1, got {self.start_day}")

    def size(self, day: int) -> float:
        """Return the shift on `day` (1-based), in standard deviations; 0 before start_day."""
        if day < self.start_day:
            return 0.0
        return self.jump + self.per_day * (day - self.start_day + 1)

    def apply(self, values: np.ndarray, day: int, mean: float, sd: float) -> np.ndarray:
        """Return `values` as they look on `day` once this drift is applied."""
        size = self.size(day)
        if size == 0:
            return values.copy()
        if self.kind == "mean":
            return values + size * sd
        return mean + (values - mean) * (1.0 + size)


def default_drift_schedule(roles: FeatureRoles) -> list[DriftSpec]:
    """Return the course's week: a gradual and a sudden shift in informative features, a shift in a noise feature."""
    return [
        # Gradual: +0.08 sd a day from Tuesday, 0.48 sd by Sunday (PSI ~ delta^2, about 0.2: Warning, not Alert).
        DriftSpec(roles.informative[1], kind="mean", start_day=2, per_day=0.08),
        # Sudden: +1.5 sd from Friday (PSI ~ 2: Alert) in an informative feature: accuracy falls with it.
        DriftSpec(roles.informative[0], kind="mean", start_day=5, jump=1.5),
        # Noise: the spread doubles from Wednesday (PSI ~ 0.5). The model barely uses the feature: accuracy holds.
        DriftSpec(roles.noise[0], kind="scale", start_day=3, jump=1.0),
    ]


def simulate_week(
    pool: pd.DataFrame,
    schedule: list[DriftSpec],
    volumes: Sequence[int] = DAILY_VOLUMES,
    seed: int = 42,
    start: datetime = datetime(2026, 3, 2),  # noqa: B008 - an immutable default
) -> pd.DataFrame:
    """Return a week of simulated traffic: pool rows drawn without replacement, timestamped, with drift applied.

    Columns: timestamp (minute resolution, sorted), day (1..7), hour (0..23), pool_row (position in `pool`),
    then the pool's columns; `target` is the ground truth that arrives later. The random draws (rows, hours,
    minutes) do not depend on `schedule`, so `simulate_week(pool, [])` is the same week, row for row and
    minute for minute, without the drift: a paired control.
    """
    if not isinstance(pool, pd.DataFrame) or pool.empty:
        raise MonitoringError("the production pool must be a non-empty DataFrame")
    volumes = [int(v) for v in volumes]
    if not volumes or min(volumes) < 1:
        raise MonitoringError(f"every daily volume must be a positive count, got {volumes}")
    if sum(volumes) > len(pool):
        raise MonitoringError(f"the week needs {sum(volumes)} rows but the pool holds only {len(pool)}")
    missing = sorted({spec.feature for spec in schedule} - set(pool.columns))
    if missing:
        raise MonitoringError(f"the drift schedule names column(s) the pool lacks: {', '.join(missing)}")

    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(pool))[: sum(volumes)]
    day = np.repeat(np.arange(1, len(volumes) + 1), volumes)
    hour = rng.choice(24, size=len(rows), p=hourly_weights())
    minute = rng.integers(0, 60, size=len(rows))
    timestamp = pd.Timestamp(start) + pd.to_timedelta((day - 1) * 1440 + hour * 60 + minute, unit="min")

    week = pool.iloc[rows].reset_index(drop=True)
    week.insert(0, "pool_row", rows)
    week.insert(0, "hour", hour)
    week.insert(0, "day", day)
    week.insert(0, "timestamp", timestamp)

    for spec in schedule:
        values = pool[spec.feature].to_numpy(dtype=np.float64)
        mean, sd = float(values.mean()), float(values.std())
        shifted = week[spec.feature].to_numpy(dtype=np.float64).copy()
        for d in range(1, len(volumes) + 1):
            on_day = day == d
            shifted[on_day] = spec.apply(shifted[on_day], d, mean, sd)
        week[spec.feature] = shifted

    return week.sort_values(["day", "timestamp"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------------------
# Alerting
# --------------------------------------------------------------------------------------------------------------

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


def _require(df: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise MonitoringError naming the columns `df` lacks."""
    if not isinstance(df, pd.DataFrame):
        raise MonitoringError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MonitoringError(f"{name} is missing column(s): {', '.join(missing)}")


def _day_times(daily_metrics: pd.DataFrame) -> dict[int, datetime | str]:
    """Return the alert time of each day: its end-of-day/date column if there is one, else 'day N'."""
    column = next((c for c in TIME_COLUMNS if c in daily_metrics.columns), None)
    if column is None:
        return {int(d): f"day {int(d)}" for d in daily_metrics["day"]}
    pairs = zip(daily_metrics["day"], daily_metrics[column], strict=True)
    return {int(d): pd.Timestamp(t).to_pydatetime() for d, t in pairs}


def _drift_findings(drift: pd.DataFrame) -> list[tuple[int, str, str, str]]:
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
    _require(daily_metrics, DAILY_METRIC_COLUMNS, "daily_metrics")
    _require(drift, ("day", "feature", "psi", "status"), "drift")
    if daily_metrics.empty:
        raise MonitoringError("daily_metrics has no rows")
    unknown = sorted(set(drift["status"]) - set(STATUSES))
    if unknown:
        raise MonitoringError(f"drift column status holds unknown value(s): {', '.join(map(str, unknown))}")
    if not 0 <= baseline_accuracy <= 1:
        raise MonitoringError(f"baseline_accuracy must lie in [0, 1], got {baseline_accuracy}")

    metrics = daily_metrics.sort_values("day")
    found = _drift_findings(drift)

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
    times = _day_times(metrics)
    return [Alert(times.get(day, f"day {day}"), severity, rule, message) for day, severity, rule, message in found]


def alerts_frame(alerts: list[Alert]) -> pd.DataFrame:
    """Return the alerts as a table with columns time, severity, rule, message (one row per alert)."""
    return pd.DataFrame(
        [(a.time, a.severity, a.rule, a.message) for a in alerts], columns=["time", "severity", "rule", "message"]
    )


def end_of_day(start: datetime, day: int) -> datetime:
    """Return the last minute of simulated `day` (1-based) of a week that starts at `start`."""
    return start + timedelta(days=day) - timedelta(minutes=1)


# --------------------------------------------------------------------------------------------------------------
# The week through the running API, and the files notebook 08 reads
# --------------------------------------------------------------------------------------------------------------

WEEK_START = datetime(2026, 3, 2)
"""Monday 00:00 of the simulated week (the simulated clock, not the machine's)."""
PREDICTION_LOG = "prediction_log.jsonl"
RESULT_FILES: dict[str, str] = {
    "daily": "daily_metrics.csv",
    "drift": "drift.csv",
    "alerts": "alerts.csv",
    "hourly": "hourly_traffic.csv",
}
GAUGES = ("model_feature_psi", "model_accuracy", "model_baseline_accuracy", "model_monitoring_window_rows")


def monitoring_dir() -> Path:
    """Return artifacts/monitoring/, where the week's log and tables are kept."""
    from helpers import paths

    return paths.ARTIFACTS_DIR / "monitoring"


def training_reference() -> pd.DataFrame:
    """Return the rows the model was trained on (the 70% split): the drift reference the API's model card carries."""
    from helpers.data import FEATURES, split_dataset

    return pd.DataFrame(split_dataset()[0], columns=FEATURES)


@dataclass
class WeekRun:
    """A simulated week as the API served it: one row per prediction, one per HTTP call, gauges per day."""

    predictions: pd.DataFrame
    batches: pd.DataFrame
    gauges: pd.DataFrame
    metrics_text: str


def _minute(ts: pd.Timestamp | datetime) -> str:
    """Return a simulated-clock time at minute resolution, e.g. '2026-03-02T07:03'."""
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M")


def read_gauges(metrics_text: str) -> list[tuple[str, str, float]]:
    """Return (metric, feature, value) for the monitoring gauges in a Prometheus /metrics text."""
    from prometheus_client.parser import text_string_to_metric_families

    return [(s.name, s.labels.get("feature", ""), float(s.value))
            for family in text_string_to_metric_families(metrics_text) if family.name in GAUGES
            for s in family.samples]


def send_week(url: str, week: pd.DataFrame, log_path: Path | None = None, timeout: float = 10.0) -> WeekRun:
    """Serve `week` through the API at `url` and return a WeekRun: one POST /predict_batch per simulated hour,
    each day's labels afterwards (POST /feedback), then a /metrics scrape. With `log_path`, every request and
    response is written there, one JSON object a line (the prediction log)."""
    import json
    import time

    import httpx

    from helpers.data import FEATURES, TARGET

    _require(week, ["timestamp", "day", "hour", *FEATURES, TARGET], "week")
    X, labels = week[FEATURES].to_numpy(dtype=np.float64), week[TARGET].to_numpy().astype(int)
    minutes = week["timestamp"].dt.strftime("%Y-%m-%dT%H:%M").to_numpy()
    hours = week.groupby(["day", "hour"], sort=True).indices  # (day, hour) -> positions of that hour's rows
    records: list[dict] = []
    lines: list[str] = []  # the same records as JSON text, request and response bodies kept verbatim
    gauges: list[tuple[int, str, str, float]] = []
    metrics_text = ""
    headers = {"content-type": "application/json"}
    try:
        with httpx.Client(base_url=url, timeout=timeout) as client:
            for day in sorted({d for d, _ in hours}):
                served = []
                for (d, hour), rows in hours.items():
                    if d != day:
                        continue
                    batch = X[rows].tolist()
                    body = json.dumps({"rows": batch})
                    start = time.perf_counter()
                    response = client.post("/predict_batch", content=body, headers=headers)
                    latency_ms = (time.perf_counter() - start) * 1e3
                    answer = _answer(response, "/predict_batch")
                    served.append((answer["request_id"], labels[rows].tolist()))
                    meta = {"kind": "predict_batch", "time": f"{minutes[rows[0]][:13]}:00", "day": int(day),
                            "hour": int(hour), "latency_ms": latency_ms, "timestamps": minutes[rows].tolist(),
                            "status": response.status_code}
                    records.append({**meta, "request": {"rows": batch}, "response": answer})
                    lines.append(f'{json.dumps(meta)[:-1]}, "request": {body}, "response": {response.text}}}')
                label_time = _minute(end_of_day(WEEK_START, int(day)))  # the day's labels arrive after its traffic
                for request_id, day_labels in served:
                    payload = {"request_id": request_id, "labels": day_labels}
                    response = client.post("/feedback", json=payload)
                    record = {"kind": "feedback", "time": label_time, "day": int(day), "request": payload,
                              "status": response.status_code, "response": _answer(response, "/feedback")}
                    records.append(record)
                    lines.append(json.dumps(record))
                metrics_text = client.get("/metrics").text
                gauges += [(int(day), *gauge) for gauge in read_gauges(metrics_text)]
    except httpx.TransportError as exc:
        raise MonitoringError(f"could not reach the API at {url} ({type(exc).__name__}): start it with "
                              "helpers.server.start_api() or `make serve`") from None
    if log_path is not None:
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("".join(line + "\n" for line in lines))
    predictions, batches = _flatten_log(records)
    return WeekRun(predictions, batches, pd.DataFrame(gauges, columns=["day", "metric", "feature", "value"]),
                   metrics_text)


def _answer(response, endpoint: str) -> dict:
    """Return the JSON body of a 200 answer; raise MonitoringError quoting the API's error otherwise."""
    if response.status_code != 200:
        raise MonitoringError(f"{endpoint} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def _flatten_log(records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (one row per prediction, one row per /predict_batch call) from prediction-log records."""
    from helpers.data import FEATURES

    labels = {r["request"]["request_id"]: r["request"]["labels"] for r in records if r["kind"] == "feedback"}
    calls = [r for r in records if r["kind"] == "predict_batch"]
    sizes = [len(r["request"]["rows"]) for r in calls]
    ids = [r["response"]["request_id"] for r in calls]
    answers = [p for r in calls for p in r["response"]["predictions"]]
    predictions = pd.DataFrame(
        [row for r in calls for row in r["request"]["rows"]], columns=FEATURES, dtype=np.float64
    ).reindex(columns=FEATURES)
    predictions.insert(0, "request_id", np.repeat(ids, sizes))
    predictions.insert(0, "hour", np.repeat([r["hour"] for r in calls], sizes).astype(np.int64))
    predictions.insert(0, "day", np.repeat([r["day"] for r in calls], sizes).astype(np.int64))
    predictions.insert(0, "timestamp", pd.to_datetime([t for r in calls for t in r["timestamps"]]))
    predictions["prediction"] = np.array([p["prediction"] for p in answers], dtype=np.int64)
    predictions["proba_1"] = np.array([p["probabilities"]["1"] for p in answers], dtype=np.float64)
    predictions["label"] = np.array([v for i, n in zip(ids, sizes, strict=True) for v in labels.get(i, [-1] * n)],
                                    dtype=np.int64)
    predictions["model_version"] = np.repeat([r["response"]["model_version"] for r in calls], sizes)
    batches = pd.DataFrame({"time": pd.to_datetime([r["time"] for r in calls]),
                            "day": np.array([r["day"] for r in calls], dtype=np.int64),
                            "hour": np.array([r["hour"] for r in calls], dtype=np.int64), "rows": sizes,
                            "request_id": ids, "latency_s": [r["latency_ms"] / 1e3 for r in calls]})
    return predictions, batches


def read_prediction_log(path: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (predictions, batches) from a prediction log written by `send_week`."""
    import json

    path = Path(path or monitoring_dir() / PREDICTION_LOG)
    if not path.is_file():
        raise MonitoringError(f"no prediction log at {path.name}: run notebook 06 or load_monitoring_results()")
    with open(path) as fh:
        return _flatten_log([json.loads(line) for line in fh if line.strip()])


def daily_metrics(predictions: pd.DataFrame, batches: pd.DataFrame, start: datetime = WEEK_START) -> pd.DataFrame:
    """Return one row per day: day, date, requests, accuracy (vs the delayed labels), positive_rate, p50_ms, p95_ms.

    Latency percentiles are over that day's /predict_batch calls, measured by the client."""
    _require(predictions, ["day", "prediction", "label"], "predictions")
    _require(batches, ["day", "latency_s"], "batches")
    labelled = predictions["label"] >= 0
    by_day = predictions.groupby("day")
    latency_ms = batches["latency_s"] * 1e3
    table = pd.DataFrame({
        "requests": by_day.size(),
        "accuracy": (predictions["prediction"] == predictions["label"])[labelled].groupby(predictions["day"]).mean(),
        "positive_rate": by_day["prediction"].mean(),
        "p50_ms": latency_ms.groupby(batches["day"]).median(),
        "p95_ms": latency_ms.groupby(batches["day"]).quantile(0.95),
    }).rename_axis("day").reset_index()
    table.insert(1, "date", [(start + timedelta(days=int(d) - 1)).date().isoformat() for d in table["day"]])
    return table


def hourly_traffic(predictions: pd.DataFrame, batches: pd.DataFrame) -> pd.DataFrame:
    """Return one row per hour of the day (0-23): requests over the week and mean /predict_batch latency in ms."""
    hours = pd.RangeIndex(24, name="hour")
    return pd.DataFrame({
        "requests": predictions.groupby("hour").size().reindex(hours, fill_value=0),
        "mean_latency_ms": (batches["latency_s"] * 1e3).groupby(batches["hour"]).mean().reindex(hours),
    }).reset_index()


def week_alerts(daily: pd.DataFrame, drift: pd.DataFrame, baseline_accuracy: float,
                start: datetime = WEEK_START) -> list[Alert]:
    """Return `evaluate_alerts` for a week, each alert stamped at the end of its simulated day."""
    _require(daily, ["day"], "daily_metrics")
    timed = daily.assign(end_of_day=[end_of_day(start, int(d)) for d in daily["day"]])
    return evaluate_alerts(timed, drift, baseline_accuracy)


@dataclass
class MonitoringResults:
    """What notebook 06 saved for the dashboard: daily metrics, drift, alerts, hourly traffic and predictions."""

    daily: pd.DataFrame
    drift: pd.DataFrame
    alerts: pd.DataFrame
    hourly: pd.DataFrame
    predictions: pd.DataFrame


def save_monitoring_results(daily: pd.DataFrame, drift: pd.DataFrame, alerts: pd.DataFrame, hourly: pd.DataFrame,
                            directory: Path | None = None) -> dict[str, Path]:
    """Write daily_metrics.csv, drift.csv, alerts.csv and hourly_traffic.csv into `directory`; return the paths."""
    directory = Path(directory or monitoring_dir())
    directory.mkdir(parents=True, exist_ok=True)
    frames = {"daily": daily, "drift": drift, "alerts": alerts, "hourly": hourly}
    written = {}
    for key, frame in frames.items():
        written[key] = directory / RESULT_FILES[key]
        frame.to_csv(written[key], index=False)
    return written


def run_monitoring_week(directory: Path | None = None, model_dir: Path | None = None) -> MonitoringResults:
    """Serve the course's drifted week through a temporary API and save its log and tables; return them."""
    import httpx

    from helpers import server
    from helpers.data import FEATURES, feature_roles, load_production_pool

    directory = Path(directory or monitoring_dir())
    with server.api_server(model_dir=model_dir, name="monitoring-week").launch() as api:
        # The API takes a few seconds to boot: prepare the week and the reference meanwhile.
        week = simulate_week(load_production_pool(), default_drift_schedule(feature_roles()))
        reference = training_reference()
        api.wait_ready()
        baseline = float(httpx.get(api.url + "/model_info", timeout=10).json()["model"]["metrics"]["accuracy"])
        run = send_week(api.url, week, directory / PREDICTION_LOG)
    daily = daily_metrics(run.predictions, run.batches)
    drift = daily_drift(reference, run.predictions, features=FEATURES)
    alerts = alerts_frame(week_alerts(daily, drift, baseline))
    hourly = hourly_traffic(run.predictions, run.batches)
    save_monitoring_results(daily, drift, alerts, hourly, directory)
    return MonitoringResults(daily, drift, alerts, hourly, run.predictions)


def load_monitoring_results(directory: Path | None = None, model_dir: Path | None = None) -> MonitoringResults:
    """Return the saved monitoring week, first regenerating it through a temporary API if any file is missing."""
    directory = Path(directory or monitoring_dir())
    needed = [directory / name for name in (*RESULT_FILES.values(), PREDICTION_LOG)]
    if not all(path.is_file() for path in needed):
        run_monitoring_week(directory, model_dir)
    frames = {key: pd.read_csv(directory / name) for key, name in RESULT_FILES.items()}
    predictions, _ = read_prediction_log(directory / PREDICTION_LOG)
    return MonitoringResults(**frames, predictions=predictions)
