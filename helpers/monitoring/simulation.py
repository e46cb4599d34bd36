"""The simulated production week: pool rows at realistic hours, with a documented drift schedule injected."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from helpers.data import FeatureRoles
from helpers.monitoring.psi import MonitoringError

WEEK_START = datetime(2026, 3, 2)
"""Monday 00:00 of the simulated week (the simulated clock, not the machine's)."""
DAILY_VOLUMES: tuple[int, ...] = (700, 750, 800, 850, 900, 950, 1000)
"""Requests per day, Monday to Sunday: traffic grows by 50 a day, 5,950 in all (the pool's live traffic holds 6,200)."""

# Relative traffic in each hour of the day, 00h to 23h: quiet nights, a working-day plateau, an early-evening peak.
HOURLY_PROFILE: tuple[float, ...] = (
    2, 1, 1, 1, 1, 2,  # 00-05h: night
    3, 5, 7, 8, 8, 9,  # 06-11h: morning ramp
    9, 8, 8, 8, 9, 11,  # 12-17h: afternoon
    14, 14, 10, 7, 5, 3,  # 18-23h: evening peak, then wind-down
)  # fmt: skip


def hourly_weights() -> np.ndarray:
    """Return 24 probabilities (summing to 1) that a request arrives in each hour of the day."""
    profile = np.asarray(HOURLY_PROFILE, dtype=np.float64)
    return profile / profile.sum()


@dataclass(frozen=True)
class DriftSpec:
    """A shift injected into one feature, in units of that feature's standard deviation in the pool.

    From `start_day` on, the size is `jump + per_day * (days since start_day + 1)`:
    `jump` alone is a sudden shift, `per_day` alone a gradual one. `kind="mean"` adds size x sd to every
    value; `kind="scale"` stretches values around the mean so the spread becomes (1 + size) x sd.
    """

    feature: str
    kind: str = "mean"
    start_day: int = 1
    per_day: float = 0.0
    jump: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("mean", "scale"):
            raise MonitoringError(f"DriftSpec kind must be 'mean' or 'scale', got {self.kind!r}")
        if self.start_day < 1:
            raise MonitoringError(f"DriftSpec start_day counts from 1, got {self.start_day}")

    def size(self, day: int) -> float:
        """Return the shift on `day` (1-based), in standard deviations; 0 before start_day."""
        if day < self.start_day:
            return 0.0
        return self.jump + self.per_day * (day - self.start_day + 1)

    def apply(self, values: np.ndarray, day: int, mean: float, sd: float) -> np.ndarray:
        """Return `values` as they look on `day` once this drift is applied."""
        size = self.size(day)
        if size == 0:
            return values.copy()
        if self.kind == "mean":
            return values + size * sd
        return mean + (values - mean) * (1.0 + size)


def default_drift_schedule(roles: FeatureRoles) -> list[DriftSpec]:
    """Return the course's week: a gradual and a sudden shift in informative features, a shift in a noise feature."""
    return [
        # Gradual: +0.08 sd a day from Tuesday: 0.32 sd on Friday, 0.48 sd by Sunday. For a Gaussian a mean shift of
        # delta sd has PSI delta^2 (0.10 on Friday, 0.23 on Sunday; deciles read 0.10 and 0.22): Warning, not Alert.
        DriftSpec(roles.informative[1], kind="mean", start_day=2, per_day=0.08),
        # Sudden: +1.5 sd from Friday (PSI delta^2 = 2.25; deciles read 1.99: Alert) in an informative feature:
        # accuracy falls with it.
        DriftSpec(roles.informative[0], kind="mean", start_day=5, jump=1.5),
        # Noise: the spread doubles from Wednesday, a variance ratio r = 4: PSI (r + 1/r)/2 - 1 = 1.125, of which
        # deciles read 0.49 (they under-read a change of spread): Alert. The model barely uses it: accuracy holds.
        DriftSpec(roles.noise[0], kind="scale", start_day=3, jump=1.0),
    ]


def simulate_week(
    pool: pd.DataFrame,
    schedule: list[DriftSpec],
    volumes: Sequence[int] = DAILY_VOLUMES,
    seed: int = 42,
    start: datetime = WEEK_START,
) -> pd.DataFrame:
    """Return a week of simulated traffic: pool rows drawn without replacement, timestamped, with drift applied.

    Columns: timestamp (minute resolution, sorted), day (1..7), hour (0..23), pool_row (position in `pool`),
    then the pool's columns; `target` is the ground truth that arrives later. The random draws (rows, hours,
    minutes) do not depend on `schedule`, so `simulate_week(pool, [])` is the same week, row for row and
    minute for minute, without the drift: a paired control.
    """
    if not isinstance(pool, pd.DataFrame) or pool.empty:
        raise MonitoringError("the production pool must be a non-empty DataFrame")
    volumes = [int(v) for v in volumes]
    if not volumes or min(volumes) < 1:
        raise MonitoringError(f"every daily volume must be a positive count, got {volumes}")
    if sum(volumes) > len(pool):
        raise MonitoringError(f"the week needs {sum(volumes)} rows but the pool holds only {len(pool)}")
    missing = sorted({spec.feature for spec in schedule} - set(pool.columns))
    if missing:
        raise MonitoringError(f"the drift schedule names column(s) the pool lacks: {', '.join(missing)}")

    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(pool))[: sum(volumes)]
    day = np.repeat(np.arange(1, len(volumes) + 1), volumes)
    hour = rng.choice(24, size=len(rows), p=hourly_weights())
    minute = rng.integers(0, 60, size=len(rows))
    timestamp = pd.Timestamp(start) + pd.to_timedelta((day - 1) * 1440 + hour * 60 + minute, unit="min")

    week = pool.iloc[rows].reset_index(drop=True)
    week.insert(0, "pool_row", rows)
    week.insert(0, "hour", hour)
    week.insert(0, "day", day)
    week.insert(0, "timestamp", timestamp)

    for spec in schedule:
        values = pool[spec.feature].to_numpy(dtype=np.float64)
        mean, sd = float(values.mean()), float(values.std())
        shifted = week[spec.feature].to_numpy(dtype=np.float64).copy()
        for d in range(1, len(volumes) + 1):
            on_day = day == d
            shifted[on_day] = spec.apply(shifted[on_day], d, mean, sd)
        week[spec.feature] = shifted

    return week.sort_values(["day", "timestamp"], kind="stable").reset_index(drop=True)

