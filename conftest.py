"""pytest at the repository root: `pytest --nbval notebooks` also proves the notebooks leave nothing running.

With `COURSE_STANDALONE_ROOT` set, every notebook's kernel starts in its own empty state folder under it: each
notebook is then checked cold, as a student who opens it first would run it (`make portability` does this).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say which numpy kernels the notebooks run with: all this CPU offers, or the portable baseline only."""
    if not config.getoption("nbval", default=False):
        return None
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    disabled = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").split()
    still_on = [f for f in disabled if __cpu_features__.get(f)]
    if still_on:
        raise pytest.UsageError(f"NPY_DISABLE_CPU_FEATURES did not switch off {', '.join(still_on)}")
    active = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
    kernels = f"dispatched kernels {', '.join(active)}" if active else "baseline kernels only"
    return f"numpy: {kernels}; PYTHONHASHSEED={os.environ.get('PYTHONHASHSEED', 'random')}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Adopt orphaned descendants, so a server that outlives its notebook's kernel is still ours to find."""
    if session.config.getoption("nbval", default=False):
        from helpers.common.processes import adopt_orphans

        adopt_orphans()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a notebook's kernel starts (its first cell's setup), point it at a fresh state folder if asked."""
    root = os.environ.get("COURSE_STANDALONE_ROOT")
    notebook = item.parent
    if not root or notebook is None or getattr(notebook, "standalone_state", None) is not None:
        return
    state = Path(root) / Path(str(notebook.path)).stem
    shutil.rmtree(state, ignore_errors=True)
    notebook.standalone_state = state
    os.environ["COURSE_STATE_DIR"] = str(state)  # the kernel inherits it: helpers.common.paths reads it at import


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the notebooks ran in order, fail the session if any process they started is still alive."""
    if not session.config.getoption("nbval", default=False):
        return
    from helpers.common.processes import surviving_descendants

    alive = surviving_descendants()
    if alive:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line("processes left running by the notebooks:\n  " + "\n  ".join(alive), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
