"""Every notebook runs standalone, cold, in a fresh state folder, and leaves no process or listening port behind."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import server
from helpers.common.paths import course_notebooks

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = course_notebooks()
PARALLEL = 2  # two notebooks at a time: they wait on servers and disks often enough to share two cores


def run_cold(notebook: Path, workdir: Path) -> subprocess.CompletedProcess:
    """Execute one notebook with papermill in its own empty state folder; return the finished process."""
    workdir.mkdir(parents=True)
    env = {**os.environ, "COURSE_STATE_DIR": str(workdir / "state"), "PYTHONHASHSEED": "0", "TQDM_DISABLE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, "-m", "papermill", str(notebook), str(workdir / notebook.name),
                           "--cwd", str(notebook.parent), "--no-progress-bar"],
                          env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def cold_runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Run every notebook cold (children start from this thread pool's threads, hence no death signal needed)."""
    server.adopt_orphans()
    base = tmp_path_factory.mktemp("standalone")
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {nb.stem: pool.submit(run_cold, nb, base / nb.stem) for nb in NOTEBOOKS}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize("notebook", [nb.stem for nb in NOTEBOOKS])
def test_notebook_runs_standalone(cold_runs, notebook: str) -> None:
    done = cold_runs[notebook]
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_nothing_outlives_the_notebooks(cold_runs) -> None:
    assert server.surviving_descendants() == [], "a process (and its port) outlived its notebook"
