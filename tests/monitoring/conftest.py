"""The course's week built in memory from the generator: data, drift schedule, the drifted and the control week."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import data
from helpers.common.schema import FEATURES, TARGET
from helpers.monitoring import drift, simulation

EXTRA_ROWS = 1_000
"""Backlog rows in the production model's recipe (v1.0.1: Recipe(extra_rows=1000))."""


@pytest.fixture(scope="session")
def course_data() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Return (reference, live traffic, reference labels): v1.0.1's training rows (the split's training rows plus
    1,000 backlog rows, as its recipe says) and the pool's traffic rows, which no model ever trained on."""
    dataset, pool = data.generate()
    split = data.split_dataset(dataset)
    extra = data.backlog(pool).iloc[:EXTRA_ROWS]
    reference = pd.DataFrame(np.vstack([split.X_train, extra[FEATURES].to_numpy()]), columns=FEATURES)
    labels = pd.Series(np.concatenate([split.y_train, extra[TARGET].to_numpy()]), name=TARGET)
    return reference, data.traffic(pool), labels


@pytest.fixture(scope="session")
def schedule() -> list[simulation.DriftSpec]:
    return simulation.default_drift_schedule(data.feature_roles())


@pytest.fixture(scope="session")
def weeks(course_data, schedule) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (the drifted week, the control week: the same rows at the same minutes without drift)."""
    _, traffic, _ = course_data
    return simulation.simulate_week(traffic, schedule), simulation.simulate_week(traffic, [])


@pytest.fixture(scope="session")
def week_drift(course_data, weeks) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return daily_drift of the drifted and of the control week against the reference."""
    reference, _, _ = course_data
    drifted, control = weeks
    return (drift.daily_drift(reference, drifted, features=FEATURES),
            drift.daily_drift(reference, control, features=FEATURES))
