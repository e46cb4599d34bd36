"""Drift detection: PSI per feature with its thresholds, KS tests with a multiple-testing correction, day by day."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.monitoring.checks import chosen_features
from helpers.monitoring.psi import MonitoringError, ReferenceBins, psi

PSI_WARNING = 0.1
"""PSI at or above this is a moderate shift: status "Warning"."""
PSI_ALERT = 0.25
"""PSI at or above this is a major shift: status "Alert"."""
STATUSES = ("Normal", "Warning", "Alert")


def psi_table(
    reference: pd.DataFrame, current: pd.DataFrame, features: list[str] | None = None, bins: int = 10
) -> pd.Series:
    """Return the PSI of every feature (a Series indexed by feature name)."""
    chosen = chosen_features(reference, current, features)
    values = [psi(reference[f].to_numpy(), current[f].to_numpy(), bins) for f in chosen]
    return pd.Series(values, index=pd.Index(chosen, name="feature"), name="psi")


def drift_status(psi_value: float) -> str:
    """Return "Normal" (PSI < 0.1), "Warning" (0.1 <= PSI < 0.25) or "Alert" (PSI >= 0.25)."""
    if not np.isfinite(psi_value) or psi_value < 0:
        raise MonitoringError(f"a PSI is a finite number >= 0, got {psi_value}")
    if psi_value >= PSI_ALERT:
        return "Alert"
    if psi_value >= PSI_WARNING:
        return "Warning"
    return "Normal"


CORRECTIONS: dict[str, str] = {"none": "", "bonferroni": "bonferroni", "holm": "holm", "bh": "fdr_bh"}
"""The multiple-testing corrections on offer, and statsmodels' name for each."""


def adjust_pvalues(p_values: np.ndarray, correction: str = "bonferroni") -> np.ndarray:
    """Return p-values adjusted for testing several features at once ("none", "bonferroni", "holm" or "bh").

    Bonferroni multiplies each p-value by the number of tests (capped at 1); Holm multiplies the k-th smallest by
    (tests - k + 1) and keeps the running maximum; Benjamini-Hochberg ("bh") controls the false discovery rate
    instead of the family-wise error rate. Computed by statsmodels' `multipletests`, except Holm: statsmodels runs
    a full garbage collection on every Holm call (a tenth of a second or more in a busy notebook), so Holm's three
    lines are here, and the tests check them against statsmodels.
    """
    if correction not in CORRECTIONS:
        raise MonitoringError(f"correction must be one of {', '.join(CORRECTIONS)}; got {correction!r}")
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or not np.all((p >= 0) & (p <= 1)):  # NaN fails both comparisons
        raise MonitoringError(f"p-values must be a 1-D sequence of numbers in [0, 1], got {p_values!r}")
    if correction == "none":
        return p.copy()
    if correction == "holm":
        order = np.argsort(p, kind="stable")
        adjusted = np.empty_like(p)
        adjusted[order] = np.minimum(np.maximum.accumulate(p[order] * (p.size - np.arange(p.size))), 1.0)
        return adjusted
    from statsmodels.stats.multitest import multipletests  # here, not at the top: the API server needs none of it

    return multipletests(p, method=CORRECTIONS[correction])[1]


def ks_table(
    reference_df: pd.DataFrame,
    current_df: pd.DataFrame,
    features: list[str] | None = None,
    alpha: float = 0.05,
    correction: str = "bonferroni",
) -> pd.DataFrame:
    """Return per-feature two-sample KS results: statistic, p_value, p_adjusted and drifted (p_adjusted < alpha)."""
    if correction not in CORRECTIONS:
        raise MonitoringError(f"correction must be one of {', '.join(CORRECTIONS)}; got {correction!r}")
    if not 0 < alpha < 1:
        raise MonitoringError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    chosen = chosen_features(reference_df, current_df, features)
    from scipy import stats

    # One call for all features (column by column, the same numbers as one ks_2samp per feature, twice as fast).
    result = stats.ks_2samp(reference_df[chosen].to_numpy(dtype=np.float64),
                            current_df[chosen].to_numpy(dtype=np.float64), axis=0)
    table = pd.DataFrame(
        {"statistic": np.atleast_1d(result.statistic).astype(np.float64),
         "p_value": np.atleast_1d(result.pvalue).astype(np.float64)},
        index=pd.Index(chosen, name="feature"),
    )
    table["p_adjusted"] = adjust_pvalues(table["p_value"].to_numpy(), correction)
    table["drifted"] = table["p_adjusted"] < alpha
    return table


# --------------------------------------------------------------------------------------------------------------
# Drift over a week
# --------------------------------------------------------------------------------------------------------------


def daily_drift(
    reference_df: pd.DataFrame,
    traffic_df: pd.DataFrame,
    day_col: str = "day",
    features: list[str] | None = None,
    alpha: float = 0.05,
    correction: str = "bonferroni",
) -> pd.DataFrame:
    """Return one row per (day, feature): rows, psi, status, ks_statistic, p_value, p_adjusted, ks_drifted."""
    if not isinstance(traffic_df, pd.DataFrame) or day_col not in traffic_df.columns:
        raise MonitoringError(f"traffic is missing the day column {day_col!r}")
    chosen = chosen_features(reference_df, traffic_df, features, current_extras_ok=True)
    if day_col in chosen:
        chosen.remove(day_col)
    fitted = {f: ReferenceBins.fit(reference_df[f].to_numpy()) for f in chosen}
    parts = []
    for day, batch in traffic_df.groupby(day_col, sort=True):
        ks = ks_table(reference_df, batch, chosen, alpha=alpha, correction=correction)
        psis = [fitted[f].psi(batch[f].to_numpy()) for f in chosen]
        parts.append(
            pd.DataFrame(
                {
                    day_col: day,
                    "feature": chosen,
                    "rows": len(batch),
                    "psi": psis,
                    "status": [drift_status(v) for v in psis],
                    "ks_statistic": ks["statistic"].to_numpy(),
                    "p_value": ks["p_value"].to_numpy(),
                    "p_adjusted": ks["p_adjusted"].to_numpy(),
                    "ks_drifted": ks["drifted"].to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)

