"""Every notebook runs standalone, cold, in a fresh state folder, and leaves no process or listening port behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import server

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module", autouse=True)
def adopt_orphans() -> None:
    """Orphaned servers get re-parented to this process, so surviving_descendants() sees them."""
    server.adopt_orphans()


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_standalone_and_leaves_nothing(notebook: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "COURSE_STATE_DIR": str(state), "PYTHONHASHSEED": "0", "TQDM_DISABLE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run([sys.executable, "-m", "papermill", str(notebook), str(tmp_path / notebook.name),
                           "--cwd", str(notebook.parent), "--no-progress-bar"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert server.surviving_descendants() == [], "a process (and its port) outlived the notebook"
