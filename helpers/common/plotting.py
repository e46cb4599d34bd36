"""One figure style for the whole course, and saving figures at 150 DPI."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from helpers.common import paths

# The course palette: one colour per meaning, used by every notebook and the dashboard.
COLORS: dict[str, str] = {
    "primary": "#1f77b4",
    "secondary": "#ff7f0e",
    "good": "#2ca02c",
    "warning": "#f0ad4e",
    "alert": "#d62728",
    "neutral": "#7f7f7f",
}
STATUS_COLORS: dict[str, str] = {"Normal": COLORS["good"], "Warning": COLORS["warning"], "Alert": COLORS["alert"]}


def apply_style() -> None:
    """Set the course's matplotlib/seaborn style (fonts, grid, sizes)."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette="deep")
    plt.rcParams.update({
        "figure.figsize": (8, 4.5),
        "figure.dpi": 100,
        "axes.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "savefig.bbox": "tight",
        "svg.hashsalt": "course",
    })


def save_figure(fig: plt.Figure, name: str, directory: Path | None = None) -> Path:
    """Save `fig` as `<name>.png` at 150 DPI (sharp on screen, half the time of 300) into figures/; return the path."""
    directory = Path(directory or paths.FIGURES_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name if name.endswith(".png") else f"{name}.png")
    fig.savefig(path, dpi=150, metadata={"Software": None})
    return path
