"""The Population Stability Index against reference bins: numpy only, so the API server computes it cheaply."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PSI_EPSILON = 1e-4
"""Floor applied to empty-bin shares (reference and current) so that ln(a/e) stays finite."""


class MonitoringError(ValueError):
    """Raised when monitoring input is unusable; the message says which input and column is wrong."""


def check_values(values: np.ndarray, what: str) -> np.ndarray:
    """Return `values` as a 1-D float array, or raise MonitoringError if empty or not finite."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MonitoringError(f"{what} must be numeric: {exc}") from None
    if arr.ndim != 1:
        raise MonitoringError(f"{what} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise MonitoringError(f"{what} is empty: there is nothing to compare")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise MonitoringError(
            f"{what} holds {int(bad.sum())} missing or infinite value(s), first at position {first} ({arr[first]})"
        )
    return arr


@dataclass(frozen=True)
class ReferenceBins:
    """Bins fitted on a reference sample: inner cut points and the reference share of every bin.

    Bins are right-closed, (e[i-1], e[i]], and the outer two are open: (-inf, e[0]] and (e[-1], +inf),
    so a current value outside the reference range is counted, never dropped.
    """

    edges: np.ndarray
    shares: np.ndarray

    @classmethod
    def fit(cls, reference: np.ndarray, bins: int = 10) -> ReferenceBins:
        """Return bins cut at the reference quantiles (deciles by default), duplicate cut points merged."""
        ref = check_values(reference, "reference")
        if int(bins) != bins or bins < 2:
            raise MonitoringError(f"bins must be an integer >= 2, got {bins}")
        # The k-th cut point is the ceil(k * n / bins)-th smallest reference value, in exact integer arithmetic
        # (float quantile levels put some cuts one value off). Cut points being reference values, every inner
        # bin holds some of the reference; np.unique merges the cuts of a feature with repeated values.
        ordered = np.sort(ref)
        positions = (np.arange(1, int(bins)) * ref.size + int(bins) - 1) // int(bins) - 1
        edges = np.unique(ordered[positions])
        if ref.min() == ref.max():
            # A constant reference c: three bins, below c / exactly c / above c, so a shift either way shows.
            edges = np.array([np.nextafter(ref[0], -np.inf), ref[0]])
        return cls(edges=edges, shares=bin_shares(ref, edges))

    def shares_of(self, current: np.ndarray) -> np.ndarray:
        """Return the share of `current` falling in each bin (sums to 1: nothing is dropped)."""
        return bin_shares(check_values(current, "current"), self.edges)

    def psi(self, current: np.ndarray) -> float:
        """Return the PSI of `current` against the reference: sum of (a - e) * ln(a / e), shares floored at eps."""
        return psi_from_shares(self.shares, self.shares_of(current))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Return the share of `values` in each of the len(edges) + 1 right-closed open-ended bins."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return counts / counts.sum()


def psi_from_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    """Return PSI between two share vectors after flooring both at PSI_EPSILON."""
    e = np.maximum(expected, PSI_EPSILON)
    a = np.maximum(actual, PSI_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Return the PSI of `current` against `reference`, with bins at the reference quantiles."""
    return ReferenceBins.fit(reference, bins).psi(current)
