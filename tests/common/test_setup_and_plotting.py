"""helpers.setup, helpers.common.paths and helpers.common.plotting."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402

import helpers  # noqa: E402
from helpers.common import paths  # noqa: E402


def test_paths_are_anchored_on_the_repo_root(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    assert (paths.ROOT / "helpers" / "__init__.py").exists()
    assert paths.relative(paths.ROOT / "data" / "x.csv") == "data/x.csv"


def figures_dir(**env: str) -> str:
    """Return helpers.paths.FIGURES_DIR as a fresh interpreter sees it with only `env` among the COURSE_ settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    code = "from helpers import paths; print(paths.FIGURES_DIR)"
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                          check=True, cwd=paths.ROOT).stdout.strip()


def test_figures_leave_the_committed_ones_alone_unless_refreshing(tmp_path) -> None:
    assert figures_dir() == str(paths.ROOT / "build" / "figures")  # make run, JupyterLab
    assert figures_dir(COURSE_FIGURES_DIR=str(paths.ROOT / "figures")) == str(paths.ROOT / "figures")  # refresh
    assert figures_dir(COURSE_STATE_DIR=str(tmp_path)) == str(tmp_path / "figures")  # tests


def test_setup_seeds_and_configures() -> None:
    helpers.setup()
    a = (random.random(), np.random.rand())
    helpers.setup()
    assert (random.random(), np.random.rand()) == a
    assert sklearn.get_config()["display"] == "text"


def test_save_figure_writes_a_150_dpi_png(tmp_path) -> None:
    from PIL import Image

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    path = helpers.save_figure(fig, "tiny", directory=tmp_path)
    plt.close(fig)
    assert path == tmp_path / "tiny.png"
    with Image.open(path) as img:
        assert round(img.info["dpi"][0]) == 150


def test_versions_line_names_packages() -> None:
    line = helpers.versions("numpy")
    assert line.startswith("Python 3.") and f"numpy {np.__version__}" in line
