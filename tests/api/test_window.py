"""The monitoring window: a ring buffer of recent rows, predictions awaiting their labels, recent outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.api import window as w
from helpers.common.schema import FEATURES
from helpers.monitoring.psi import ReferenceBins


def rows(start: int, n: int) -> np.ndarray:
    """Return n rows whose every value is its row number (start, start + 1, ...)."""
    return np.repeat(np.arange(start, start + n, dtype=float)[:, None], 20, axis=1)


def test_the_ring_buffer_keeps_the_newest_rows() -> None:
    win = w.MonitoringWindow(rows=5)
    win.remember("a", rows(0, 3), np.zeros(3))
    assert win.filled == 3 and sorted(win.rows[:3, 0]) == [0, 1, 2]
    win.remember("b", rows(3, 4), np.zeros(4))
    assert win.filled == 5 and sorted(win.rows[:, 0]) == [2, 3, 4, 5, 6]
    win.remember("c", rows(100, 12), np.zeros(12))
    assert sorted(win.rows[:, 0]) == [107, 108, 109, 110, 111], "a batch bigger than the window keeps its tail"


def test_truth_is_compared_with_what_was_predicted() -> None:
    win = w.MonitoringWindow(rows=4)
    win.remember("a", rows(0, 2), np.array([1, 0]))
    assert win.record_truth("a", [1, 1]) == 0.5
    win.remember("b", rows(0, 3), np.array([1, 1, 1]))
    assert win.record_truth("b", [1, 1, 1]) == 0.75, "window of 4: a's second outcome (wrong) and b's three"
    win.remember("c", rows(0, 4), np.array([0, 0, 0, 0]))
    assert win.record_truth("c", [1, 1, 1, 1]) == 0.0, "only the newest 4 outcomes count"
    with pytest.raises(KeyError):
        win.record_truth("unknown", [1])
    with pytest.raises(ValueError, match="expected 2 label"):
        win.record_truth("a", [1])


def test_the_oldest_pending_requests_are_forgotten(monkeypatch) -> None:
    monkeypatch.setattr(w, "PENDING_REQUESTS", 3)
    win = w.MonitoringWindow(rows=4)
    for i in range(5):
        win.remember(f"r{i}", rows(i, 1), np.array([1]))
    assert list(win.pending) == ["r2", "r3", "r4"]


def test_psi_is_empty_before_any_row_and_zero_for_the_reference_itself() -> None:
    rng = np.random.default_rng(0)
    reference_rows = rng.normal(size=(1000, 20))
    reference = {f: ReferenceBins.fit(reference_rows[:, j]) for j, f in enumerate(FEATURES[:2])}
    win = w.MonitoringWindow()
    assert win.psi(reference) == {}
    win.remember("a", reference_rows, np.zeros(1000))
    psi = win.psi(reference)
    assert list(psi) == FEATURES[:2]
    assert psi["feature_0"] < 0.01
    win.remember("b", reference_rows + 3, np.zeros(1000))
    assert win.psi(reference)["feature_0"] > 1, "a shifted window drifts"
