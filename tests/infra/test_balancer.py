"""helpers.infra.balancer: exact round-robin spread, sticky clients, failover with retries, honest failures."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from helpers.infra import balancer

ROW = {"features": [0.0] * 20}


def test_round_robin_spreads_exactly(backends, upstreams) -> None:
    with balancer.Balancer(upstreams, health_interval=None) as lb:
        answers = [lb.post("/predict", ROW) for _ in range(30)]
        table = balancer.replica_table(lb)
    assert [a.replica for a in answers[:4]] == ["r0", "r1", "r2", "r0"]
    assert Counter(a.replica for a in answers) == {"r0": 10, "r1": 10, "r2": 10}
    assert all(a.status == 200 and a.attempts == 1 for a in answers) and answers[0].json() == {"ok": True}
    assert table["answered"].tolist() == [10, 10, 10] and table["in rotation"].all()
    assert table.index.tolist() == ["r0", "r1", "r2"] and (table["last problem"] == "-").all()
    assert [balancer.server_side_count(b.url) for b in backends.values()] == [10, 10, 10]
    assert [balancer.server_side_count(b.url, "/ready") for b in backends.values()] == [7, 7, 7]
    assert (lb.requests, lb.retried, lb.failed) == (30, 0, 0)
    assert repr(lb) == "<Balancer round_robin over r0, r1, r2>"


def test_sticky_clients_stay_home_and_the_id_is_forwarded(backends, upstreams) -> None:
    with balancer.Balancer(upstreams, strategy="sticky", health_interval=None) as lb:
        homes = {}
        for client in [f"client-{i:02d}" for i in range(12)]:
            replicas = {lb.post("/predict", ROW, client_id=client).replica for _ in range(5)}
            assert len(replicas) == 1, f"{client} moved between replicas"
            homes[client] = replicas.pop()
            assert homes[client] == balancer.rendezvous_order(client, ["r0", "r1", "r2"])[0]
    assert len(set(homes.values())) > 1, "twelve clients should not all hash to one replica"
    assert sorted(c for b in backends.values() for c in b.seen) == sorted(c for c in homes for _ in range(5))


def test_sticky_without_a_client_id_falls_back_to_round_robin(upstreams) -> None:
    with balancer.Balancer(upstreams, strategy="sticky", health_interval=None) as lb:
        assert [lb.get("/predict").replica for _ in range(3)] == ["r0", "r1", "r2"]


def test_rendezvous_hashing_moves_only_the_lost_replicas_clients() -> None:
    clients = [f"user-{i}" for i in range(300)]
    before = {c: balancer.rendezvous_order(c, ["r0", "r1", "r2"])[0] for c in clients}
    after = {c: balancer.rendezvous_order(c, ["r0", "r2"])[0] for c in clients}
    moved = [c for c in clients if before[c] != after[c]]
    assert moved and all(before[c] == "r1" for c in moved)
    assert len(moved) == sum(home == "r1" for home in before.values())
    assert 60 < len(moved) < 140, "about a third of the clients lived on r1"
    assert balancer.rendezvous_order("x", ["b", "a"]) == balancer.rendezvous_order("x", ["a", "b"])


def test_a_stopped_replica_is_retried_around_and_taken_out(backends, upstreams) -> None:
    with balancer.Balancer(upstreams, health_interval=None, retry_non_idempotent=True) as lb:
        first = [lb.post("/predict", ROW) for _ in range(3)]
        backends["r1"].stop()
        after = [lb.post("/predict", ROW) for _ in range(6)]
        table = balancer.replica_table(lb)
    assert [a.replica for a in first] == ["r0", "r1", "r2"]
    assert all(a.status == 200 for a in after), "no client request may fail"
    assert [a.replica for a in after] == ["r0", "r2", "r2", "r0", "r2", "r2"], "r1's turns go to the next in the ring"
    assert after[1].tried == ("r1", "r2") and all(a.attempts == 1 for a in after[2:])
    assert (lb.retried, lb.failed) == (1, 0)
    assert not table.loc["r1", "in rotation"]
    assert table.loc["r1", "last problem"] == "request failed: ConnectError"
    assert lb.events == ["r1 out of rotation: request failed: ConnectError"]


def test_a_post_is_not_retried_after_it_may_have_been_delivered_unless_allowed(upstreams, monkeypatch) -> None:
    with balancer.Balancer(upstreams, health_interval=None) as lb:
        def broken(*args, **kwargs):
            raise httpx.ReadTimeout("the replica took too long")

        monkeypatch.setattr(lb.clients["r0"], "request", broken)
        answer = lb.post("/predict", ROW)
        assert (answer.status, answer.replica, answer.tried) == (502, None, ("r0",))
        assert lb.failed == 1 and lb.in_rotation() == ["r1", "r2"]
        # A GET may be retried: it changes nothing on the server.
        lb.replicas[0].healthy = True
        lb.turn = 0
        assert lb.get("/ready").tried == ("r0", "r1")


def test_a_connect_error_is_retried_even_for_a_post(upstreams, monkeypatch) -> None:
    with balancer.Balancer(upstreams, health_interval=None) as lb:
        def refused(*args, **kwargs):
            raise httpx.ConnectError("connection refused")

        monkeypatch.setattr(lb.clients["r0"], "request", refused)
        answer = lb.post("/predict", ROW)
    assert (answer.status, answer.tried) == (200, ("r0", "r1")), "a refused connection never delivered the POST"


def test_429_passes_through_with_retry_after_and_is_not_retried(backends, upstreams) -> None:
    for backend in backends.values():
        backend.status = 429
    with balancer.Balancer(upstreams, health_interval=None) as lb:
        answer = lb.post("/predict", ROW, client_id="greedy")
    assert (answer.status, answer.attempts, answer.headers["retry-after"]) == (429, 1, "1")
    assert backends["r0"].seen == ["greedy"]


def test_503_answers_are_retried_and_no_healthy_replica_is_a_503(backends, upstreams) -> None:
    backends["r0"].status = 503
    with balancer.Balancer(upstreams, health_interval=None) as lb:
        answer = lb.post("/predict", ROW)
        assert (answer.status, answer.replica, answer.tried) == (200, "r1", ("r0", "r1"))
        for replica in lb.replicas:
            replica.healthy = False
        none_left = lb.post("/predict", ROW)
    assert (none_left.status, none_left.replica, none_left.json()) == (503, None, {"detail": "no healthy replica"})
    assert lb.failed == 1


def test_a_503_from_the_last_replica_tried_is_passed_on(backends, upstreams) -> None:
    for backend in backends.values():
        backend.status = 503
    with balancer.Balancer(upstreams, health_interval=None, retries=1) as lb:
        answer = lb.post("/predict", ROW)
    assert (answer.status, answer.replica, answer.tried) == (503, "r1", ("r0", "r1"))


def test_every_replica_down_is_a_502_after_bounded_retries(backends, upstreams) -> None:
    for backend in backends.values():
        backend.stop()
    with balancer.Balancer(upstreams, health_interval=None, retries=1) as lb:
        for replica in lb.replicas:  # start() already probed them: put them back to force real attempts
            replica.healthy = True
        answer = lb.get("/ready")
    assert (answer.status, answer.tried) == (502, ("r0", "r1")), "retries=1: two replicas tried, not three"
    assert answer.json() == {"detail": "every replica tried failed"}


@pytest.mark.parametrize("bad", [{"a": "http://10.0.0.1:8000"}, {"a": "http://example.com"}, {}])
def test_refuses_non_loopback_replicas_and_empty_sets(bad) -> None:
    with pytest.raises(ValueError):
        balancer.Balancer(bad)


def test_refuses_bad_settings_and_paths(upstreams) -> None:
    with pytest.raises(ValueError, match="strategy"):
        balancer.Balancer(upstreams, strategy="random")
    with pytest.raises(ValueError, match="retries"):
        balancer.Balancer(upstreams, retries=-1)
    with balancer.Balancer(upstreams, health_interval=None) as lb, pytest.raises(ValueError):
        lb.get("http://example.com/")


def test_server_side_count_refuses_non_loopback() -> None:
    with pytest.raises(ValueError):
        balancer.server_side_count("http://example.com")
