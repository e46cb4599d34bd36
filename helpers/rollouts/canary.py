"""An automated canary, as Argo Rollouts or Flagger run one, small enough to read: steps, checks, a decision.

At each step the controller sets the canary's weight on the API's route, lets traffic flow, reads the server's
per-model metrics (requests, errors and latency by version) and joins the answers with the delayed labels it
holds. Any failed check rolls back at once; after the last step a non-inferiority test must pass to promote.
"""

from __future__ import annotations

import http.client
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import numpy as np
import orjson
from prometheus_client.parser import text_string_to_metric_families

from helpers.common.schema import MIN_ACCURACY, SEED
from helpers.packaging import MODEL_NAME, ONNX_INPUT
from helpers.rollouts import stats


@dataclass(frozen=True)
class CanarySettings:
    """Every knob of a canary rollout: the local run and the cluster manifests are both generated from these."""

    model: str = MODEL_NAME
    steps: tuple[int, ...] = (10, 25, 50, 100)  # percent of requests the canary receives, step by step
    requests_per_step: int = 200  # requests sent during each step (a cluster waits a time instead)
    max_error_rate: float = 0.01  # the canary's share of 5xx answers
    max_p95_seconds: float = 0.5  # the canary's 95th-percentile latency (Flagger's default limit, 500 ms)
    min_accuracy: float = MIN_ACCURACY  # roll back once the accuracy's upper 95% bound falls below this
    margin: float = 0.05  # promotion: the canary may be at most this much less accurate than the stable version
    alpha: float = 0.05  # the tests' false-positive rate
    header: str = "X-Canary"  # "always" / "never" force a version (NGINX canary-by-header)
    seed: int = SEED  # the router's draws


@dataclass(frozen=True)
class VersionTraffic:
    """What the server's metrics say about one version: requests, 5xx errors, latency histogram buckets."""

    requests: int
    errors: int
    buckets: tuple[tuple[float, float], ...]  # (upper bound in seconds, cumulative count), +inf last

    def minus(self, before: VersionTraffic) -> VersionTraffic:
        """Return the traffic between two scrapes."""
        earlier = dict(before.buckets)
        return VersionTraffic(self.requests - before.requests, self.errors - before.errors,
                              tuple((le, c - earlier.get(le, 0.0)) for le, c in self.buckets))

    def quantile(self, q: float) -> float:
        """Return the q-quantile of latency, interpolated within its bucket as Prometheus' histogram_quantile."""
        total = self.buckets[-1][1] if self.buckets else 0.0
        if total <= 0:
            return float("nan")
        lower, below = 0.0, 0.0
        for le, count in self.buckets:
            if count >= q * total:
                if np.isinf(le):
                    return lower
                return lower + (le - lower) * (q * total - below) / max(count - below, 1e-12)
            lower, below = le, count
        return lower


def scrape(client: httpx.Client, model: str) -> dict[str, VersionTraffic]:
    """Return {version: VersionTraffic} from the server's /metrics for one model."""
    counted: dict[str, int] = {}
    errors: dict[str, int] = {}
    buckets: dict[str, list[tuple[float, float]]] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.labels.get("model") != model:
                continue
            version = s.labels.get("version", "")
            if s.name == "inference_requests_total":
                counted[version] = counted.get(version, 0) + int(s.value)
                if s.labels["code"].startswith("5"):
                    errors[version] = errors.get(version, 0) + int(s.value)
            elif s.name == "inference_duration_seconds_bucket":
                buckets.setdefault(version, []).append((float(s.labels["le"]), s.value))
    return {v: VersionTraffic(n, errors.get(v, 0), tuple(sorted(buckets.get(v, [])))) for v, n in counted.items()}


def traffic_between(after: dict[str, VersionTraffic], before: dict[str, VersionTraffic]) -> dict[str, VersionTraffic]:
    """Return each version's traffic between two scrapes (versions that received none are left out)."""
    empty = VersionTraffic(0, 0, ())
    between = {v: t.minus(before.get(v, empty)) for v, t in after.items()}
    return {v: t for v, t in sorted(between.items()) if t.requests > 0}


def set_route(client: httpx.Client, model: str, token: str, stable: str, canary: str | None = None,
              weight: float = 0.0, shadow: str | None = None, seed: int = SEED) -> dict:
    """Change a model's route on the server (PUT /rollout/{model}); return the route it now has."""
    body = {"stable": stable, "canary": canary, "weight": weight, "shadow": shadow, "seed": seed}
    response = client.put(f"/rollout/{model}", json=body, headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response.json()


def infer_body(row: Sequence[float], request_id: str) -> dict:
    """Return an Open Inference Protocol request for one row."""
    return {"id": request_id, "inputs": [{"name": ONNX_INPUT, "shape": [1, len(row)], "datatype": "FP64",
                                          "data": [float(v) for v in row]}]}


def send(client: httpx.Client, model: str, X: np.ndarray, ids: Sequence[str],
         headers: dict[str, str] | None = None, workers: int = 4) -> list[tuple[str, int]]:
    """Send one OIP request per row to the client's server, from `workers` threads each on one kept-open
    connection (the standard library's http.client: a fraction of httpx's cost per request); return (version that
    answered, predicted label) per row, in row order. The route's draw depends on the request id only, so the
    order in which the requests arrive changes nothing."""
    host, port = client.base_url.host, client.base_url.port
    sent = {"content-type": "application/json", **(headers or {})}
    path = f"/v2/models/{model}/infer"

    def chunk(rows: range) -> list[tuple[str, int]]:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        answers = []
        try:
            for i in rows:
                connection.request("POST", path, body=orjson.dumps(infer_body(X[i], ids[i])), headers=sent)
                response = connection.getresponse()
                body = orjson.loads(response.read())
                if response.status != 200:
                    raise RuntimeError(f"{path} answered {response.status}: {body}")
                label = next(o for o in body["outputs"] if o["name"] == "label")["data"][0]
                answers.append((body["model_version"], int(label)))
        finally:
            connection.close()
        return answers

    bounds = np.linspace(0, len(X), workers + 1).astype(int)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(chunk, [range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
        return [answer for part in parts for answer in part]


@dataclass(frozen=True)
class Check:
    """One analysis check: the measured value, the limit, and whether it passed."""

    name: str
    value: float
    limit: str
    passed: bool


@dataclass
class Labels:
    """Delayed labels joined with the answers: correct and labelled requests per version, so far."""

    correct: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)

    def add(self, answers: Sequence[tuple[str, int]], truth: Sequence[int]) -> None:
        """Count each answer against its true label."""
        for (version, label), actual in zip(answers, truth, strict=True):
            self.correct[version] = self.correct.get(version, 0) + int(label == actual)
            self.total[version] = self.total.get(version, 0) + 1

    def of(self, version: str) -> tuple[int, int]:
        """Return (correct, labelled) for one version."""
        return self.correct.get(version, 0), self.total.get(version, 0)


def analyze(settings: CanarySettings, stable: str, candidate: str, traffic: dict[str, VersionTraffic],
            labels: Labels, final: bool) -> list[Check]:
    """Return the checks of one step: the canary's error rate and p95 latency in this step, the upper bound of its
    accuracy so far, and at the last step the non-inferiority test against the stable version."""
    seen = traffic.get(candidate, VersionTraffic(0, 0, ()))
    error_rate = seen.errors / seen.requests if seen.requests else float("nan")
    p95 = seen.quantile(0.95)
    correct, n = labels.of(candidate)
    upper = stats.accuracy_interval(correct, n, settings.alpha)[1] if n else float("nan")
    s = settings
    checks = [Check("error rate", error_rate, f"<= {s.max_error_rate:g}", error_rate <= s.max_error_rate),
              Check("latency p95 (s)", p95, f"<= {s.max_p95_seconds:g}", p95 <= s.max_p95_seconds),
              Check("accuracy, upper 95% bound", upper, f">= {s.min_accuracy:g}", upper >= s.min_accuracy)]
    if final:
        test = stats.non_inferiority(correct, n, *labels.of(stable), settings.margin)
        checks.append(Check("non-inferiority p-value", test.pvalue, f"< {settings.alpha:g}",
                            test.pvalue < settings.alpha))
    return checks


@dataclass(frozen=True)
class StepReport:
    """One step of a canary: its weight, the requests each version served (server metrics), the labelled
    accuracy so far, and the checks."""

    weight: int
    served: dict[str, int]
    labelled: dict[str, tuple[int, int]]
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        """Return True when every check passed."""
        return all(c.passed for c in self.checks)


@dataclass(frozen=True)
class CanaryRun:
    """A whole canary: the two versions, every step taken, and the outcome (promoted or rolled back)."""

    stable: str
    candidate: str
    steps: tuple[StepReport, ...]
    outcome: str


def run_canary(client: httpx.Client, settings: CanarySettings, stable: str, candidate: str, X: np.ndarray,
               y: np.ndarray, token: str, prefix: str = "canary") -> CanaryRun:
    """Step the candidate through `settings.steps` with live requests (rows of X, one request each, ids
    `<prefix>-<row>`), checking each step; roll back at the first failed check, promote after the last step."""
    labels, reports, start = Labels(), [], 0
    for number, weight in enumerate(settings.steps, start=1):
        set_route(client, settings.model, token, stable, candidate, weight, seed=settings.seed)
        rows = range(start, start + settings.requests_per_step)
        start = rows.stop
        before = scrape(client, settings.model)
        answers = send(client, settings.model, X[rows.start:rows.stop], [f"{prefix}-{i}" for i in rows])
        traffic = traffic_between(scrape(client, settings.model), before)
        labels.add(answers, y[rows.start:rows.stop])
        checks = analyze(settings, stable, candidate, traffic, labels, final=number == len(settings.steps))
        reports.append(StepReport(weight, {v: t.requests for v, t in traffic.items()},
                                  {v: labels.of(v) for v in (stable, candidate)}, tuple(checks)))
        if not reports[-1].passed:
            set_route(client, settings.model, token, stable, seed=settings.seed)
            return CanaryRun(stable, candidate, tuple(reports), "rolled back")
    set_route(client, settings.model, token, candidate, seed=settings.seed)
    return CanaryRun(stable, candidate, tuple(reports), "promoted")
