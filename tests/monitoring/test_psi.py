"""helpers.monitoring.psi: PSI that matches theory and an independent implementation; open bins; epsilon."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.monitoring.psi import PSI_EPSILON, MonitoringError, ReferenceBins, psi, psi_from_shares

N_LARGE = 200_000


def straightforward_psi(reference: np.ndarray, current: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """An independent PSI: cut points picked from the sorted reference, bins counted one by one with masks."""
    ordered = np.sort(reference)
    picks = [ordered[int(np.ceil(k * len(ordered) / bins)) - 1] for k in range(1, bins)]
    cuts = sorted(set(picks))
    lows, highs = [-np.inf, *cuts], [*cuts, np.inf]
    total = 0.0
    for lo, hi in zip(lows, highs, strict=True):
        e = max(np.mean((reference > lo) & (reference <= hi)), eps)
        a = max(np.mean((current > lo) & (current <= hi)), eps)
        total += (a - e) * np.log(a / e)
    return total


@pytest.fixture(scope="module")
def gaussians() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.normal(size=N_LARGE), rng.normal(size=N_LARGE)


@pytest.mark.parametrize("delta", [0.25, 0.5, 1.0, 1.5])
def test_mean_shift_of_delta_sd_gives_psi_near_delta_squared(gaussians, delta) -> None:
    reference, current = gaussians
    value = psi(reference, current + delta)
    # The population value is delta^2; deciles read a little under it (0.5 sd: 0.24; 1.5 sd: 1.99 instead of 2.25).
    assert value == pytest.approx(delta**2, rel=0.15)
    assert value < delta**2


@pytest.mark.parametrize("ratio", [2.0, 4.0])
def test_variance_ratio_reads_below_the_population_formula(gaussians, ratio) -> None:
    reference, current = gaussians
    population = (ratio + 1 / ratio) / 2 - 1  # 0.25 for a variance x2, 1.125 when the spread (sd) doubles
    value = psi(reference, current * np.sqrt(ratio))
    # Decile bins under-read a change of spread (0.15 of 0.25; 0.49 of 1.125): loose bounds, but a clear signal.
    assert 0.4 * population < value < population


def test_identical_samples_give_zero_psi(gaussians) -> None:
    reference, current = gaussians
    assert psi(reference, reference) == pytest.approx(0.0, abs=1e-12)
    assert psi(reference, current) < 1e-3


def test_out_of_range_values_are_counted_not_dropped() -> None:
    reference = np.random.default_rng(1).normal(size=5_000)
    current = reference.max() + 1 + np.arange(500.0)
    bins = ReferenceBins.fit(reference)
    shares = bins.shares_of(current)
    assert shares.sum() == pytest.approx(1.0)
    assert shares[-1] == 1.0
    dropped, _ = np.histogram(current, bins=np.concatenate([[reference.min()], bins.edges, [reference.max()]]))
    assert dropped.sum() == 0, "np.histogram on closed reference edges would have dropped every value"
    assert bins.psi(current) > 5.0
    below = bins.shares_of(reference.min() - 1 - np.arange(500.0))
    assert below[0] == 1.0 and below.sum() == pytest.approx(1.0)


def test_epsilon_floors_empty_bins_so_one_empty_bin_adds_about_069() -> None:
    assert PSI_EPSILON == 1e-4
    expected = np.full(10, 0.1)
    actual = np.array([0.0, *np.full(9, 1 / 9)])  # the first bin is empty in the current sample
    value = psi_from_shares(expected, actual)
    assert np.isfinite(value)
    empty_bin = (PSI_EPSILON - 0.1) * np.log(PSI_EPSILON / 0.1)
    assert empty_bin == pytest.approx(0.69, abs=0.005)
    rest = 9 * (1 / 9 - 0.1) * np.log((1 / 9) / 0.1)
    assert value == pytest.approx(empty_bin + rest, rel=1e-12)
    # Both sides are floored: a bin empty in the reference too contributes nothing.
    assert psi_from_shares(np.array([0.0, 0.5, 0.5]), np.array([0.0, 0.5, 0.5])) == 0.0


def test_reference_bins_are_deciles_with_a_tenth_each() -> None:
    reference = np.random.default_rng(2).normal(size=10_000)
    bins = ReferenceBins.fit(reference)
    assert len(bins.edges) == 9 and len(bins.shares) == 10
    np.testing.assert_allclose(bins.shares, 0.1, atol=1e-12)
    np.testing.assert_allclose(bins.edges, np.quantile(reference, np.arange(1, 10) / 10), atol=1e-3)
    assert np.isin(bins.edges, reference).all(), "cut points are reference values"


def test_bins_are_right_closed() -> None:
    bins = ReferenceBins.fit(np.arange(1.0, 11.0))  # cut points 1, 2, ..., 9
    np.testing.assert_array_equal(bins.edges, np.arange(1.0, 10.0))
    np.testing.assert_array_equal(bins.shares_of(np.array([1.0])), np.eye(10)[0])  # (-inf, 1]
    np.testing.assert_array_equal(bins.shares_of(np.array([1.5])), np.eye(10)[1])  # (1, 2]


def test_constant_reference_does_not_divide_by_zero() -> None:
    reference = np.full(1_000, 3.0)
    with np.errstate(all="raise"):
        bins = ReferenceBins.fit(reference)
        assert bins.shares.sum() == pytest.approx(1.0) and len(bins.shares) <= 3
        assert psi(reference, np.full(200, 3.0)) == 0.0
        up, down = psi(reference, np.full(200, 3.5)), psi(reference, np.full(200, 2.5))
    assert np.isfinite(up) and up > 5.0
    assert np.isfinite(down) and down > 5.0


def test_duplicate_quantiles_are_merged() -> None:
    reference = np.repeat([0.0, 1.0, 2.0], [700, 200, 100])  # a discrete feature: most deciles coincide
    bins = ReferenceBins.fit(reference)
    np.testing.assert_array_equal(bins.edges, [0.0, 1.0])
    np.testing.assert_allclose(bins.shares, [0.7, 0.2, 0.1])
    assert psi(reference, reference) == pytest.approx(0.0)
    assert np.isfinite(psi(reference, np.repeat([0.0, 2.0], [100, 900])))


@pytest.mark.parametrize(("n_ref", "n_cur", "shift", "bins"), [(2_000, 300, 0.0, 10), (1_600, 1_300, 0.4, 10),
                                                                 (500, 50, 2.0, 10), (3_000, 800, -0.3, 5)])
def test_psi_matches_an_independent_implementation(n_ref, n_cur, shift, bins) -> None:
    rng = np.random.default_rng(n_ref + n_cur)
    reference = rng.standard_t(df=5, size=n_ref)
    current = rng.standard_t(df=5, size=n_cur) + shift
    assert psi(reference, current, bins) == pytest.approx(straightforward_psi(reference, current, bins), rel=1e-12)


@pytest.mark.parametrize(
    ("reference", "current", "message"),
    [
        ([], [1.0], "reference is empty"),
        ([1.0, 2.0], [], "current is empty"),
        ([1.0, np.nan], [1.0], "reference holds 1 missing or infinite value"),
        ([1.0, 2.0], [np.inf], "current holds 1 missing or infinite value"),
        ([[1.0, 2.0]], [1.0], "one-dimensional"),
        (["a", "b"], [1.0], "reference must be numeric"),
    ],
)
def test_bad_arrays_raise(reference, current, message) -> None:
    with pytest.raises(MonitoringError, match=message):
        psi(np.asarray(reference), np.asarray(current))


@pytest.mark.parametrize("bins", [1, 0, 2.5])
def test_bins_must_be_an_integer_of_at_least_two(bins) -> None:
    with pytest.raises(MonitoringError, match="bins must be an integer >= 2"):
        ReferenceBins.fit(np.arange(10.0), bins=bins)


def test_psi_module_needs_numpy_only() -> None:
    import ast
    from pathlib import Path

    import helpers.monitoring.psi as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "dataclasses", "numpy"}, "the API server computes PSI with numpy alone"
