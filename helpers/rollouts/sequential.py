"""Peeking, simulated: an A/B test checked again and again as the data arrive, and an always-valid remedy (mSPRT).

A fixed-sample test promises a 5% false-positive rate for ONE look at the planned sample size. Looking after every
batch and stopping at the first "significant" p-value gives the noise many chances to cross the line. The mixture
sequential probability ratio test (mSPRT, Johari et al. 2017) gives a p-value that stays valid however often it
is looked at. Every experiment is simulated at once (numpy arrays, one row per experiment), from a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from helpers.common.schema import SEED


@dataclass(frozen=True)
class Experiments:
    """Many simulated A/B tests: cumulative correct answers per arm at each look, and the requests per arm."""

    correct_a: np.ndarray  # (experiments, looks)
    correct_b: np.ndarray
    n: np.ndarray  # (looks,): labelled requests per arm so far

    @property
    def looks(self) -> int:
        """Return the number of looks."""
        return len(self.n)


def simulate(p_a: float, p_b: float, n_max: int, looks: int, experiments: int, seed: int = SEED) -> Experiments:
    """Simulate `experiments` A/B tests with true accuracies p_a and p_b, `looks` equal batches up to n_max per arm."""
    rng = np.random.default_rng(seed)
    batch = n_max // looks
    a = rng.binomial(batch, p_a, size=(experiments, looks)).cumsum(axis=1)
    b = rng.binomial(batch, p_b, size=(experiments, looks)).cumsum(axis=1)
    return Experiments(a, b, batch * np.arange(1, looks + 1))


def z_scores(e: Experiments) -> np.ndarray:
    """Return the two-proportion z statistic (pooled variance) of every experiment at every look."""
    pooled = (e.correct_a + e.correct_b) / (2 * e.n)
    se = np.sqrt(pooled * (1 - pooled) * 2 / e.n)
    diff = (e.correct_b - e.correct_a) / e.n
    return np.divide(diff, se, out=np.zeros_like(diff), where=se > 0)


def at_looks(e: Experiments, looks: int) -> Experiments:
    """Return the same experiments seen at only `looks` equally spaced looks (the last one always included)."""
    if looks < 1 or e.looks % looks:
        raise ValueError(f"{looks} looks do not divide the {e.looks} simulated ones evenly")
    every = e.looks // looks
    keep = slice(every - 1, None, every)
    return Experiments(e.correct_a[:, keep], e.correct_b[:, keep], e.n[keep])


def rejected_by_peeking(e: Experiments, alpha: float = 0.05) -> np.ndarray:
    """Return, per experiment, whether a two-sided z-test at level alpha was significant at ANY look: what
    stopping at the first significant peek does (with one look: the fixed-sample test)."""
    return (np.abs(z_scores(e)) > stats.norm.ppf(1 - alpha / 2)).any(axis=1)


def msprt_log_ratio(e: Experiments, tau: float) -> np.ndarray:
    """Return log Lambda_n, the mSPRT's mixture likelihood ratio for "the accuracies differ", at every look.

    theta = the difference in accuracy (b - a), V = its variance for one pair of requests (estimated),
    a normal mixture of width tau over theta:
    Lambda_n = sqrt(V / (V + n tau^2)) * exp(n^2 tau^2 theta^2 / (2 V (V + n tau^2))).
    """
    pa, pb = e.correct_a / e.n, e.correct_b / e.n
    v = np.maximum(pa * (1 - pa) + pb * (1 - pb), 1e-12)
    theta, n, t2 = pb - pa, e.n, tau**2
    return 0.5 * np.log(v / (v + n * t2)) + (n**2 * t2 * theta**2) / (2 * v * (v + n * t2))


def always_valid_pvalues(e: Experiments, tau: float) -> np.ndarray:
    """Return the mSPRT's always-valid p-value at every look: min(1, 1 / the largest Lambda so far)."""
    return np.minimum(1.0, np.exp(-np.maximum.accumulate(msprt_log_ratio(e, tau), axis=1)))


def rejected_by_msprt(e: Experiments, tau: float, alpha: float = 0.05) -> np.ndarray:
    """Return, per experiment, whether the always-valid p-value fell below alpha at any look."""
    return always_valid_pvalues(e, tau)[:, -1] < alpha


def first_rejection(rejected_at: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Return, per experiment, the requests per arm at its first rejection (NaN if it never rejected)."""
    hit = rejected_at.any(axis=1)
    first = np.argmax(rejected_at, axis=1)
    return np.where(hit, n[first], np.nan)
