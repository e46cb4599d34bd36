"""helpers.rollouts.sequential: seeded and vectorized; peeking after every batch inflates an A/A test's
false-positive rate from about 5% to about 24%, and the mSPRT's always-valid p-value keeps it under alpha."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportions_ztest

from helpers.rollouts import sequential


@pytest.fixture(scope="module")
def aa() -> sequential.Experiments:
    return sequential.simulate(0.88, 0.88, 10_000, 20, 20_000, seed=42)


def test_the_simulation_is_reproducible_and_cumulative(aa) -> None:
    again = sequential.simulate(0.88, 0.88, 10_000, 20, 20_000, seed=42)
    assert np.array_equal(aa.correct_a, again.correct_a) and np.array_equal(aa.correct_b, again.correct_b)
    assert not np.array_equal(aa.correct_a, sequential.simulate(0.88, 0.88, 10_000, 20, 20_000, seed=1).correct_a)
    assert aa.correct_a.shape == (20_000, 20) and aa.n.tolist() == list(range(500, 10_001, 500))
    assert (np.diff(aa.correct_a, axis=1) >= 0).all()
    assert abs(aa.correct_a[:, -1].mean() / 10_000 - 0.88) < 0.001


def test_z_scores_are_statsmodels_pooled_z(aa) -> None:
    z = sequential.z_scores(aa)
    for row, look in ((0, 0), (7, 19)):
        expected, _ = proportions_ztest([aa.correct_b[row, look], aa.correct_a[row, look]], [aa.n[look]] * 2)
        assert z[row, look] == pytest.approx(expected)


def test_peeking_inflates_false_positives(aa) -> None:
    once = sequential.rejected_by_peeking(sequential.at_looks(aa, 1)).mean()
    always = sequential.rejected_by_peeking(aa).mean()
    assert once == pytest.approx(0.05, abs=0.006)
    assert always == pytest.approx(0.24, abs=0.02)
    rates = [sequential.rejected_by_peeking(sequential.at_looks(aa, k)).mean() for k in (1, 2, 5, 10, 20)]
    assert rates == sorted(rates) and rates[-1] < 1 - 0.95**20, "correlated looks: less than the naive rate"


def test_at_looks_keeps_equally_spaced_looks_ending_at_the_last(aa) -> None:
    assert sequential.at_looks(aa, 4).n.tolist() == [2500, 5000, 7500, 10_000]
    with pytest.raises(ValueError, match="do not divide"):
        sequential.at_looks(aa, 3)


def test_the_msprt_stays_valid_under_peeking_and_still_finds_a_real_difference(aa) -> None:
    assert sequential.rejected_by_msprt(aa, tau=0.02).mean() < 0.05
    p = sequential.always_valid_pvalues(aa, tau=0.02)
    assert (np.diff(p, axis=1) <= 0).all() and (p <= 1).all(), "an always-valid p-value never rises"
    ab = sequential.simulate(0.88, 0.90, 10_000, 20, 5_000, seed=7)
    rejected = sequential.always_valid_pvalues(ab, tau=0.02) < 0.05
    assert rejected[:, -1].mean() > 0.85
    stops = sequential.first_rejection(rejected, ab.n)
    assert np.isnan(stops).mean() == pytest.approx(1 - rejected[:, -1].mean())
    assert np.nanmin(stops) >= 500 and np.nanmax(stops) <= 10_000
