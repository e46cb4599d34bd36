"""helpers.infra.health: the first probe decides; `fall` failures take a replica out, `rise` successes bring it back."""

from __future__ import annotations

import threading
import time

import pytest

from helpers.infra import balancer, health


def checks(upstreams: dict[str, str], **options) -> tuple[health.HealthChecks, list[str]]:
    """Return health checks over the fake replicas (no thread unless asked) and the list their events go to."""
    events: list[str] = []
    replicas = [health.Replica(name, url) for name, url in upstreams.items()]
    options.setdefault("interval", None)
    return health.HealthChecks(replicas, threading.Lock(), events.append, **options), events


def test_health_checks_take_a_replica_out_and_bring_it_back(backends, upstreams) -> None:
    probes, events = checks(upstreams, fall=2, rise=2)
    probes.start()
    backends["r2"].ready = False
    assert probes.check()["r2"] is True, "one failed probe is not enough (fall=2)"
    assert probes.check() == {"r0": True, "r1": True, "r2": False}
    backends["r2"].ready = True
    assert probes.check()["r2"] is False, "one good probe is not enough (rise=2)"
    assert probes.check()["r2"] is True
    probes.close()
    assert events == ["r2 out of rotation: health check answered non-200",
                      "r2 back in rotation: health checks pass again"]
    assert probes.replicas[2].last_error == "health check answered non-200"


def test_the_balancer_routes_only_to_replicas_in_rotation(backends, upstreams) -> None:
    with balancer.Balancer(upstreams, health_interval=None, fall=1, rise=1) as lb:
        backends["r2"].ready = False
        assert lb.check_health()["r2"] is False
        assert {lb.post("/predict", {}).replica for _ in range(6)} == {"r0", "r1"}
        backends["r2"].ready = True
        lb.check_health()
        assert lb.in_rotation() == ["r0", "r1", "r2"]


def test_the_background_thread_notices_a_dead_replica_and_stops(backends, upstreams) -> None:
    lb = balancer.Balancer(upstreams, health_interval=0.02, fall=1).start()
    backends["r0"].stop()
    deadline = time.monotonic() + 3
    while "r0" in lb.in_rotation() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lb.in_rotation() == ["r1", "r2"]
    assert balancer.replica_table(lb).loc["r0", "last problem"] == "health check: ConnectError"
    lb.close()
    lb.close()  # idempotent
    assert not lb.health.thread.is_alive()


def test_a_replica_that_is_down_at_start_is_never_sent_traffic(backends, upstreams) -> None:
    backends["r1"].stop()
    with balancer.Balancer(upstreams, health_interval=None, fall=3) as lb:
        assert lb.in_rotation() == ["r0", "r2"], "the first probe decides, whatever `fall` says"
        answers = [lb.post("/predict", {}) for _ in range(4)]
    assert all(a.attempts == 1 and a.status == 200 for a in answers) and lb.retried == 0


def test_fall_and_rise_must_be_positive(upstreams) -> None:
    for bad in ({"fall": 0}, {"rise": 0}):
        with pytest.raises(ValueError):
            checks(upstreams, **bad)
