"""The week through the running API: requests and delayed labels sent, the prediction log, the daily tables."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.common import paths
from helpers.common.schema import FEATURES, TARGET
from helpers.monitoring.alerts import Alert, end_of_day, evaluate_alerts
from helpers.monitoring.checks import require_columns
from helpers.monitoring.psi import MonitoringError, ReferenceBins
from helpers.monitoring.simulation import WEEK_START

PREDICTION_LOG = "prediction_log.jsonl"
GAUGES = ("model_feature_psi", "model_accuracy", "model_baseline_accuracy", "model_monitoring_window_rows")
BATCHING = ("hour", "day")
"""How `send_week` groups requests into POST /predict_batch calls: one per simulated hour, or one per day."""


def training_reference(card: dict) -> pd.DataFrame:
    """Return the rows the card's model was trained on: the drift reference, the same the card's bins came from.

    The rows are the course split's training rows plus the labelled backlog rows the model's recipe added; a
    MonitoringError says so if they do not reproduce the card's `monitoring_reference` exactly.
    """
    from helpers.data import split_dataset
    from helpers.model import Recipe

    split = split_dataset()
    rows = int(card.get("training_data", {}).get("rows", len(split.X_train)))
    extra_rows = int(card.get("recipe", {}).get("extra_rows", rows - len(split.X_train)))
    X, _ = Recipe(extra_rows=extra_rows).training_set(split)
    reference = pd.DataFrame(X, columns=FEATURES)
    for feature, stored in card.get("monitoring_reference", {}).items():
        if not np.array_equal(ReferenceBins.fit(reference[feature].to_numpy()).edges, stored["edges"]):
            raise MonitoringError(f"the card's monitoring_reference for {feature} does not come from the "
                                  f"{len(reference):,} training rows its recipe names")
    return reference


@dataclass
class WeekRun:
    """A simulated week as the API served it: one row per prediction, one per HTTP call, gauges per day."""

    predictions: pd.DataFrame
    batches: pd.DataFrame
    gauges: pd.DataFrame
    metrics_text: str


def minute_text(ts: pd.Timestamp | datetime) -> str:
    """Return a simulated-clock time at minute resolution, e.g. '2026-03-02T07:03'."""
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M")


def read_gauges(metrics_text: str) -> list[tuple[str, str, float]]:
    """Return (metric, feature, value) for the monitoring gauges in a Prometheus /metrics text."""
    from prometheus_client.parser import text_string_to_metric_families

    return [(s.name, s.labels.get("feature", ""), float(s.value))
            for family in text_string_to_metric_families(metrics_text) if family.name in GAUGES
            for s in family.samples]


def day_batches(week: pd.DataFrame, per: str = "hour") -> list[tuple[int, list[np.ndarray]]]:
    """Return, day by day, the row positions of each /predict_batch call: one per hour with rows, or one per day."""
    if per not in BATCHING:
        raise MonitoringError(f"per must be one of {', '.join(BATCHING)}, got {per!r}")
    day, hour = week["day"].to_numpy(), week["hour"].to_numpy()
    out = []
    for d in np.unique(day):
        rows = np.flatnonzero(day == d)
        out.append((int(d), [rows] if per == "day" else [rows[hour[rows] == h] for h in np.unique(hour[rows])]))
    return out


def send_week(url: str, week: pd.DataFrame, log_path: Path | None = None, timeout: float = 10.0,
              per: str = "hour") -> WeekRun:
    """Serve `week` through the API at `url` and return a WeekRun: one POST /predict_batch per simulated hour
    (or per day, with per="day"), each day's labels afterwards (POST /feedback), then a /metrics scrape. With
    `log_path`, every request and response is written there, one JSON object a line (the prediction log)."""
    import httpx

    require_columns(week, ["timestamp", "day", "hour", *FEATURES, TARGET], "week")
    X, labels = week[FEATURES].to_numpy(dtype=np.float64), week[TARGET].to_numpy().astype(int)
    minutes = week["timestamp"].dt.strftime("%Y-%m-%dT%H:%M").to_numpy()
    records: list[dict] = []
    lines: list[str] = []  # the same records as JSON text, request and response bodies kept verbatim
    gauges: list[tuple[int, str, str, float]] = []
    metrics_text = ""
    try:
        with httpx.Client(base_url=url, timeout=timeout) as client:
            for day, batches in day_batches(week, per):
                served = []
                for rows in batches:
                    record, line = post_batch(client, X[rows], minutes[rows], day)
                    served.append((record["response"]["request_id"], labels[rows].tolist()))
                    records.append(record)
                    lines.append(line)
                label_time = minute_text(end_of_day(WEEK_START, day))  # the day's labels arrive after its traffic
                for request_id, day_labels in served:
                    payload = {"request_id": request_id, "labels": day_labels}
                    response = client.post("/feedback", json=payload)
                    record = {"kind": "feedback", "time": label_time, "day": day, "request": payload,
                              "status": response.status_code, "response": answer_of(response, "/feedback")}
                    records.append(record)
                    lines.append(json.dumps(record))
                metrics_text = client.get("/metrics").text
                gauges += [(day, *gauge) for gauge in read_gauges(metrics_text)]
    except httpx.TransportError as exc:
        raise MonitoringError(f"could not reach the API at {url} ({type(exc).__name__}): start it with "
                              "helpers.api.launch.start_api() or `make serve`") from None
    if log_path is not None:
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("".join(line + "\n" for line in lines))
    predictions, batches = flatten_log(records)
    return WeekRun(predictions, batches, pd.DataFrame(gauges, columns=["day", "metric", "feature", "value"]),
                   metrics_text)


def post_batch(client, rows: np.ndarray, minutes: np.ndarray, day: int) -> tuple[dict, str]:
    """POST one /predict_batch and return its prediction-log record, and the same as a JSON line (bodies verbatim)."""
    batch = rows.tolist()
    body = json.dumps({"rows": batch})
    start = time.perf_counter()
    response = client.post("/predict_batch", content=body, headers={"content-type": "application/json"})
    latency_ms = (time.perf_counter() - start) * 1e3
    answer = answer_of(response, "/predict_batch")
    meta = {"kind": "predict_batch", "time": f"{minutes[0][:13]}:00", "day": day, "hour": int(minutes[0][11:13]),
            "latency_ms": latency_ms, "timestamps": minutes.tolist(), "status": response.status_code}
    return {**meta, "request": {"rows": batch}, "response": answer}, \
        f'{json.dumps(meta)[:-1]}, "request": {body}, "response": {response.text}}}'


def answer_of(response, endpoint: str) -> dict:
    """Return the JSON body of a 200 answer; raise MonitoringError quoting the API's error otherwise."""
    if response.status_code != 200:
        raise MonitoringError(f"{endpoint} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def flatten_log(records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (one row per prediction, one row per /predict_batch call) from prediction-log records."""
    labels = {r["request"]["request_id"]: r["request"]["labels"] for r in records if r["kind"] == "feedback"}
    calls = [r for r in records if r["kind"] == "predict_batch"]
    sizes = [len(r["request"]["rows"]) for r in calls]
    ids = [r["response"]["request_id"] for r in calls]
    answers = [p for r in calls for p in r["response"]["predictions"]]
    predictions = pd.DataFrame(
        [row for r in calls for row in r["request"]["rows"]], columns=FEATURES, dtype=np.float64
    ).reindex(columns=FEATURES)
    timestamps = pd.to_datetime([t for r in calls for t in r["timestamps"]])
    predictions.insert(0, "request_id", np.repeat(ids, sizes))
    predictions.insert(0, "hour", np.asarray(timestamps.hour, dtype=np.int64))
    predictions.insert(0, "day", np.repeat([r["day"] for r in calls], sizes).astype(np.int64))
    predictions.insert(0, "timestamp", timestamps)
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
    path = Path(path or paths.MONITORING_DIR / PREDICTION_LOG)
    if not path.is_file():
        raise MonitoringError(f"no prediction log at {path.name}: run notebook 06 or "
                              "helpers.monitoring.results.ensure_monitoring_results()")
    with open(path) as fh:
        return flatten_log([json.loads(line) for line in fh if line.strip()])


def daily_metrics(predictions: pd.DataFrame, batches: pd.DataFrame, start: datetime = WEEK_START) -> pd.DataFrame:
    """Return one row per day: day, date, requests, accuracy (vs the delayed labels), positive_rate, p50_ms, p95_ms.

    Latency percentiles are over that day's /predict_batch calls, measured by the client."""
    require_columns(predictions, ["day", "prediction", "label"], "predictions")
    require_columns(batches, ["day", "latency_s"], "batches")
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
    require_columns(daily, ["day"], "daily_metrics")
    timed = daily.assign(end_of_day=[end_of_day(start, int(d)) for d in daily["day"]])
    return evaluate_alerts(timed, drift, baseline_accuracy)
