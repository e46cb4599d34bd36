"""Every notebook runs standalone, cold, in a fresh state folder, and leaves no process or listening port behind."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


_PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture(scope="module", autouse=True)
def adopt_orphans() -> None:
    """Make this process adopt orphaned descendants (Linux), so a server that outlives its kernel is seen here."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1)


def survivors(seconds: float = 10.0) -> list[str]:
    """Return the descendants still alive after giving them `seconds` to exit (zombies are reaped)."""
    deadline = time.monotonic() + seconds
    while True:
        alive = []
        for child in psutil.Process().children(recursive=True):
            try:
                if child.status() == psutil.STATUS_ZOMBIE:
                    child.wait(0)
                else:
                    ports = [c.laddr.port for c in child.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
                    alive.append(f"pid {child.pid} {' '.join(child.cmdline())[:80]} listening on {ports}")
            except (psutil.NoSuchProcess, psutil.TimeoutExpired):
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


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
    assert survivors() == [], "a process (and its port) outlived the notebook"
