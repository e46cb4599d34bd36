"""helpers.rollouts.stats against the published figures and statsmodels itself: sample sizes for 0.88 vs 0.90, the
cost of an uneven split, McNemar's paired sample size (checked by simulation), and the tests' directions."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats import proportion as smp
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.power import NormalIndPower

from helpers.rollouts import stats


def test_telling_088_from_090_needs_about_3840_requests_per_arm() -> None:
    assert stats.sample_size(0.88, 0.90) == (3835, 3835)
    assert stats.sample_size(0.90, 0.88) == (3835, 3835), "symmetric"
    expected = NormalIndPower().solve_power(abs(smp.proportion_effectsize(0.88, 0.90)), alpha=0.05, power=0.8)
    assert stats.sample_size(0.88, 0.90)[0] == int(np.ceil(expected))
    # the textbook formula, written out
    z_a, z_b, p_bar = 1.959963984540054, 0.8416212335729143, 0.89
    n = (z_a * np.sqrt(2 * p_bar * (1 - p_bar)) + z_b * np.sqrt(0.88 * 0.12 + 0.90 * 0.10)) ** 2 / 0.02**2
    assert stats.sample_size_difference(0.88, 0.90) == int(np.ceil(n)) == 3841


@pytest.mark.parametrize(("kwargs", "per_arm"), [
    ({"alternative": "larger"}, 3021), ({"power": 0.9}, 5134), ({"p1": 0.90, "p2": 0.91}, 13488)])
def test_the_price_of_each_choice(kwargs: dict, per_arm: int) -> None:
    p1, p2 = kwargs.pop("p1", 0.88), kwargs.pop("p2", 0.90)
    assert stats.sample_size(p1, p2, **kwargs)[0] == per_arm


def test_a_10_90_split_needs_about_28_times_the_total_of_an_even_split() -> None:
    small, large = stats.sample_size(0.88, 0.90, ratio=9)
    assert (small, large) == (2131, 19173)
    ratio = (small + large) / sum(stats.sample_size(0.88, 0.90))
    assert ratio == pytest.approx((1 + 9) ** 2 / (4 * 9), abs=0.01)


def test_paired_sample_sizes_match_connors_formula_and_a_simulation() -> None:
    assert stats.paired_sample_size(0.04, 0.02) == 783
    assert stats.paired_sample_size(0.10, 0.02) == 1960
    assert stats.paired_sample_size(0.04, 0.02) < stats.sample_size(0.88, 0.90)[0] / 4, "paired needs far fewer"
    assert stats.paired_power(783, 0.04, 0.02) == pytest.approx(0.8, abs=0.04)
    assert stats.paired_power(300, 0.04, 0.02) < 0.5
    assert stats.paired_power(783, 0.04, 0.02, seed=1) == stats.paired_power(783, 0.04, 0.02, seed=1)


def test_the_detectable_difference_inverts_the_sample_size() -> None:
    drop = stats.detectable_difference(3835, 3835, 0.90)
    assert drop == pytest.approx(0.02, abs=0.0005)
    assert stats.detectable_difference(100, 100, 0.9) > stats.detectable_difference(1000, 1000, 0.9)


def test_the_two_proportion_test_is_statsmodels_ztest() -> None:
    result = stats.two_proportion_test(900, 1000, 870, 1000)
    z, p = smp.proportions_ztest([900, 870], [1000, 1000])
    assert (result.statistic, result.pvalue) == pytest.approx((z, p))
    assert result.accuracy_1 == 0.9 and result.significant() is True
    assert stats.two_proportion_test(880, 1000, 879, 1000).significant() is False


def test_non_inferiority_rejects_only_when_the_new_version_is_not_much_worse() -> None:
    same = stats.non_inferiority(880, 1000, 880, 1000, margin=0.05)
    direct = smp.test_proportions_2indep(880, 1000, 880, 1000, value=-0.05, alternative="larger")
    assert same.pvalue == pytest.approx(direct.pvalue) and same.significant()
    assert not stats.non_inferiority(800, 1000, 880, 1000, margin=0.05).significant(), "8 points worse"
    assert not stats.non_inferiority(44, 50, 44, 50, margin=0.05).significant(), "too few labels to show it"
    assert stats.non_inferiority(880, 1000, 880, 1000, 0.01).pvalue > same.pvalue, "a smaller margin is harder"


def test_the_power_of_non_inferiority_grows_with_labels_and_with_a_better_candidate() -> None:
    equal = stats.non_inferiority_power(0.86, 379, 0.86, 421, margin=0.05)
    assert equal == pytest.approx(0.65, abs=0.03)
    assert stats.non_inferiority_power(0.86, 1500, 0.86, 1500, margin=0.05) > 0.95
    assert stats.non_inferiority_power(0.875, 379, 0.86, 421, margin=0.05) > equal
    assert stats.non_inferiority_power(0.80, 379, 0.86, 421, margin=0.05) < 0.1, "a worse one rarely passes"


def test_wilson_interval_holds_the_accuracy_and_narrows_with_labels() -> None:
    low, high = stats.accuracy_interval(12, 17)
    assert low < 12 / 17 < high and high < 0.9
    assert stats.accuracy_interval(700, 1000)[1] - stats.accuracy_interval(700, 1000)[0] < high - low


def test_the_paired_table_and_mcnemar() -> None:
    primary = np.array([1, 1, 1, 0, 0, 1, 1, 0], bool)
    shadow = np.array([1, 0, 1, 1, 0, 0, 1, 0], bool)
    table = stats.paired_table(primary, shadow)
    assert table.tolist() == [[3, 2], [1, 2]]
    result = stats.mcnemar_test(table)
    assert result.pvalue == pytest.approx(mcnemar(table, exact=True).pvalue) == pytest.approx(1.0)
    assert (result.accuracy_1, result.accuracy_2) == (5 / 8, 4 / 8)
    lopsided = np.array([[300, 30], [5, 65]])
    assert stats.mcnemar_test(lopsided).significant()
