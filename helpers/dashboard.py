"""Notebook 08: the production dashboard, one function per panel, drawn from what notebooks 05-07 saved.

Every panel takes an axis and plain tables (the ones the other chapters' helpers return) and draws exactly
those numbers; `draw_dashboard` lays the six out on one figure. Readability rules the panels keep: latency and
throughput axes start at 0; an accuracy axis that does not start at 0 says where it starts and what one
validation row is worth, and marks the release gate's floor and margin.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.common.plotting import COLORS, STATUS_COLORS
from helpers.common.schema import GATE_MARGIN, MIN_ACCURACY
from helpers.monitoring.alerts import ACCURACY_MARGIN
from helpers.monitoring.drift import PSI_ALERT, PSI_WARNING

STEP_COLORS = {"passed": COLORS["good"], "failed": COLORS["alert"], "skipped": COLORS["neutral"],
               "pending": COLORS["neutral"]}
LIFECYCLE_COLORS = {"Production": COLORS["good"], "Staging": COLORS["warning"], "Development": COLORS["neutral"]}
ACCURACY_AXIS = (0.5, 1.0)
"""Panel 1's accuracy axis: from chance (0.5, two balanced classes) to 1, so a one-row wobble stays small."""


def shared_legend(ax: plt.Axes, *others: plt.Axes, **kwargs: object) -> None:
    """Put one legend on `ax` for the labelled lines, bars and spans of `ax` and of its twin axes."""
    handles, labels = ax.get_legend_handles_labels()
    for other in others:
        more = other.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    ax.legend(handles, labels, **{"fontsize": 7, **kwargs})


def colour_axis(ax: plt.Axes, label: str, color: str) -> None:
    """Label an axis's y axis and colour its label and ticks like the data drawn on it."""
    ax.set_ylabel(label, color=color)
    ax.tick_params(axis="y", colors=color)


def performance_panel(ax: plt.Axes, daily: pd.DataFrame, baseline: float | None = None,
                      accuracy_margin: float = ACCURACY_MARGIN) -> plt.Axes:
    """Panel 1: daily accuracy (left axis, 0.5-1) and p95 latency (right axis, from 0); returns the right axis.

    With `baseline`, a dotted line marks where the accuracy alert fires (baseline minus `accuracy_margin`).
    """
    ax.plot(daily["day"], daily["accuracy"], "o-", color=COLORS["primary"], label="accuracy (delayed labels)")
    if baseline is not None:
        ax.axhline(baseline - accuracy_margin, color=COLORS["alert"], linestyle=":", linewidth=1.2,
                   label=f"accuracy alert (baseline - {accuracy_margin:.2f})")
    ax.set_ylim(*ACCURACY_AXIS)
    ax.set_xticks(daily["day"])
    ax.set_xlabel("day of the simulated week")
    colour_axis(ax, "accuracy", COLORS["primary"])
    right = ax.twinx()
    right.plot(daily["day"], daily["p95_ms"], "s--", color=COLORS["secondary"], label="p95 latency (ms)")
    right.set_ylim(0, max(float(daily["p95_ms"].max()) * 1.25, 1e-3))
    colour_axis(right, "p95 latency (ms)", COLORS["secondary"])
    right.grid(False)
    shared_legend(ax, right, loc="lower left")
    ax.set_title("1 · Model performance over time")
    return right


def drift_panel(ax: plt.Axes, drift: pd.DataFrame, day: int, warning: float = PSI_WARNING,
                alert: float = PSI_ALERT) -> None:
    """Panel 2: PSI per feature on `day` (largest first), coloured by status, with the two thresholds.

    The axis is symmetric-log (linear below 0.1): a PSI of 2 and one of 0.02 are both readable.
    """
    today = drift[drift["day"] == day].sort_values(["psi", "feature"], ascending=[False, True], kind="stable")
    if today.empty:
        raise ValueError(f"the drift table has no rows for day {day}")
    ax.bar(today["feature"].str.replace("feature_", "f"), today["psi"], color=today["status"].map(STATUS_COLORS))
    ax.axhline(warning, color=COLORS["warning"], linestyle="--", linewidth=1, label=f"warning {warning}")
    ax.axhline(alert, color=COLORS["alert"], linestyle="--", linewidth=1, label=f"alert {alert}")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_ylim(0, max(float(today["psi"].max()) * 1.5, alert * 2))
    ax.set_ylabel("PSI (symmetric log scale)")
    ax.tick_params(axis="x", rotation=90, labelsize=7)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"2 · Feature drift on day {day}")


def version_axis_bottom(accuracies: pd.Series, min_accuracy: float = MIN_ACCURACY) -> float:
    """Return where panel 3's accuracy axis starts: 0.05 below the gate floor, lower if a version scores lower."""
    lowest = min(min_accuracy - 0.05, float(accuracies.min()) - 0.02)
    return max(0.0, math.floor(round(lowest * 20, 9)) / 20)


def versions_panel(ax: plt.Axes, registry: pd.DataFrame, *, min_accuracy: float = MIN_ACCURACY,
                   margin: float = GATE_MARGIN, validation_rows: int | None = None) -> None:
    """Panel 3: validation accuracy per registered version, coloured by lifecycle status.

    A red line marks the gate's floor, a grey band the gate margin below production (a difference inside it
    is noise, not evidence); a note says where the truncated axis starts and what one validation row is worth.
    """
    x = np.arange(len(registry))
    ax.bar(x, registry["accuracy"], color=registry["status"].map(LIFECYCLE_COLORS).fillna(COLORS["neutral"]))
    ax.set_xticks(x, registry["semver"])
    aliases = registry["aliases"].fillna("").astype(str)
    for i, (acc, alias) in enumerate(zip(registry["accuracy"], aliases, strict=True)):
        ax.annotate(f"{acc:.4f}" + (f"\n{alias}" if alias else ""), (i, acc), textcoords="offset points",
                    xytext=(0, 3), ha="center", fontsize=7)
    ax.axhline(min_accuracy, color=COLORS["alert"], linestyle="--", linewidth=1.2,
               label=f"gate floor {min_accuracy:.2f}")
    production = registry.loc[aliases.str.split(", ").map(lambda names: "production" in names), "accuracy"]
    if len(production):
        top = float(production.iloc[0])
        ax.axhspan(top - margin, top, color=COLORS["neutral"], alpha=0.2, label=f"gate margin {margin:.2f}")
    bottom = version_axis_bottom(registry["accuracy"], min_accuracy)
    ax.set_ylim(bottom, min(1.0, float(registry["accuracy"].max()) + 0.05))
    note = f"axis starts at {bottom:.2f}" + (f"; one validation row = {1 / validation_rows:.4f}"
                                            if validation_rows else "")
    ax.set_xlabel(note, fontsize=7)
    ax.set_ylabel("validation accuracy")
    ax.tick_params(axis="x", rotation=30, labelsize=8)
    status = [plt.Rectangle((0, 0), 1, 1, color=c, label=s) for s, c in LIFECYCLE_COLORS.items()]
    handles = status + ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=7, loc="upper left", ncols=2)
    ax.set_title("3 · Model version performance")


def traffic_panel(ax: plt.Axes, hourly: pd.DataFrame) -> plt.Axes:
    """Panel 4: requests by hour of day (bars) and mean latency by hour (line, right axis from 0)."""
    ax.bar(hourly["hour"], hourly["requests"], color=COLORS["primary"], alpha=0.8, label="requests in the week")
    ax.set_xlabel("hour of day (simulated clock)")
    colour_axis(ax, "requests in the week", COLORS["primary"])
    right = ax.twinx()
    right.plot(hourly["hour"], hourly["mean_latency_ms"], color=COLORS["secondary"], marker=".",
               label="mean latency (ms)")
    right.set_ylim(0, max(float(hourly["mean_latency_ms"].max()) * 1.25, 1e-3))
    colour_axis(right, "mean latency (ms)", COLORS["secondary"])
    right.grid(False)
    shared_legend(ax, right, loc="upper left")
    ax.set_title("4 · Daily traffic pattern")
    return right


def shade_runs(ax: plt.Axes, resources: pd.DataFrame) -> int:
    """Shade each load run (workers x clients) behind a resource plot; return how many runs were shaded."""
    if not {"workers", "concurrency"} <= set(resources.columns):
        return 0
    workers, clients = (resources[c].fillna(0).astype(int).to_numpy() for c in ("workers", "concurrency"))
    run = np.array([f"{w}w×{c}c" for w, c in zip(workers, clients, strict=True)])
    active = workers > 0
    starts = np.flatnonzero(active & np.r_[True, run[1:] != run[:-1]])
    t = resources["t_s"].to_numpy()
    for k, start in enumerate(starts):
        end = start
        while end + 1 < len(run) and active[end + 1] and run[end + 1] == run[start]:
            end += 1
        ax.axvspan(t[start], t[end], color=COLORS["neutral"], alpha=0.08 + 0.08 * (k % 2), linewidth=0)
        ax.text((t[start] + t[end]) / 2, 110, run[start], ha="center", va="center", fontsize=6)
    return len(starts)


def resources_panel(ax: plt.Axes, resources: pd.DataFrame) -> plt.Axes:
    """Panel 5: system CPU and memory % (left, 0-100) and loopback network MB/s (right, from 0) in the load test.

    Columns are read if present. Disk I/O is left out on purpose: the counters are system-wide, and the API
    reads nothing from disk while it serves, so a disk spike there belongs to another program.
    """
    t = resources["t_s"]
    for column, label, color in (("cpu_percent", "CPU %", COLORS["alert"]),
                                 ("mem_percent", "memory %", COLORS["primary"])):
        if column in resources:
            ax.plot(t, resources[column], color=color, label=label)
    ax.set_ylim(0, 118)  # the band above 100 holds the run labels (workers × clients)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("percent of the machine")
    shaded = shade_runs(ax, resources)
    ax.set_xlabel("seconds into the load test" + (" (shaded: one run each, workers × clients)" if shaded else ""))
    right = ax.twinx()
    if "net_recv_Bps" in resources:
        network = resources["net_recv_Bps"] / 1e6
        right.plot(t, network, color=COLORS["good"], linestyle="--", label="network MB/s (received)")
        right.set_ylim(0, max(float(network.max()) * 1.25, 1e-3))
    right.set_ylabel("MB/s")
    right.grid(False)
    shared_legend(ax, right, loc="best")  # the network line can be anywhere: let matplotlib avoid it
    ax.set_title("5 · Resource utilisation (load test)")
    return right


def pipeline_panel(ax: plt.Axes, record: dict) -> None:
    """Panel 6: every step of the last pipeline run, top to bottom, coloured and labelled by status.

    The first failed step's report is printed under the panel: why the candidate stopped.
    """
    steps = record["steps"]
    names = [f"{s['number']}. {s['name']}" for s in steps][::-1]
    colors = [STEP_COLORS.get(s["status"], COLORS["neutral"]) for s in steps][::-1]
    ax.barh(names, np.ones(len(steps)), color=colors)
    for y, step in enumerate(steps[::-1]):
        ax.text(0.5, y, step["status"], ha="center", va="center", color="white", fontsize=8, fontweight="bold")
    ax.set_xticks([])
    ax.set_xlim(0, 1)
    ax.grid(False)
    ax.tick_params(axis="y", labelsize=8)
    failed = [s for s in steps if s["status"] == "failed"]
    if failed:
        ax.set_xlabel(textwrap.fill(f"stopped at step {failed[0]['number']}: {failed[0]['details']}", 70),
                      fontsize=7)
    ax.set_title(f"6 · Pipeline: {record['candidate']} ({record['semver']}) → {record['outcome']}")


def draw_dashboard(daily: pd.DataFrame, drift: pd.DataFrame, registry: pd.DataFrame, hourly: pd.DataFrame,
                   resources: pd.DataFrame, record: dict, *, drift_day: int, baseline: float | None = None,
                   validation_rows: int | None = None, warning: float = PSI_WARNING,
                   alert: float = PSI_ALERT) -> plt.Figure:
    """Return the six-panel production dashboard figure (its first six axes are the panels, in reading order)."""
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    performance_panel(axes[0, 0], daily, baseline)
    drift_panel(axes[0, 1], drift, drift_day, warning, alert)
    versions_panel(axes[0, 2], registry, validation_rows=validation_rows)
    traffic_panel(axes[1, 0], hourly)
    resources_panel(axes[1, 1], resources)
    pipeline_panel(axes[1, 2], record)
    fig.suptitle("Model deployment and MLOps — production dashboard", fontsize=16, fontweight="bold")
    fig.tight_layout()
    return fig
