"""Notebook 08: the production dashboard, one function per panel, drawn from what notebooks 05-07 saved."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.common.plotting import COLORS, STATUS_COLORS

STEP_COLORS = {"passed": COLORS["good"], "failed": COLORS["alert"], "skipped": COLORS["neutral"]}
LIFECYCLE_COLORS = {"Production": COLORS["good"], "Staging": COLORS["warning"], "Development": COLORS["neutral"]}


def performance_panel(ax: plt.Axes, daily: pd.DataFrame) -> plt.Axes:
    """Panel 1: daily accuracy (left axis) and p95 latency (right axis); returns the right axis."""
    ax.plot(daily["day"], daily["accuracy"], "o-", color=COLORS["primary"], label="accuracy")
    for day, acc in zip(daily["day"], daily["accuracy"], strict=True):
        ax.annotate(f"{acc:.3f}", (day, acc), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    ax.set_ylabel("accuracy", color=COLORS["primary"])
    ax.set_xlabel("day of the simulated week")
    right = ax.twinx()
    right.plot(daily["day"], daily["p95_ms"], "s--", color=COLORS["secondary"], label="p95 latency")
    right.set_ylabel("p95 latency (ms)", color=COLORS["secondary"])
    right.grid(False)
    ax.set_title("1 · Model performance over time")
    return right


def drift_panel(ax: plt.Axes, drift: pd.DataFrame, day: int, warning: float, alert: float) -> None:
    """Panel 2: PSI per feature on `day`, coloured by status, with the warning and alert thresholds."""
    today = drift[drift["day"] == day].sort_values("psi", ascending=False, kind="stable")
    ax.bar(today["feature"].str.replace("feature_", "f"), today["psi"],
           color=today["status"].map(STATUS_COLORS))
    ax.axhline(warning, color=COLORS["warning"], linestyle="--", linewidth=1, label=f"warning {warning}")
    ax.axhline(alert, color=COLORS["alert"], linestyle="--", linewidth=1, label=f"alert {alert}")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_ylabel("PSI (symlog)")
    ax.tick_params(axis="x", rotation=90, labelsize=7)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"2 · Feature drift on day {day}")


def versions_panel(ax: plt.Axes, registry: pd.DataFrame) -> None:
    """Panel 3: test accuracy per registered version, coloured by lifecycle status."""
    ax.bar(registry["semver"], registry["accuracy"], color=registry["status"].map(LIFECYCLE_COLORS))
    for x, (acc, alias) in enumerate(zip(registry["accuracy"], registry["aliases"], strict=True)):
        ax.annotate(f"{acc:.3f}" + (f"\n{alias}" if alias else ""), (x, acc), textcoords="offset points",
                    xytext=(0, 3), ha="center", fontsize=7)
    low = registry["accuracy"].min()
    ax.set_ylim(low - 0.03, registry["accuracy"].max() + 0.03)
    ax.set_ylabel("test accuracy")
    ax.tick_params(axis="x", rotation=30, labelsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in LIFECYCLE_COLORS.values()]
    ax.legend(handles, LIFECYCLE_COLORS.keys(), fontsize=7, loc="upper left")
    ax.set_title("3 · Model version performance")


def traffic_panel(ax: plt.Axes, hourly: pd.DataFrame) -> plt.Axes:
    """Panel 4: requests by hour of day (bars) and mean latency by hour (line, right axis)."""
    ax.bar(hourly["hour"], hourly["requests"], color=COLORS["primary"], alpha=0.8)
    ax.set_xlabel("hour of day (simulated clock)")
    ax.set_ylabel("requests in the week")
    right = ax.twinx()
    right.plot(hourly["hour"], hourly["mean_latency_ms"], color=COLORS["secondary"], marker=".")
    right.set_ylabel("mean latency (ms)", color=COLORS["secondary"])
    right.grid(False)
    ax.set_title("4 · Daily traffic pattern")
    return right


def resources_panel(ax: plt.Axes, resources: pd.DataFrame) -> plt.Axes:
    """Panel 5: CPU and memory % (left) and network and disk MB/s (right) during the load test."""
    ax.plot(resources["t_s"], resources["cpu_percent"], color=COLORS["alert"], label="CPU %")
    ax.plot(resources["t_s"], resources["mem_percent"], color=COLORS["primary"], label="memory %")
    ax.set_ylim(0, 105)
    ax.set_xlabel("seconds into the load test")
    ax.set_ylabel("percent")
    right = ax.twinx()
    network = (resources["net_sent_Bps"] + resources["net_recv_Bps"]) / 1e6
    disk = (resources["disk_read_Bps"] + resources["disk_write_Bps"]) / 1e6
    right.plot(resources["t_s"], network, color=COLORS["good"], linestyle="--", label="network MB/s")
    right.plot(resources["t_s"], disk, color=COLORS["neutral"], linestyle=":", label="disk MB/s")
    right.set_ylabel("MB/s")
    right.grid(False)
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], fontsize=7, loc="upper right")
    ax.set_title("5 · Resource utilisation (load test)")
    return right


def pipeline_panel(ax: plt.Axes, record: dict) -> None:
    """Panel 6: the eight steps of the last pipeline run, coloured by status."""
    steps = record["steps"]
    names = [f"{s['number']}. {s['name']}" for s in steps][::-1]
    colors = [STEP_COLORS[s["status"]] for s in steps][::-1]
    ax.barh(names, np.ones(len(steps)), color=colors)
    for y, step in enumerate(steps[::-1]):
        ax.text(0.5, y, step["status"], ha="center", va="center", color="white", fontsize=8, fontweight="bold")
    ax.set_xticks([])
    ax.set_xlim(0, 1)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(f"6 · Pipeline: {record['candidate']} ({record['semver']}) → {record['outcome']}")


def draw_dashboard(daily: pd.DataFrame, drift: pd.DataFrame, registry: pd.DataFrame, hourly: pd.DataFrame,
                   resources: pd.DataFrame, record: dict, *, drift_day: int, warning: float,
                   alert: float) -> plt.Figure:
    """Return the six-panel production dashboard figure."""
    fig, axes = plt.subplots(2, 3, figsize=(18, 10))
    performance_panel(axes[0, 0], daily)
    drift_panel(axes[0, 1], drift, drift_day, warning, alert)
    versions_panel(axes[0, 2], registry)
    traffic_panel(axes[1, 0], hourly)
    resources_panel(axes[1, 1], resources)
    pipeline_panel(axes[1, 2], record)
    fig.suptitle("Model deployment and MLOps — production dashboard", fontsize=16, fontweight="bold")
    fig.tight_layout()
    return fig
