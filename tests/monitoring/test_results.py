"""helpers.monitoring.results: the files notebook 08 reads, written and read back, regenerated only when missing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers.monitoring import results as res
from helpers.monitoring.simulation import DAILY_VOLUMES
from helpers.monitoring.week import PREDICTION_LOG, flatten_log


def tiny_results() -> tuple[res.MonitoringResults, dict]:
    """Return one day's results with a single prediction, and the prediction-log record behind it."""
    record = {"kind": "predict_batch", "time": "2026-03-02T08:00", "day": 1, "hour": 8, "latency_ms": 2.0,
              "timestamps": ["2026-03-02T08:05"], "status": 200, "request": {"rows": [[0.5] * 20]},
              "response": {"request_id": "r1", "model_version": "1.0.1",
                           "predictions": [{"prediction": 1, "probabilities": {"0": 0.2, "1": 0.8}}]}}
    predictions, _ = flatten_log([record])
    return res.MonitoringResults(
        daily=pd.DataFrame({"day": [1], "date": ["2026-03-02"], "requests": [1], "accuracy": [1.0],
                            "positive_rate": [1.0], "p50_ms": [2.0], "p95_ms": [2.0]}),
        drift=pd.DataFrame({"day": [1], "feature": ["feature_0"], "psi": [0.01], "status": ["Normal"]}),
        alerts=pd.DataFrame(columns=["time", "severity", "rule", "message"]),
        hourly=pd.DataFrame({"hour": range(24), "requests": [0] * 8 + [1] + [0] * 15,
                             "mean_latency_ms": [np.nan] * 8 + [2.0] + [np.nan] * 15}),
        predictions=predictions), record


def test_saved_tables_read_back_equal(tmp_path) -> None:
    results, record = tiny_results()
    written = res.save_monitoring_results(results, tmp_path)
    assert {key: path.name for key, path in written.items()} == res.RESULT_FILES
    (tmp_path / PREDICTION_LOG).write_text(json.dumps(record) + "\n")
    back = res.load_monitoring_results(tmp_path)
    pd.testing.assert_frame_equal(back.daily, results.daily)
    pd.testing.assert_frame_equal(back.drift, results.drift)
    pd.testing.assert_frame_equal(back.hourly, results.hourly)
    assert back.alerts.empty and list(back.alerts.columns) == ["time", "severity", "rule", "message"]
    pd.testing.assert_frame_equal(back.predictions, results.predictions)


def test_load_names_the_missing_files_and_how_to_create_them(tmp_path) -> None:
    results, _ = tiny_results()
    res.save_monitoring_results(results, tmp_path)
    with pytest.raises(FileNotFoundError, match=rf"no {PREDICTION_LOG} in .*ensure_monitoring_results\(\)"):
        res.load_monitoring_results(tmp_path)


@pytest.mark.slow
def test_ensure_monitoring_results_serves_the_week_once_then_reads_it(bundle_dir, tmp_path, schedule) -> None:
    first = res.ensure_monitoring_results(tmp_path, model_dir=bundle_dir)
    names = {p.name for p in tmp_path.iterdir()}
    assert names >= {*res.RESULT_FILES.values(), PREDICTION_LOG}
    assert first.daily["requests"].tolist() == list(DAILY_VOLUMES)
    assert len(first.drift) == 7 * 20 and len(first.hourly) == 24 and len(first.predictions) == sum(DAILY_VOLUMES)
    assert {"FeatureDriftAlert", "FeatureDriftWarning", "ModelAccuracyBelowBaseline"} <= set(first.alerts["rule"])
    assert set(first.drift.loc[first.drift["status"] != "Normal", "feature"]) == {s.feature for s in schedule}
    mtime = (tmp_path / res.RESULT_FILES["daily"]).stat().st_mtime_ns
    second = res.ensure_monitoring_results(tmp_path, model_dir=bundle_dir)
    assert (tmp_path / res.RESULT_FILES["daily"]).stat().st_mtime_ns == mtime, "present files are read, not rebuilt"
    pd.testing.assert_frame_equal(second.daily, first.daily)
