"""pytest at the repository root: `pytest --nbval notebooks` also proves the notebooks leave nothing running."""

from __future__ import annotations

import os

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
        from helpers.server import adopt_orphans

        adopt_orphans()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the notebooks ran in order, fail the session if any process they started is still alive."""
    if not session.config.getoption("nbval", default=False):
        return
    from helpers.server import surviving_descendants

    alive = surviving_descendants()
    if alive:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line("processes left running by the notebooks:\n  " + "\n  ".join(alive), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
