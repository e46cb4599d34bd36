"""The one release gate and the one version scheme, shared by the API's /retrain (04) and the registry (05)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from helpers.common.schema import GATE_MARGIN, MIN_ACCURACY


@dataclass(frozen=True)
class GateDecision:
    """Whether a candidate may replace production, the accuracy it had to reach, and why."""

    passed: bool
    floor: float
    reason: str


def release_gate(candidate: float, production: float | None, *, min_accuracy: float = MIN_ACCURACY,
                 margin: float = GATE_MARGIN) -> GateDecision:
    """Return the gate's decision: pass if accuracy >= min_accuracy and >= production accuracy - margin.

    Both accuracies are measured on the same validation rows. The margin is there because a one-row difference
    is noise, not evidence: on 400 rows one row is 0.25 points.
    """
    if math.isnan(candidate):  # nothing was measured
        return GateDecision(False, min_accuracy, "no validation accuracy was recorded")
    # Rounded: 0.85 - 0.02 is 0.8299999999999998 in binary floating point, and a candidate at 0.83 must pass.
    floor = min_accuracy if production is None else round(max(min_accuracy, production - margin), 9)
    versus = ("no production model yet" if production is None
              else f"production {production:.4f} minus margin {margin:.2f}")
    if candidate < floor:
        return GateDecision(False, floor, f"accuracy {candidate:.4f} is below the gate {floor:.4f} "
                                          f"(minimum {min_accuracy:.2f}, {versus})")
    return GateDecision(True, floor, f"accuracy {candidate:.4f} passes the gate {floor:.4f} "
                                     f"(minimum {min_accuracy:.2f}, {versus})")


def next_version(version: str, part: str = "patch") -> str:
    """Return the next semantic version: 'patch' for the same recipe on new data (1.0.0 -> 1.0.1), 'minor', 'major'."""
    major, minor, patch = (int(p) for p in version.lstrip("v").split(".")[:3])
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    if part == "patch":
        return f"{major}.{minor}.{patch + 1}"
    raise ValueError(f"part must be 'major', 'minor' or 'patch', got {part!r}")
