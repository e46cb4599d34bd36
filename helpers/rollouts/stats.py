"""A/B statistics between two classifiers: how many labelled requests a test needs (power), the tests themselves
(two proportions, non-inferiority, McNemar on paired shadow answers), all from statsmodels and scipy.

Accuracy on labelled requests is a proportion: each request is right or wrong. Two versions that serve different
requests (a canary, an A/B split) give two independent proportions; a shadow answers the SAME requests as the
primary, which gives paired data, and paired data need far fewer requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
    samplesize_proportions_2indep_onetail,
    test_proportions_2indep,
)

ALPHA = 0.05
"""The false-positive rate a test accepts: the chance of calling a difference that is not there."""
POWER = 0.80
"""The chance a test detects a difference that is there (1 - the false-negative rate)."""


def sample_size(p1: float, p2: float, alpha: float = ALPHA, power: float = POWER, ratio: float = 1.0,
                alternative: str = "two-sided") -> tuple[int, int]:
    """Return the labelled requests (arm 1, arm 2) to tell accuracy p1 from p2, arm 2 being `ratio` times arm 1.

    statsmodels' NormalIndPower on Cohen's effect size h = 2 asin(sqrt p1) - 2 asin(sqrt p2).
    """
    effect = abs(proportion_effectsize(p1, p2))
    n1 = NormalIndPower().solve_power(effect, alpha=alpha, power=power, ratio=ratio, alternative=alternative)
    return math.ceil(n1), math.ceil(n1 * ratio)


def sample_size_difference(p1: float, p2: float, alpha: float = ALPHA, power: float = POWER) -> int:
    """Return the labelled requests per arm from the normal formula on the difference p2 - p1 (pooled variance
    under no difference): statsmodels' samplesize_proportions_2indep_onetail, rounded up."""
    return math.ceil(samplesize_proportions_2indep_onetail(p2 - p1, p1, power, alpha=alpha))


def detectable_difference(n1: int, n2: int, p: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """Return the smallest drop in accuracy below `p` that n1 and n2 labelled requests detect with `power`."""
    effect = NormalIndPower().solve_power(None, nobs1=n1, alpha=alpha, power=power, ratio=n2 / n1)
    lower = math.sin(math.asin(math.sqrt(p)) - effect / 2) ** 2
    return p - lower


def paired_sample_size(disagreement: float, gap: float, alpha: float = ALPHA, power: float = POWER) -> int:
    """Return the labelled requests McNemar's test needs when the two models disagree on a share `disagreement`
    of requests and their accuracies differ by `gap` (Connor's normal approximation, 1987)."""
    z_alpha, z_beta = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    root = z_alpha * math.sqrt(disagreement) + z_beta * math.sqrt(disagreement - gap**2)
    return math.ceil(root**2 / gap**2)


def paired_power(n: int, disagreement: float, gap: float, sims: int = 20_000, seed: int = 42,
                 alpha: float = ALPHA) -> float:
    """Return the share of simulated paired experiments of n requests in which McNemar's test (chi-square, no
    continuity correction) finds the gap: a check of `paired_sample_size` by simulation."""
    rng = np.random.default_rng(seed)
    discordant = rng.binomial(n, disagreement, size=sims)
    wins = rng.binomial(discordant, (disagreement + gap) / (2 * disagreement))
    losses = discordant - wins
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.where(discordant > 0, (wins - losses) ** 2 / np.maximum(discordant, 1), 0.0)
    return float(np.mean(stats.chi2.sf(chi2, df=1) < alpha))


@dataclass(frozen=True)
class Comparison:
    """One test's verdict: the two accuracies, the statistic, the p-value and what was tested."""

    accuracy_1: float
    accuracy_2: float
    statistic: float
    pvalue: float
    test: str

    def significant(self, alpha: float = ALPHA) -> bool:
        """Return True when the p-value is below alpha."""
        return self.pvalue < alpha


def two_proportion_test(correct_1: int, n_1: int, correct_2: int, n_2: int) -> Comparison:
    """Return the two-sided two-proportion z-test of accuracy 1 against accuracy 2 (statsmodels)."""
    z, p = proportions_ztest([correct_1, correct_2], [n_1, n_2])
    return Comparison(correct_1 / n_1, correct_2 / n_2, float(z), float(p), "two-proportion z-test")


def non_inferiority(correct_new: int, n_new: int, correct_old: int, n_old: int, margin: float) -> Comparison:
    """Return the test that the new version's accuracy is at most `margin` below the old one's: H0 says it is
    worse by `margin` or more; a small p-value rejects that (statsmodels test_proportions_2indep, one-sided)."""
    result = test_proportions_2indep(correct_new, n_new, correct_old, n_old, value=-margin, alternative="larger")
    return Comparison(correct_new / n_new, correct_old / n_old, float(result.statistic), float(result.pvalue),
                      f"non-inferiority, margin {margin:g}")


def non_inferiority_power(p_new: float, n_new: int, p_old: float, n_old: int, margin: float, alpha: float = ALPHA,
                          sims: int = 20_000, seed: int = 42) -> float:
    """Return the chance that `non_inferiority` shows it for versions of true accuracies p_new and p_old on n_new
    and n_old labels: statsmodels' test run on many simulated label sets at once (it has no closed form for it)."""
    rng = np.random.default_rng(seed)
    new, old = rng.binomial(n_new, p_new, size=sims), rng.binomial(n_old, p_old, size=sims)
    result = test_proportions_2indep(new, n_new, old, n_old, value=-margin, alternative="larger")
    return float(np.mean(np.asarray(result.pvalue) < alpha))


def accuracy_interval(correct: int, n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """Return the Wilson confidence interval of an accuracy measured on n labelled requests."""
    low, high = proportion_confint(correct, n, alpha=alpha, method="wilson")
    return float(low), float(high)


def paired_table(primary_right: np.ndarray, shadow_right: np.ndarray) -> np.ndarray:
    """Return the 2x2 table of paired outcomes: rows primary right/wrong, columns shadow right/wrong."""
    a, b = np.asarray(primary_right, bool), np.asarray(shadow_right, bool)
    return np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]], dtype=np.int64)


def mcnemar_test(table: np.ndarray) -> Comparison:
    """Return McNemar's exact test on a paired table: only the requests where the two models disagree count."""
    result = mcnemar(table, exact=True)
    n = int(table.sum())
    return Comparison(float(table[0].sum() / n), float(table[:, 0].sum() / n), float(result.statistic),
                      float(result.pvalue), "McNemar (exact)")
