"""helpers.dashboard: every panel draws exactly the numbers it is given, coloured by status, on honest axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from helpers import dashboard  # noqa: E402
from helpers.common.plotting import COLORS, STATUS_COLORS  # noqa: E402
from helpers.common.schema import GATE_MARGIN, MIN_ACCURACY  # noqa: E402
from helpers.monitoring.alerts import ACCURACY_MARGIN  # noqa: E402
from helpers.monitoring.drift import PSI_ALERT, PSI_WARNING  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def ax() -> plt.Axes:
    return plt.subplots()[1]


def daily_table() -> pd.DataFrame:
    return pd.DataFrame({"day": range(1, 8), "accuracy": [0.88, 0.87, 0.86, 0.85, 0.78, 0.77, 0.75],
                         "p95_ms": [6.1, 7.2, 6.3, 6.4, 5.8, 6.0, 9.5]})


def drift_table() -> pd.DataFrame:
    rows = [(6, "feature_0", 0.05, "Normal"), (6, "feature_1", 0.30, "Alert"), (6, "feature_2", 0.12, "Warning"),
            (7, "feature_0", 0.02, "Normal"), (7, "feature_1", 2.00, "Alert"), (7, "feature_2", 0.15, "Warning"),
            (7, "feature_3", 0.40, "Alert")]
    return pd.DataFrame(rows, columns=["day", "feature", "psi", "status"])


def registry_table() -> pd.DataFrame:
    return pd.DataFrame({"version": [1, 2, 3], "semver": ["v1.0.0", "v1.1.0", "v1.0.1"],
                         "accuracy": [0.85, 0.8475, 0.8625], "aliases": ["", "staging", "production"],
                         "status": ["Development", "Staging", "Production"]})


def hourly_table() -> pd.DataFrame:
    hours = np.arange(24)
    return pd.DataFrame({"hour": hours, "requests": 10 + 3 * hours, "mean_latency_ms": 2.0 + hours / 10})


def resources_table() -> pd.DataFrame:
    t = np.round(np.arange(12) * 0.1, 1)
    return pd.DataFrame({"t_s": t, "cpu_percent": np.linspace(10, 95, 12), "mem_percent": np.full(12, 40.0),
                         "net_sent_Bps": np.full(12, 1e6), "net_recv_Bps": np.linspace(0, 2e6, 12),
                         "disk_read_Bps": [0] * 11 + [9e8], "disk_write_Bps": [0] * 12,
                         "workers": [0, 1, 1, 1, 1, 0, 2, 2, 2, 2, 2, 0],
                         "concurrency": [0, 1, 1, 8, 8, 0, 1, 1, 8, 8, 8, 0]})


def pipeline_record() -> dict:
    statuses = ["passed", "passed", "failed"] + ["skipped"] * 5
    names = ["Source snapshot", "Automated tests", "Train and validate", "Performance benchmark",
             "Security scanning", "Deploy to staging", "Integration tests", "Production deployment"]
    steps = [{"number": i, "name": n, "status": s, "details": "accuracy 0.5533 is below the gate" if s == "failed"
              else "ok"} for i, (n, s) in enumerate(zip(names, statuses, strict=True), start=1)]
    return {"candidate": "pipeline_bad", "semver": "v1.0.2", "outcome": "failed", "steps": steps}


def line(ax: plt.Axes, label: str):
    """Return the one line of `ax` with this label."""
    found = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert len(found) == 1, [ln.get_label() for ln in ax.get_lines()]
    return found[0]


def face_colors(patches) -> list[tuple[float, ...]]:
    return [tuple(p.get_facecolor()) for p in patches]


def legend_labels(ax: plt.Axes) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


# Panel 1

def test_performance_panel_draws_accuracy_left_and_p95_on_a_twin_axis_from_zero(ax) -> None:
    daily = daily_table()
    right = dashboard.performance_panel(ax, daily, baseline=0.86)
    accuracy, p95 = line(ax, "accuracy (delayed labels)"), line(right, "p95 latency (ms)")
    np.testing.assert_array_equal(accuracy.get_ydata(), daily["accuracy"])
    np.testing.assert_array_equal(p95.get_ydata(), daily["p95_ms"])
    np.testing.assert_array_equal(p95.get_xdata(), daily["day"])
    assert right is not ax and right.get_shared_x_axes().joined(ax, right)  # a twin: same x axis, own y axis
    assert right.get_ylim()[0] == 0 and right.get_ylim()[1] >= daily["p95_ms"].max()
    assert ax.get_ylim() == dashboard.ACCURACY_AXIS
    alert = line(ax, f"accuracy alert (baseline - {ACCURACY_MARGIN:.2f})")
    assert alert.get_ydata()[0] == pytest.approx(0.86 - ACCURACY_MARGIN)
    assert legend_labels(ax) == ["accuracy (delayed labels)", f"accuracy alert (baseline - {ACCURACY_MARGIN:.2f})",
                                 "p95 latency (ms)"]  # one legend for both axes
    assert ax.yaxis.label.get_color() == accuracy.get_color() == COLORS["primary"]
    assert right.yaxis.label.get_color() == p95.get_color() == COLORS["secondary"]


def test_performance_panel_without_a_baseline_draws_no_alert_line(ax) -> None:
    dashboard.performance_panel(ax, daily_table())
    assert [ln.get_label() for ln in ax.get_lines()] == ["accuracy (delayed labels)"]


# Panel 2

def test_drift_panel_bars_are_the_days_psi_largest_first_coloured_by_status(ax) -> None:
    dashboard.drift_panel(ax, drift_table(), day=7)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["f1", "f3", "f2", "f0"]
    assert [b.get_height() for b in ax.patches] == [2.00, 0.40, 0.15, 0.02]
    expected = [to_rgba(STATUS_COLORS[s]) for s in ("Alert", "Alert", "Warning", "Normal")]
    assert face_colors(ax.patches) == expected
    assert sorted(ln.get_ydata()[0] for ln in ax.get_lines()) == [PSI_WARNING, PSI_ALERT]
    assert ax.get_yscale() == "symlog" and ax.get_title() == "2 · Feature drift on day 7"


def test_drift_panel_shows_the_day_it_was_asked_for(ax) -> None:
    dashboard.drift_panel(ax, drift_table(), day=6)
    assert [b.get_height() for b in ax.patches] == [0.30, 0.12, 0.05]
    with pytest.raises(ValueError, match="no rows for day 3"):
        dashboard.drift_panel(ax, drift_table(), day=3)


# Panel 3

def test_versions_panel_draws_each_versions_accuracy_coloured_by_lifecycle(ax) -> None:
    registry = registry_table()
    dashboard.versions_panel(ax, registry, validation_rows=400)
    bars = ax.containers[0]
    assert [b.get_height() for b in bars] == list(registry["accuracy"])
    assert face_colors(bars) == [to_rgba(dashboard.LIFECYCLE_COLORS[s]) for s in registry["status"]]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(registry["semver"])
    notes = [t.get_text() for t in ax.texts]
    assert notes == ["0.8500", "0.8475\nstaging", "0.8625\nproduction"]


def test_versions_panel_marks_the_gate_floor_and_margin_and_says_where_its_axis_starts(ax) -> None:
    dashboard.versions_panel(ax, registry_table(), validation_rows=400)
    floor = line(ax, f"gate floor {MIN_ACCURACY:.2f}")
    assert floor.get_ydata()[0] == MIN_ACCURACY
    band = [p for p in ax.patches if p.get_label() == f"gate margin {GATE_MARGIN:.2f}"]
    assert len(band) == 1
    assert (band[0].get_y(), band[0].get_y() + band[0].get_height()) \
        == pytest.approx((0.8625 - GATE_MARGIN, 0.8625))  # the margin below production
    bottom = ax.get_ylim()[0]
    assert bottom == pytest.approx(0.75)  # the axis rule: 0.05 below the floor, on a 0.05 grid
    assert ax.get_xlabel() == "axis starts at 0.75; one validation row = 0.0025"


@pytest.mark.parametrize(("accuracies", "bottom"), [((0.85, 0.86), 0.75), ((0.70, 0.86), 0.65),
                                                    ((0.812, 0.9), 0.75), ((0.01, 0.5), 0.0)])
def test_the_version_axis_never_hides_a_version_and_starts_below_the_floor(accuracies, bottom) -> None:
    start = dashboard.version_axis_bottom(pd.Series(accuracies))
    assert start == pytest.approx(bottom)
    assert start <= MIN_ACCURACY - 0.05 and start <= min(accuracies) - 0.02 or start == 0


# Panel 4

def test_traffic_panel_draws_requests_as_bars_and_latency_on_a_twin_axis_from_zero(ax) -> None:
    hourly = hourly_table()
    right = dashboard.traffic_panel(ax, hourly)
    assert [b.get_height() for b in ax.patches] == list(hourly["requests"])
    np.testing.assert_array_equal(line(right, "mean latency (ms)").get_ydata(), hourly["mean_latency_ms"])
    assert right.get_ylim()[0] == 0 and right.get_shared_x_axes().joined(ax, right)
    assert legend_labels(ax) == ["requests in the week", "mean latency (ms)"]


# Panel 5

def test_resources_panel_draws_cpu_memory_and_network_but_not_disk(ax) -> None:
    resources = resources_table()
    right = dashboard.resources_panel(ax, resources)
    np.testing.assert_array_equal(line(ax, "CPU %").get_ydata(), resources["cpu_percent"])
    np.testing.assert_array_equal(line(ax, "memory %").get_ydata(), resources["mem_percent"])
    np.testing.assert_allclose(line(right, "network MB/s (received)").get_ydata(), resources["net_recv_Bps"] / 1e6)
    assert right.get_ylim()[0] == 0 and right.get_ylim()[1] >= 2.0
    labels = [ln.get_label() for a in (ax, right) for ln in a.get_lines()]
    assert not any("disk" in label for label in labels)  # a system-wide disk spike is not the API's
    assert [t.get_text() for t in ax.texts] == ["1w×1c", "1w×8c", "2w×1c", "2w×8c"]  # one shaded span per run
    assert ax.get_xlabel() == "seconds into the load test (shaded: one run each, workers × clients)"


def test_resources_panel_reads_only_the_columns_it_finds(ax) -> None:
    resources = resources_table()[["t_s", "cpu_percent"]]
    right = dashboard.resources_panel(ax, resources)
    assert [ln.get_label() for ln in ax.get_lines()] == ["CPU %"] and len(right.get_lines()) == 0
    assert len(ax.texts) == 0 and dashboard.shade_runs(ax, resources) == 0
    assert ax.get_xlabel() == "seconds into the load test"


# Panel 6

def test_pipeline_panel_shows_every_step_top_down_with_its_status(ax) -> None:
    record = pipeline_record()
    dashboard.pipeline_panel(ax, record)
    steps = record["steps"]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"{s['number']}. {s['name']}" for s in steps][::-1]
    assert [t.get_text() for t in ax.texts] == [s["status"] for s in steps][::-1]
    assert face_colors(ax.patches) == [to_rgba(dashboard.STEP_COLORS[s["status"]]) for s in steps][::-1]
    assert ax.get_xlabel() == "stopped at step 3: accuracy 0.5533 is below the gate"
    assert ax.get_title() == "6 · Pipeline: pipeline_bad (v1.0.2) → failed"


def test_pipeline_panel_of_a_deployed_run_names_no_failure(ax) -> None:
    record = pipeline_record()
    for step in record["steps"]:
        step["status"] = "passed"
    dashboard.pipeline_panel(ax, {**record, "outcome": "deployed"})
    assert set(face_colors(ax.patches)) == {to_rgba(COLORS["good"])} and ax.get_xlabel() == ""


# The whole dashboard

def test_draw_dashboard_returns_the_six_panels_in_reading_order() -> None:
    fig = dashboard.draw_dashboard(daily_table(), drift_table(), registry_table(), hourly_table(), resources_table(),
                                   pipeline_record(), drift_day=6, baseline=0.86, validation_rows=400)
    panels = fig.axes[:6]
    assert [a.get_title().split(" · ")[0] for a in panels] == ["1", "2", "3", "4", "5", "6"]
    assert len(fig.axes) == 9  # and three twin axes: latency, latency, network
    assert [b.get_height() for b in panels[1].patches] == [0.30, 0.12, 0.05]  # drift_day reached panel 2
    assert "one validation row = 0.0025" in panels[2].get_xlabel()
