"""Scoring a large batch on two cores or more, with the same digits as one call: row chunks scored at once.

The onnxruntime session runs on one intra-op thread, so it adds up a row's trees in one fixed order whatever the
batch around it: a row's probabilities are bit-identical alone, in a batch of 1,000, or in any chunk of one.
(Two intra-op threads would split the trees between them and change that order with the batch size.)
onnxruntime releases the GIL while it scores, so a chunk handed to a worker thread runs beside the caller's.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

MIN_CHUNK_ROWS = 40
"""The smallest chunk: handing one to a worker thread and back costs ~130 µs on a 2-core VM, which 100 rows
split in two win back (0.55 -> 0.28 ms) but 64 rows do not (0.10 -> 0.20 ms); measured break-even ~80 rows."""
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cores() -> int:
    """Return the cores this process may keep busy: those it may run on, capped by a container's CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()
    except (OSError, ValueError):  # no cgroup v2 CPU controller: no quota
        return cores
    return cores if quota == "max" else max(1, min(cores, math.floor(int(quota) / int(period))))


class RowChunks:
    """Score a batch as row chunks at once: the calling thread scores the first, worker threads the others."""

    def __init__(self, cores: int | None = None, min_rows: int = MIN_CHUNK_ROWS) -> None:
        self.cores = usable_cores() if cores is None else cores
        self.min_rows = min_rows
        self.pool = ThreadPoolExecutor(self.cores - 1, thread_name_prefix="rows") if self.cores > 1 else None

    def chunks(self, rows: int) -> int:
        """Return how many chunks `rows` rows are scored in (1: a single call)."""
        return max(1, min(self.cores, rows // self.min_rows))

    def proba(self, score: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> np.ndarray:
        """Return score(X), computed as row chunks in parallel when X is large enough to gain from it."""
        n = self.chunks(len(X))
        if n == 1 or self.pool is None:
            return score(X)
        first, *rest = np.array_split(X, n)
        pending = [self.pool.submit(score, chunk) for chunk in rest]
        parts = [score(first)]
        for chunk, future in zip(rest, pending, strict=True):  # a chunk no worker has started (no idle core):
            parts.append(score(chunk) if future.cancel() else future.result())  # scored here, not waited for
        return np.concatenate(parts)


ROW_CHUNKS = RowChunks()
"""The process's chunked scorer (its worker threads start on first use)."""
