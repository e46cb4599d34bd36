"""helpers.monitoring.week: the week through a real API, the prediction log, the daily and hourly tables."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from helpers.common.processes import free_port
from helpers.common.schema import FEATURES, TARGET
from helpers.monitoring import week as wk
from helpers.monitoring.alerts import RULE_ACCURACY
from helpers.monitoring.psi import MonitoringError, ReferenceBins
from helpers.monitoring.simulation import DriftSpec, simulate_week
from helpers.packaging import read_metadata


def served(days: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
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
    daily = wk.daily_metrics(*served())
    assert list(daily.columns) == ["day", "date", "requests", "accuracy", "positive_rate", "p50_ms", "p95_ms"]
    assert daily["date"].tolist() == ["2026-03-02", "2026-03-03"]
    assert daily["requests"].tolist() == [4, 4]
    assert daily["accuracy"].tolist() == [0.5, 0.5] and daily["positive_rate"].tolist() == [0.75, 0.75]
    np.testing.assert_allclose(daily["p50_ms"], 2.0)
    np.testing.assert_allclose(daily["p95_ms"], 2.9)


def test_rows_without_a_label_are_left_out_of_accuracy() -> None:
    predictions, batches = served(1)
    predictions.loc[1, "label"] = -1  # its label never arrived
    assert wk.daily_metrics(predictions, batches)["accuracy"].iloc[0] == pytest.approx(2 / 3)


def test_daily_metrics_refuse_tables_without_their_columns() -> None:
    predictions, batches = served(1)
    with pytest.raises(MonitoringError, match=r"predictions is missing column\(s\): label"):
        wk.daily_metrics(predictions.drop(columns=["label"]), batches)
    with pytest.raises(MonitoringError, match=r"batches is missing column\(s\): latency_s"):
        wk.daily_metrics(predictions, batches.drop(columns=["latency_s"]))


def test_hourly_traffic_covers_all_24_hours() -> None:
    hourly = wk.hourly_traffic(*served())
    assert hourly["hour"].tolist() == list(range(24))
    assert hourly.loc[[8, 18], "requests"].tolist() == [4, 4] and hourly["requests"].sum() == 8
    assert hourly.loc[8, "mean_latency_ms"] == pytest.approx(1.0) and hourly["mean_latency_ms"].isna().sum() == 22


def test_week_alerts_are_stamped_at_the_end_of_the_simulated_day() -> None:
    daily = wk.daily_metrics(*served())
    drift = pd.DataFrame({"day": [1, 2], "feature": "feature_3", "psi": 0.02, "status": "Normal"})
    alerts = wk.week_alerts(daily, drift, baseline_accuracy=0.88)
    assert [(a.time, a.rule) for a in alerts] == [(datetime(2026, 3, 2, 23, 59), RULE_ACCURACY),
                                                 (datetime(2026, 3, 3, 23, 59), RULE_ACCURACY)]


@pytest.fixture(scope="module")
def small_week(course_data) -> pd.DataFrame:
    _, traffic, _ = course_data
    return simulate_week(traffic, [DriftSpec("feature_1", start_day=2, jump=2.0)], volumes=(60, 80))


def test_day_batches_group_rows_by_hour_or_by_day(small_week) -> None:
    hourly = wk.day_batches(small_week)
    assert [day for day, _ in hourly] == [1, 2]
    assert sum(len(batches) for _, batches in hourly) == small_week.groupby(["day", "hour"]).ngroups
    for day, batches in hourly:
        assert all(small_week["hour"].to_numpy()[rows].tolist() == [small_week["hour"].iloc[rows[0]]] * len(rows)
                   for rows in batches)
        assert np.array_equal(np.concatenate(batches), np.flatnonzero(small_week["day"].to_numpy() == day))
    daily = wk.day_batches(small_week, per="day")
    assert [len(rows) for _, [rows] in daily] == [60, 80]
    with pytest.raises(MonitoringError, match="per must be one of hour, day"):
        wk.day_batches(small_week, per="minute")


def test_training_reference_is_what_the_card_binned(bundle_dir) -> None:
    card = read_metadata(bundle_dir)
    reference = wk.training_reference(card)
    assert len(reference) == card["training_data"]["rows"] and list(reference.columns) == FEATURES
    bins = ReferenceBins.fit(reference["feature_4"].to_numpy())
    np.testing.assert_array_equal(bins.shares, card["monitoring_reference"]["feature_4"]["shares"])
    wrong = {**card, "recipe": {"extra_rows": 1_000}}  # a card whose recipe does not match its bins
    with pytest.raises(MonitoringError, match="does not come from the 2,000 training rows its recipe names"):
        wk.training_reference(wrong)


@pytest.mark.slow
def test_send_week_serves_every_row_logs_it_and_feeds_back_its_label(bundle_dir, small_week, tmp_path) -> None:
    from helpers.api.launch import start_api

    log = tmp_path / "log.jsonl"
    with start_api(model_dir=bundle_dir, name="test-monitoring") as api:
        run = wk.send_week(api.url, small_week, log)
        by_day = wk.send_week(api.url, small_week, per="day")
    assert len(run.predictions) == 140 and (run.predictions["label"] >= 0).all()
    np.testing.assert_array_equal(run.predictions[FEATURES].to_numpy(), small_week[FEATURES].to_numpy())
    np.testing.assert_array_equal(run.predictions["label"], small_week[TARGET])
    pd.testing.assert_series_equal(run.predictions["hour"], small_week["hour"], check_names=False)
    assert len(run.batches) == small_week.groupby(["day", "hour"]).ngroups and (run.batches["latency_s"] > 0).all()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["kind"] for r in records].count("feedback") == len(run.batches) == len(records) / 2
    assert records[0]["request"]["rows"][0] == small_week[FEATURES].iloc[0].tolist()
    again, batches = wk.read_prediction_log(log)
    pd.testing.assert_frame_equal(again, run.predictions)
    pd.testing.assert_frame_equal(batches, run.batches)
    accuracy = run.gauges.query("metric == 'model_accuracy'").set_index("day")["value"]
    assert accuracy.index.tolist() == [1, 2]
    assert accuracy[2] == pytest.approx((run.predictions["prediction"] == run.predictions["label"]).mean())
    psi = run.gauges.query("metric == 'model_feature_psi'").pivot(index="day", columns="feature", values="value")
    bins = ReferenceBins.fit(wk.training_reference(read_metadata(bundle_dir))["feature_1"].to_numpy())
    for day in (1, 2):  # the API's window holds every row served so far (fewer than 1,000)
        seen = run.predictions.loc[run.predictions["day"] <= day, "feature_1"].to_numpy()
        assert psi.loc[day, "feature_1"] == pytest.approx(bins.psi(seen), abs=1e-12)
    assert f'http_request_duration_seconds_count{{endpoint="/predict_batch"}} {len(run.batches)}' in run.metrics_text
    # One call a day: the same predictions, answered in two /predict_batch calls.
    assert by_day.batches["rows"].tolist() == [60, 80]
    pd.testing.assert_frame_equal(by_day.predictions.drop(columns="request_id"),
                                  run.predictions.drop(columns="request_id"))


def test_send_week_without_an_api_says_how_to_start_one(small_week) -> None:
    with pytest.raises(MonitoringError, match=r"could not reach the API.*start_api\(\)"):
        wk.send_week(f"http://127.0.0.1:{free_port()}", small_week.head(3))


def test_send_week_refuses_a_week_without_its_columns(small_week) -> None:
    with pytest.raises(MonitoringError, match=r"week is missing column\(s\): target"):
        wk.send_week("http://127.0.0.1:9", small_week.drop(columns=[TARGET]))


def test_missing_prediction_log_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(MonitoringError, match="no prediction log at nothing.jsonl: run notebook 06"):
        wk.read_prediction_log(tmp_path / "nothing.jsonl")


def test_read_gauges_picks_the_monitoring_gauges() -> None:
    text = ('# TYPE model_feature_psi gauge\nmodel_feature_psi{feature="feature_2"} 0.5\n'
            "# TYPE model_accuracy gauge\nmodel_accuracy 0.75\n# TYPE other gauge\nother 3.0\n")
    assert wk.read_gauges(text) == [("model_feature_psi", "feature_2", 0.5), ("model_accuracy", "", 0.75)]
