"""Input checks shared by the monitoring functions: every refusal names the input and the column."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.monitoring.psi import MonitoringError


def check_frame(df: pd.DataFrame, features: list[str], name: str) -> None:
    """Raise MonitoringError unless `df` is a non-empty frame with finite numeric `features`."""
    if not isinstance(df, pd.DataFrame):
        raise MonitoringError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    if df.empty:
        raise MonitoringError(f"{name} has no rows")
    for col in features:
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            raise MonitoringError(f"{name} column {col} must be numeric, found dtype {df[col].dtype}")
        bad = ~np.isfinite(df[col].to_numpy(dtype=np.float64))
        if bad.any():
            raise MonitoringError(
                f"{name} column {col} holds {int(bad.sum())} missing or infinite value(s), "
                f"first at row {df.index[np.flatnonzero(bad)[0]]}"
            )


def chosen_features(
    reference: pd.DataFrame, current: pd.DataFrame, features: Sequence[str] | None, current_extras_ok: bool = False
) -> list[str]:
    """Return the feature list to compare, raising MonitoringError that names missing or unexpected columns."""
    for df, name in ((reference, "reference"), (current, "current")):
        if not isinstance(df, pd.DataFrame):
            raise MonitoringError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    if features is None:
        chosen = [str(c) for c in reference.columns]
        extra = [str(c) for c in current.columns if c not in reference.columns]
        if extra and not current_extras_ok:
            raise MonitoringError(
                f"current has column(s) the reference lacks: {', '.join(extra)} "
                "(pass features=[...] to compare a subset)"
            )
    else:
        chosen = list(features)
    if not chosen:
        raise MonitoringError("no features to compare")
    problems = []
    for df, name in ((reference, "reference"), (current, "current")):
        missing = [f for f in chosen if f not in df.columns]
        if missing:
            problems.append(f"{name} is missing column(s): {', '.join(missing)}")
    if problems:
        raise MonitoringError("; ".join(problems))
    check_frame(reference, chosen, "reference")
    check_frame(current, chosen, "current")
    return chosen


def require_columns(df: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise MonitoringError naming the columns `df` lacks."""
    if not isinstance(df, pd.DataFrame):
        raise MonitoringError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MonitoringError(f"{name} is missing column(s): {', '.join(missing)}")

