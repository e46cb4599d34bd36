"""helpers.balancer: exact round-robin spread, sticky clients, health checks, retries, honest failures."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import balancer


class Backend:
    """A tiny HTTP/1.0 replica in a thread (one connection per request, so a stopped one refuses at once).

    /ready answers 200 or 503 as `ready` says; /predict answers `status` (200 by default) and records the
    X-Client-Id it saw; /metrics answers a Prometheus counter of the /predict answers.
    """

    def __init__(self) -> None:
        self.ready, self.status, self.seen, self.predictions = True, 200, [], 0
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                headers = {}
                if self.path == "/ready":
                    status, body = (200 if backend.ready else 503), {"ready": backend.ready}
                elif self.path == "/metrics":
                    status = 200
                    text = (f'http_requests_total{{endpoint="/predict",method="POST",status="200"}} '
                            f'{backend.predictions}.0\nhttp_requests_total{{endpoint="/ready",method="GET",'
                            f'status="200"}} 7.0\n')
                    self._send(status, text.encode(), {"Content-Type": "text/plain"})
                    return
                else:
                    backend.seen.append(self.headers.get("X-Client-Id"))
                    status, body = backend.status, {"ok": backend.status == 200}
                    if status == 429:
                        headers["Retry-After"] = "1"
                    if status == 200:
                        backend.predictions += 1
                self._send(status, json.dumps(body).encode(), {"Content-Type": "application/json", **headers})

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=5)


@pytest.fixture
def backends() -> Iterator[dict[str, Backend]]:
    started = {name: Backend() for name in ("r0", "r1", "r2")}
    try:
        yield started
    finally:
        for backend in started.values():
            backend.stop()


def urls(backends: dict[str, Backend]) -> dict[str, str]:
    return {name: backend.url for name, backend in backends.items()}


ROW = {"features": [0.0] * 20}


def test_round_robin_spreads_exactly(backends) -> None:
    with balancer.Balancer(urls(backends), health_interval=None) as lb:
        answers = [lb.post("/predict", ROW) for _ in range(30)]
        table = lb.table()
    assert [a.replica for a in answers[:4]] == ["r0", "r1", "r2", "r0"]
    assert Counter(a.replica for a in answers) == {"r0": 10, "r1": 10, "r2": 10}
    assert all(a.status == 200 and a.attempts == 1 for a in answers) and answers[0].json() == {"ok": True}
    assert table["answered"].tolist() == [10, 10, 10] and table["in rotation"].all()
    assert [balancer.server_side_count(b.url) for b in backends.values()] == [10, 10, 10]
    assert (lb.requests, lb.retried, lb.failed) == (30, 0, 0)


def test_sticky_clients_stay_home_and_the_id_is_forwarded(backends) -> None:
    with balancer.Balancer(urls(backends), strategy="sticky", health_interval=None) as lb:
        homes = {}
        for client in [f"client-{i:02d}" for i in range(12)]:
            replicas = {lb.post("/predict", ROW, client_id=client).replica for _ in range(5)}
            assert len(replicas) == 1, f"{client} moved between replicas"
            homes[client] = replicas.pop()
            assert homes[client] == balancer.rendezvous_order(client, ["r0", "r1", "r2"])[0]
    assert len(set(homes.values())) > 1, "twelve clients should not all hash to one replica"
    assert sorted(c for b in backends.values() for c in b.seen) == sorted(c for c in homes for _ in range(5))


def test_rendezvous_hashing_moves_only_the_lost_replicas_clients() -> None:
    clients = [f"user-{i}" for i in range(300)]
    before = {c: balancer.rendezvous_order(c, ["r0", "r1", "r2"])[0] for c in clients}
    after = {c: balancer.rendezvous_order(c, ["r0", "r2"])[0] for c in clients}
    moved = [c for c in clients if before[c] != after[c]]
    assert moved and all(before[c] == "r1" for c in moved)
    assert len(moved) == sum(home == "r1" for home in before.values())
    assert 60 < len(moved) < 140, "about a third of the clients lived on r1"
    assert balancer.rendezvous_order("x", ["b", "a"]) == balancer.rendezvous_order("x", ["a", "b"])


def test_a_stopped_replica_is_retried_around_and_taken_out(backends) -> None:
    with balancer.Balancer(urls(backends), health_interval=None, retry_non_idempotent=True) as lb:
        first = [lb.post("/predict", ROW) for _ in range(3)]
        backends["r1"].stop()
        after = [lb.post("/predict", ROW) for _ in range(6)]
        table = lb.table()
    assert [a.replica for a in first] == ["r0", "r1", "r2"]
    assert all(a.status == 200 for a in after), "no client request may fail"
    assert [a.replica for a in after] == ["r0", "r2", "r2", "r0", "r2", "r2"], "r1's turns go to the next in the ring"
    assert after[1].tried == ("r1", "r2") and all(a.attempts == 1 for a in after[2:])
    assert (lb.retried, lb.failed) == (1, 0)
    assert table.loc["r1", "in rotation"] == False  # noqa: E712 - a numpy bool
    assert table.loc["r1", "last problem"] == "request failed: ConnectError"
    assert lb.events == ["r1 out of rotation: request failed: ConnectError"]


def test_health_checks_take_a_replica_out_and_bring_it_back(backends) -> None:
    with balancer.Balancer(urls(backends), health_interval=None, fall=2, rise=2) as lb:
        backends["r2"].ready = False
        assert lb.check_health()["r2"] is True, "one failed probe is not enough (fall=2)"
        assert lb.check_health()["r2"] is False
        assert {lb.post("/predict", ROW).replica for _ in range(6)} == {"r0", "r1"}
        backends["r2"].ready = True
        assert lb.check_health()["r2"] is False, "one good probe is not enough (rise=2)"
        assert lb.check_health()["r2"] is True
        assert lb.in_rotation() == ["r0", "r1", "r2"]
    assert lb.events == ["r2 out of rotation: health check answered non-200",
                         "r2 back in rotation: health checks pass again"]


def test_the_background_health_thread_notices_a_dead_replica_and_stops(backends) -> None:
    lb = balancer.Balancer(urls(backends), health_interval=0.02, fall=1).start()
    backends["r0"].stop()
    deadline = time.monotonic() + 3
    while "r0" in lb.in_rotation() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lb.in_rotation() == ["r1", "r2"]
    assert lb.table().loc["r0", "last problem"] == "health check: ConnectError"
    lb.close()
    lb.close()  # idempotent
    assert not lb._thread.is_alive()


def test_a_post_is_not_retried_after_it_may_have_been_delivered_unless_allowed(backends, monkeypatch) -> None:
    import httpx

    with balancer.Balancer(urls(backends), health_interval=None) as lb:
        def broken(*args, **kwargs):
            raise httpx.ReadTimeout("the replica took too long")

        monkeypatch.setattr(lb._clients["r0"], "request", broken)
        answer = lb.post("/predict", ROW)
        assert (answer.status, answer.replica, answer.tried) == (502, None, ("r0",))
        assert lb.failed == 1
        # A GET may be retried: it changes nothing on the server.
        lb.replicas[0].healthy = True
        lb._next = 0
        assert lb.get("/ready").replica == "r1"


def test_429_passes_through_with_retry_after_and_is_not_retried(backends) -> None:
    for backend in backends.values():
        backend.status = 429
    with balancer.Balancer(urls(backends), health_interval=None) as lb:
        answer = lb.post("/predict", ROW, client_id="greedy")
    assert (answer.status, answer.attempts, answer.headers["retry-after"]) == (429, 1, "1")


def test_503_answers_are_retried_and_no_healthy_replica_is_a_503(backends) -> None:
    backends["r0"].status = 503
    with balancer.Balancer(urls(backends), health_interval=None) as lb:
        answer = lb.post("/predict", ROW)
        assert (answer.status, answer.replica, answer.tried) == (200, "r1", ("r0", "r1"))
        for replica in lb.replicas:
            replica.healthy = False
        none_left = lb.post("/predict", ROW)
    assert (none_left.status, none_left.replica, none_left.json()) == (503, None, {"detail": "no healthy replica"})
    assert lb.failed == 1


def test_every_replica_down_is_a_502_after_bounded_retries(backends) -> None:
    for backend in backends.values():
        backend.stop()
    with balancer.Balancer(urls(backends), health_interval=None, retries=1) as lb:
        for replica in lb.replicas:  # start() already probed them: put them back to force real attempts
            replica.healthy = True
        answer = lb.get("/ready")
    assert (answer.status, answer.tried) == (502, ("r0", "r1")), "retries=1: two replicas tried, not three"


@pytest.mark.parametrize("bad", [{"a": "http://10.0.0.1:8000"}, {"a": "http://example.com"}, {}])
def test_refuses_non_loopback_replicas_and_empty_sets(bad) -> None:
    with pytest.raises(ValueError):
        balancer.Balancer(bad)


def test_refuses_bad_settings_and_paths(backends) -> None:
    with pytest.raises(ValueError, match="strategy"):
        balancer.Balancer(urls(backends), strategy="random")
    with pytest.raises(ValueError):
        balancer.Balancer(urls(backends), fall=0)
    with balancer.Balancer(urls(backends), health_interval=None) as lb, pytest.raises(ValueError):
        lb.get("http://example.com/")


def test_a_replica_that_is_down_at_start_is_never_sent_traffic(backends) -> None:
    backends["r1"].stop()
    with balancer.Balancer(urls(backends), health_interval=None, fall=3) as lb:
        assert lb.in_rotation() == ["r0", "r2"], "the first probe decides, whatever `fall` says"
        answers = [lb.post("/predict", ROW) for _ in range(4)]
    assert all(a.attempts == 1 and a.status == 200 for a in answers) and lb.retried == 0
