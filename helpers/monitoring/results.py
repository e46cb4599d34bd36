"""The monitoring week's results as files for the dashboard: written by notebook 06, read back by notebook 08."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers.common import paths
from helpers.common.schema import FEATURES
from helpers.monitoring.alerts import alerts_frame
from helpers.monitoring.drift import daily_drift
from helpers.monitoring.simulation import default_drift_schedule, simulate_week
from helpers.monitoring.week import (
    PREDICTION_LOG,
    daily_metrics,
    hourly_traffic,
    read_prediction_log,
    send_week,
    training_reference,
    week_alerts,
)

RESULT_FILES: dict[str, str] = {"daily": "daily_metrics.csv", "drift": "drift.csv", "alerts": "alerts.csv",
                                "hourly": "hourly_traffic.csv"}


@dataclass
class MonitoringResults:
    """What notebook 06 saved for the dashboard: daily metrics, drift, alerts, hourly traffic and predictions."""

    daily: pd.DataFrame
    drift: pd.DataFrame
    alerts: pd.DataFrame
    hourly: pd.DataFrame
    predictions: pd.DataFrame


def save_monitoring_results(results: MonitoringResults, directory: Path | None = None) -> dict[str, Path]:
    """Write daily_metrics.csv, drift.csv, alerts.csv and hourly_traffic.csv into `directory`; return the paths."""
    directory = Path(directory or paths.MONITORING_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for key, name in RESULT_FILES.items():
        written[key] = directory / name
        getattr(results, key).to_csv(written[key], index=False)
    return written


def load_monitoring_results(directory: Path | None = None) -> MonitoringResults:
    """Return the saved monitoring week; FileNotFoundError says how to create it."""
    directory = Path(directory or paths.MONITORING_DIR)
    missing = [name for name in (*RESULT_FILES.values(), PREDICTION_LOG) if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"no {', '.join(missing)} in {paths.relative(directory)}: run notebook 06 or call "
                                "helpers.monitoring.results.ensure_monitoring_results()")
    frames = {key: pd.read_csv(directory / name) for key, name in RESULT_FILES.items()}
    predictions, _ = read_prediction_log(directory / PREDICTION_LOG)
    return MonitoringResults(**frames, predictions=predictions)


def run_monitoring_week(directory: Path | None = None, model_dir: Path | None = None) -> MonitoringResults:
    """Serve the course's drifted week through an API on the production bundle (or `model_dir`), save the log and
    tables; return them. The accuracy baseline is the bundle card's validation accuracy."""
    from helpers.api.launch import api_server
    from helpers.data import ensure_production_pool, feature_roles, traffic
    from helpers.mlops.deploy import ensure_production_bundle
    from helpers.packaging import read_metadata

    directory = Path(directory or paths.MONITORING_DIR)
    model_dir = Path(model_dir or ensure_production_bundle())
    with api_server(model_dir=model_dir, name="monitoring-week").launch() as api:
        # The API takes a moment to boot: prepare the week and the reference meanwhile.
        week = simulate_week(traffic(ensure_production_pool()), default_drift_schedule(feature_roles()))
        card = read_metadata(model_dir)
        reference = training_reference(card)
        api.wait_ready()
        run = send_week(api.url, week, directory / PREDICTION_LOG)
    daily = daily_metrics(run.predictions, run.batches)
    drift = daily_drift(reference, run.predictions, features=FEATURES)
    baseline = float(card["metrics"]["accuracy"])
    results = MonitoringResults(daily, drift, alerts_frame(week_alerts(daily, drift, baseline)),
                                hourly_traffic(run.predictions, run.batches), run.predictions)
    save_monitoring_results(results, directory)
    return results


def ensure_monitoring_results(directory: Path | None = None, model_dir: Path | None = None) -> MonitoringResults:
    """Return the saved monitoring week, serving it through a temporary API first if any file is missing."""
    try:
        return load_monitoring_results(directory)
    except FileNotFoundError:
        run_monitoring_week(directory, model_dir)
        return load_monitoring_results(directory)
