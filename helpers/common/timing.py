"""Measuring how long something takes: medians and percentiles of repeated calls."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Timing:
    """Seconds per call over repeated measurements."""

    median: float
    p95: float
    p99: float
    repeats: int


def measure(fn: Callable[[], object], repeats: int = 50, warmup: int = 3) -> Timing:
    """Return the median/p95/p99 seconds of `repeats` calls of `fn` after `warmup` unmeasured calls."""
    for _ in range(warmup):
        fn()
    samples = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        fn()
        samples[i] = time.perf_counter() - start
    return Timing(float(np.median(samples)), float(np.percentile(samples, 95)),
                  float(np.percentile(samples, 99)), repeats)


def format_duration(seconds: float) -> str:
    """Return a duration with a readable unit: '12 µs', '3.4 ms', '1.25 s'."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
