"""helpers.rollouts.router: the header wins, then a seeded draw per request id sends `weight` percent to the canary;
the same id always gets the same version, and a larger weight only adds requests to the canary."""

from __future__ import annotations

import pytest

from helpers.rollouts.router import Route, draw

IDS = [f"id-{i}" for i in range(20_000)]


def test_the_draw_is_fixed_by_seed_and_id_and_lies_in_the_unit_interval() -> None:
    assert draw(42, "abc") == draw(42, "abc") != draw(43, "abc")
    assert draw(42, "abc") == pytest.approx(0.781179909315, abs=1e-12), "the hash is part of the contract"
    values = [draw(7, i) for i in IDS]
    assert min(values) >= 0 and max(values) < 1
    assert abs(sum(values) / len(values) - 0.5) < 0.01


@pytest.mark.parametrize("weight", [0, 10, 25, 50, 100])
def test_the_canary_gets_its_weight_of_requests(weight: int) -> None:
    route = Route("1.0.0", "1.0.1", weight)
    share = sum(route.choose(i) == "1.0.1" for i in IDS) / len(IDS)
    assert abs(share - weight / 100) < 0.01


def test_the_header_forces_a_version_before_any_weight() -> None:
    route = Route("1.0.0", "1.0.1", 0)
    assert route.choose("x", "always") == "1.0.1" and route.choose("x", " Always ") == "1.0.1"
    assert Route("1.0.0", "1.0.1", 100).choose("x", "never") == "1.0.0"
    assert route.choose("x", "sometimes") == "1.0.0", "other values fall back to the weight"
    assert Route("1.0.0").choose("x", "always") == "1.0.0", "without a canary there is nothing to force"


def test_a_larger_weight_only_adds_requests_to_the_canary() -> None:
    chosen = {w: {i for i in IDS if Route("a", "b", w).choose(i) == "b"} for w in (10, 25, 50)}
    assert chosen[10] <= chosen[25] <= chosen[50]


def test_invalid_routes_are_refused_and_promotion_and_rollback_swap_versions() -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        Route("a", "b", 120)
    with pytest.raises(ValueError, match="needs a canary"):
        Route("a", None, 10)
    route = Route("a", "b", 25, shadow="c", seed=3)
    assert route.promoted() == Route("b", None, 0, shadow="c", seed=3)
    assert route.rolled_back() == Route("a", None, 0, shadow="c", seed=3)
    assert route.versions() == ["a", "b", "c"] and Route("a", shadow="a").versions() == ["a"]
    with pytest.raises(ValueError, match="no canary"):
        Route("a").promoted()
    assert route.as_dict() == {"stable": "a", "canary": "b", "weight": 25, "shadow": "c", "seed": 3}
