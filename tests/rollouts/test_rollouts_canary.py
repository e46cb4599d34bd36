"""helpers.rollouts.canary: latency quantiles as Prometheus computes them, the server's metrics read per version,
each check failing on its own limit, and (live) a good candidate promoted and a broken one rolled back."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil

import httpx
import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from helpers.api.repository import ModelMetrics
from helpers.common.schema import FEATURES, TARGET
from helpers.packaging import METADATA_FILE
from helpers.rollouts import bundles, canary

SETTINGS = canary.CanarySettings()
BUCKETS = ((0.001, 50.0), (0.002, 90.0), (0.005, 100.0), (math.inf, 100.0))


def test_quantiles_interpolate_within_a_bucket_like_histogram_quantile() -> None:
    traffic = canary.VersionTraffic(100, 0, BUCKETS)
    assert traffic.quantile(0.95) == pytest.approx(0.002 + 0.003 * 5 / 10)
    assert traffic.quantile(0.5) == pytest.approx(0.001)
    assert traffic.quantile(0.25) == pytest.approx(0.0005), "the first bucket starts at 0"
    slow = canary.VersionTraffic(10, 0, ((0.001, 0.0), (math.inf, 10.0)))
    assert slow.quantile(0.95) == 0.001, "beyond the last finite bound: that bound, as Prometheus answers"
    assert math.isnan(canary.VersionTraffic(0, 0, ()).quantile(0.95))


def test_traffic_between_two_scrapes() -> None:
    before = {"1.0.0": canary.VersionTraffic(10, 1, ((0.001, 8.0), (math.inf, 10.0)))}
    after = {"1.0.0": canary.VersionTraffic(30, 1, ((0.001, 20.0), (math.inf, 30.0))),
             "1.0.1": canary.VersionTraffic(5, 0, ((0.001, 5.0), (math.inf, 5.0)))}
    between = canary.traffic_between(after, before)
    assert between["1.0.0"] == canary.VersionTraffic(20, 0, ((0.001, 12.0), (math.inf, 20.0)))
    assert between["1.0.1"].requests == 5
    assert canary.traffic_between(before, before) == {}, "versions without new requests are left out"


def metrics_client(registry: CollectorRegistry, routes: list | None = None) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        if routes is not None:
            routes.append((request.method, request.url.path, dict(request.headers), request.content))
        if request.url.path == "/metrics":
            return httpx.Response(200, text=generate_latest(registry).decode())
        return httpx.Response(200, json={"stable": "x"})

    return httpx.Client(transport=httpx.MockTransport(handler), base_url="http://127.0.0.1:1")


def test_scrape_reads_requests_errors_and_buckets_per_version_of_one_model() -> None:
    registry = CollectorRegistry()
    m = ModelMetrics(registry)
    for code, seconds in ((200, 0.0004), (200, 0.0015), (500, 0.03)):
        m.observe("clf", "1.0.1", code, seconds, [1])
    m.observe("other", "1.0.1", 200, 0.0004, [0])
    traffic = canary.scrape(metrics_client(registry), "clf")
    assert list(traffic) == ["1.0.1"]
    seen = traffic["1.0.1"]
    assert (seen.requests, seen.errors) == (3, 1)
    assert dict(seen.buckets)[0.0005] == 1 and dict(seen.buckets)[0.002] == 2 and seen.buckets[-1] == (math.inf, 3)


def test_set_route_sends_the_route_with_the_token() -> None:
    sent: list = []
    canary.set_route(metrics_client(CollectorRegistry(), sent), "clf", "secret", "1.0.0", "1.0.1", 25)
    method, path, headers, content = sent[0]
    assert (method, path, headers["authorization"]) == ("PUT", "/rollout/clf", "Bearer secret")
    assert json.loads(content) == {"stable": "1.0.0", "canary": "1.0.1", "weight": 25, "shadow": None, "seed": 42}


def test_an_oip_body_for_one_row() -> None:
    body = canary.infer_body(np.arange(20.0), "r1")
    assert body == {"id": "r1", "inputs": [{"name": "features", "shape": [1, 20], "datatype": "FP64",
                                            "data": [float(v) for v in range(20)]}]}


def labels(stable: tuple[int, int], new: tuple[int, int]) -> canary.Labels:
    return canary.Labels({"old": stable[0], "new": new[0]}, {"old": stable[1], "new": new[1]})


def verdict(traffic: canary.VersionTraffic, labelled: canary.Labels, final: bool = False) -> dict[str, bool]:
    return {c.name: c.passed for c in canary.analyze(SETTINGS, "old", "new", {"new": traffic}, labelled, final)}


FAST = ((0.001, 100.0), (math.inf, 100.0))


def test_each_check_fails_on_its_own_limit() -> None:
    good = verdict(canary.VersionTraffic(100, 0, FAST), labels((85, 100), (86, 100)))
    assert good == {"error rate": True, "latency p95 (s)": True, "accuracy, upper 95% bound": True}
    assert not verdict(canary.VersionTraffic(100, 2, FAST), labels((85, 100), (86, 100)))["error rate"]
    slow = canary.VersionTraffic(100, 0, ((0.25, 50.0), (1.0, 100.0), (math.inf, 100.0)))
    assert not verdict(slow, labels((85, 100), (86, 100)))["latency p95 (s)"]
    assert not verdict(canary.VersionTraffic(100, 0, FAST), labels((85, 100), (50, 100)))["accuracy, upper 95% bound"]
    assert verdict(canary.VersionTraffic(100, 0, FAST), labels((85, 100), (12, 17)))["accuracy, upper 95% bound"], \
        "12 of 17 right is not evidence of harm yet"
    assert not any(verdict(canary.VersionTraffic(0, 0, ()), canary.Labels()).values()), "no traffic: no pass"


def test_the_last_step_also_needs_non_inferiority() -> None:
    checks = canary.analyze(SETTINGS, "old", "new", {"new": canary.VersionTraffic(400, 0, FAST)},
                            labels((350, 400), (352, 400)), final=True)
    assert [c.name for c in checks][-1] == "non-inferiority p-value" and all(c.passed for c in checks)
    few = canary.analyze(SETTINGS, "old", "new", {"new": canary.VersionTraffic(40, 0, FAST)},
                         labels((35, 40), (35, 40)), final=True)
    assert not few[-1].passed, "equal accuracies on 40 labels do not show non-inferiority"


def test_labels_join_answers_with_the_truth() -> None:
    joined = canary.Labels()
    joined.add([("a", 1), ("b", 0), ("a", 0)], [1, 1, 1])
    assert joined.of("a") == (1, 2) and joined.of("b") == (0, 1) and joined.of("c") == (0, 0)


@pytest.mark.slow
def test_a_live_canary_promotes_a_good_candidate_and_rolls_back_a_broken_one(bundle_dir, tmp_path) -> None:
    from helpers.api.launch import start_api
    from helpers.data import ensure_production_pool, traffic

    root = tmp_path / "repository"
    for version in ("1.0.0", "1.0.1"):
        folder = bundles.version_dir(version, root)
        shutil.copytree(bundle_dir, folder)
        card = json.loads((folder / METADATA_FILE).read_text())
        (folder / METADATA_FILE).write_text(json.dumps({**card, "version": version}))
    bundles.build_broken(root)
    live = traffic(ensure_production_pool())
    X, y = live[FEATURES].to_numpy(), live[TARGET].to_numpy()
    with start_api(model_dir=bundle_dir, name="test-canary", extra=["--models", str(root)],
                   env={"ROLLOUT_TOKEN": "t"}) as api, httpx.Client(base_url=api.url, timeout=30) as client:
        # The same forest under two versions: equally accurate, so the last step's non-inferiority test needs more
        # labels than the notebook's canary (whose candidate is better): four times as many requests per step.
        more = dataclasses.replace(SETTINGS, requests_per_step=4 * SETTINGS.requests_per_step)
        good = canary.run_canary(client, more, "1.0.0", "1.0.1", X, y, "t", prefix="good")
        assert good.outcome == "promoted" and [s.weight for s in good.steps] == [10, 25, 50, 100]
        assert client.get("/rollout/course-classifier").json()["stable"] == "1.0.1"
        bad = canary.run_canary(client, SETTINGS, "1.0.1", "1.0.2", X[4000:], y[4000:], "t", prefix="bad")
        assert bad.outcome == "rolled back" and len(bad.steps) < len(SETTINGS.steps)
        assert not bad.steps[-1].checks[2].passed, "the accuracy bound caught it"
        route = client.get("/rollout/course-classifier").json()
        assert (route["stable"], route["canary"], route["weight"]) == ("1.0.1", None, 0.0)
        served = canary.scrape(client, "course-classifier")
    assert all(sum(s.served.values()) == more.requests_per_step for s in good.steps), "every request counted"
    assert all(sum(s.served.values()) == SETTINGS.requests_per_step for s in bad.steps)
    assert served["1.0.2"].requests == sum(s.served.get("1.0.2", 0) for s in bad.steps)
    assert good.steps[-1].served == {"1.0.1": more.requests_per_step}
