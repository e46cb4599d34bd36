"""helpers.monitoring.checks: bad input is refused with a message that names the input and the column."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from helpers.monitoring.checks import chosen_features, require_columns
from helpers.monitoring.drift import ks_table, psi_table
from helpers.monitoring.psi import MonitoringError


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(6)
    return (pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "c"]),
            pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"]))


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda ref, cur: (ref, cur.drop(columns=["b"])), "current is missing column(s): b"),
        (lambda ref, cur: (ref.drop(columns=["c"]), cur), "current has column(s) the reference lacks: c"),
        (lambda ref, cur: (ref, cur.assign(a=np.where(cur.index == 3, np.nan, cur["a"]))),
         "current column a holds 1 missing or infinite value(s), first at row 3"),
        (lambda ref, cur: (ref.assign(c=np.inf), cur), "reference column c holds 50 missing or infinite"),
        (lambda ref, cur: (ref, cur.iloc[:0]), "current has no rows"),
        (lambda ref, cur: (ref.iloc[:0], cur), "reference has no rows"),
        (lambda ref, cur: (ref.assign(b="x"), cur), "reference column b must be numeric"),
        (lambda ref, cur: (ref, cur.assign(a=True)), "current column a must be numeric, found dtype bool"),
        (lambda ref, cur: (ref, cur["a"]), "current must be a pandas DataFrame, got Series"),
    ],
)
def test_bad_frames_raise_a_message_naming_input_and_column(corrupt, message) -> None:
    reference, current = corrupt(*frames())
    for check in (psi_table, ks_table):
        with pytest.raises(MonitoringError, match=re.escape(message)):
            check(reference, current)


def test_explicit_features_must_exist_in_both_frames() -> None:
    reference, current = frames()
    with pytest.raises(MonitoringError, match=r"reference is missing column\(s\): z; current is missing"):
        psi_table(reference, current, features=["a", "z"])
    with pytest.raises(MonitoringError, match="no features to compare"):
        psi_table(reference, current, features=[])


def test_extra_current_columns_are_allowed_only_when_asked() -> None:
    reference, current = frames()
    served = current.assign(day=1, request_id="x")
    assert chosen_features(reference, served, None, current_extras_ok=True) == ["a", "b", "c"]
    assert chosen_features(reference, served, ["b"]) == ["b"]
    with pytest.raises(MonitoringError, match=r"current has column\(s\) the reference lacks: day, request_id"):
        chosen_features(reference, served, None)


def test_require_columns_names_what_is_missing() -> None:
    with pytest.raises(MonitoringError, match=r"daily_metrics is missing column\(s\): p95_ms, day"):
        require_columns(pd.DataFrame({"accuracy": [0.9]}), ["accuracy", "p95_ms", "day"], "daily_metrics")
    with pytest.raises(MonitoringError, match="drift must be a pandas DataFrame, got dict"):
        require_columns({"day": [1]}, ["day"], "drift")
    require_columns(pd.DataFrame({"day": [1]}), ["day"], "drift")  # nothing missing: no error
