"""helpers.common.schema and helpers.common.release: the contract's constants and the one release gate."""

from __future__ import annotations

import math

import pytest

from helpers.common import release, schema


def test_the_contract_constants_agree() -> None:
    assert [f"feature_{i}" for i in range(schema.N_FEATURES)] == schema.FEATURES and schema.N_FEATURES == 20
    assert schema.SEED == 42 and schema.CLASSES == (0, 1)
    assert 0 < schema.GATE_MARGIN < 0.1 and 0.5 < schema.MIN_ACCURACY < 1


@pytest.mark.parametrize(("candidate", "production", "passed"), [
    (0.85, None, True),  # the first release only needs the floor
    (0.79, None, False),  # below the floor
    (0.84, 0.85, True),  # one point worse: within the margin, noise
    (0.82, 0.85, False),  # three points worse: beyond the margin
    (0.83, 0.85, True),  # exactly at the margin passes
    (0.81, 0.80, True),  # better, and the floor holds
    (0.795, 0.80, False),  # within the margin but below the floor
    (math.nan, 0.85, False),  # nothing measured
])
def test_release_gate(candidate: float, production: float | None, passed: bool) -> None:
    decision = release.release_gate(candidate, production)
    assert decision.passed is passed
    expected_floor = schema.MIN_ACCURACY if production is None else max(schema.MIN_ACCURACY,
                                                                          production - schema.GATE_MARGIN)
    if not math.isnan(candidate):
        assert decision.floor == pytest.approx(expected_floor)
        assert ("passes" in decision.reason) is passed


def test_release_gate_explains_itself() -> None:
    refused = release.release_gate(0.5533, 0.8517)
    assert refused.reason == ("accuracy 0.5533 is below the gate 0.8317 (minimum 0.80, production 0.8517 minus "
                              "margin 0.02)")


@pytest.mark.parametrize(("version", "part", "expected"), [
    ("1.0.0", "patch", "1.0.1"), ("v1.0.9", "patch", "1.0.10"),
    ("1.2.3", "minor", "1.3.0"), ("1.2.3", "major", "2.0.0"),
])
def test_next_version(version: str, part: str, expected: str) -> None:
    assert release.next_version(version, part) == expected


def test_next_version_refuses_an_unknown_part() -> None:
    with pytest.raises(ValueError, match="'major', 'minor' or 'patch'"):
        release.next_version("1.0.0", "build")
