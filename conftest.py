"""pytest at the repository root: `pytest --nbval notebooks` also proves the notebooks leave nothing running."""

from __future__ import annotations

import pytest


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
