"""What the API remembers for monitoring: the recent input rows (for drift), predicted labels awaiting their
ground truth (for accuracy), and the outcomes of the labels that arrived."""

from __future__ import annotations

from collections import OrderedDict, deque

import numpy as np

from helpers.common.schema import FEATURES, N_FEATURES
from helpers.monitoring.psi import ReferenceBins

WINDOW_ROWS = 1_000
"""Rows (and labelled outcomes) the drift and accuracy gauges look back over."""
PENDING_REQUESTS = 50_000
"""Requests whose labels may still arrive; the oldest are forgotten first."""


class MonitoringWindow:
    """A ring buffer of the last WINDOW_ROWS input rows, pending predictions, and recent right/wrong outcomes."""

    def __init__(self, rows: int = WINDOW_ROWS) -> None:
        self.rows = np.zeros((rows, N_FEATURES))
        self.filled = 0
        self.next = 0
        self.pending: OrderedDict[str, np.ndarray] = OrderedDict()
        self.outcomes: deque[bool] = deque(maxlen=rows)

    def remember(self, request_id: str, X: np.ndarray, labels: np.ndarray) -> None:
        """Keep a request's rows (the newest WINDOW_ROWS) and its predicted labels until their truth arrives."""
        size, start = len(self.rows), self.next
        n = min(len(X), size)
        if start + n <= size:  # the usual case, a slice: several times cheaper than the wrapped positions
            self.rows[start:start + n] = X[-n:]
        else:
            self.rows[(start + np.arange(n)) % size] = X[-n:]
        self.next = (start + n) % size
        self.filled = min(size, self.filled + n)
        self.pending[request_id] = labels
        if len(self.pending) > PENDING_REQUESTS:
            self.pending.popitem(last=False)

    def record_truth(self, request_id: str, labels: list[int]) -> float:
        """Compare delayed labels with what was predicted for `request_id`; return the window's accuracy.

        Raise KeyError for an unknown request and ValueError when the number of labels does not match.
        """
        predicted = self.pending[request_id]
        if len(labels) != len(predicted):
            raise ValueError(f"expected {len(predicted)} label(s) for that request, got {len(labels)}")
        self.outcomes.extend((np.asarray(labels) == predicted).tolist())
        return float(np.mean(self.outcomes))

    def psi(self, reference: dict[str, ReferenceBins]) -> dict[str, float]:
        """Return the PSI of every feature's recent rows against its training reference (empty before any row)."""
        if not self.filled:
            return {}
        recent = self.rows[: self.filled]
        return {f: reference[f].psi(recent[:, j]) for j, f in enumerate(FEATURES) if f in reference}
