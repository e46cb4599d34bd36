"""Multi-model serving: several bundles, by name and version, in one API process, each with its own metrics.

A model repository is a folder laid out as Triton lays out its own: `<root>/<name>/<version>/` holds one bundle
(metadata.json and model.onnx), and `<root>/repository.json` names each model's default version (the registry's
@production). Each model name has a route (helpers.rollouts.router.Route): the stable version, an optional canary
with its weight, an optional shadow. Every answer is counted and timed per model and version on /metrics.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from helpers.api.deps import get_model, get_state
from helpers.api.metrics import LATENCY_BUCKETS
from helpers.api.state import ServingModel, load_serving_model
from helpers.packaging import METADATA_FILE
from helpers.rollouts.router import Route

REPOSITORY_FILE = "repository.json"
"""At the repository's root: {"models": {name: {"default": version}}}; without it the highest version is default."""
SHADOW_LOG_ENTRIES = 50_000
"""Mirrored requests remembered per model (the oldest are forgotten first)."""


class UnknownModel(LookupError):
    """A model name or version this server does not serve; the message names what it does serve."""


def version_key(version: str) -> tuple:
    """Return a sort key that orders semantic versions numerically (1.0.10 after 1.0.9), other names after them."""
    parts = version.split(".")
    return (0, *map(int, parts)) if all(p.isdigit() for p in parts) else (1, version)


class ModelMetrics:
    """The per-model Prometheus series, registered in the API's own registry (so /metrics shows them)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["model", "version"]
        self.requests = Counter("inference_requests", "Inference requests answered, by model, version and status",
                                [*labels, "code"], registry=registry)
        self.latency = Histogram("inference_duration_seconds", "Time to answer an inference request, by model and "
                                 "version (from the body's arrival to the response)", labels,
                                 buckets=LATENCY_BUCKETS, registry=registry)
        self.rows = Counter("inference_rows", "Rows scored, by model, version and predicted class",
                            [*labels, "predicted_class"], registry=registry)
        self.shadow = Counter("shadow_inferences", "Mirrored requests a shadow version scored (answers logged, "
                              "never returned)", labels, registry=registry)
        self.weight = Gauge("rollout_canary_weight", "Percent of a model's requests routed to its canary",
                            ["model"], registry=registry)

    def observe(self, name: str, version: str, code: int, seconds: float, labels: list[int]) -> None:
        """Count and time one answered request and its predicted rows."""
        self.requests.labels(model=name, version=version, code=str(code)).inc()
        self.latency.labels(model=name, version=version).observe(seconds)
        ones = sum(labels)
        for cls, count in ((0, len(labels) - ones), (1, ones)):
            if count:
                self.rows.labels(model=name, version=version, predicted_class=str(cls)).inc(count)


@dataclass(frozen=True)
class ShadowEntry:
    """One mirrored request: what the client got (primary) and what the shadow would have answered."""

    request_id: str
    primary_version: str
    primary: list[int]
    shadow_version: str
    shadow: list[int]

    def as_dict(self) -> dict:
        """Return the entry as JSON-ready fields."""
        return {"id": self.request_id, "primary_version": self.primary_version, "primary": self.primary,
                "shadow_version": self.shadow_version, "shadow": self.shadow}


class ModelRepository:
    """Loaded models by name and version, each name's route, its shadow log, and the per-model metrics."""

    def __init__(self, models: dict[str, dict[str, ServingModel]], defaults: dict[str, str],
                 metrics: ModelMetrics) -> None:
        self.models, self.metrics = models, metrics
        self.routes = {name: Route(stable=defaults[name]) for name in models}
        self.shadow_log: dict[str, deque[ShadowEntry]] = {n: deque(maxlen=SHADOW_LOG_ENTRIES) for n in models}
        for name in models:
            metrics.weight.labels(model=name).set(0)

    def names(self) -> list[str]:
        """Return the served model names, sorted."""
        return sorted(self.models)

    def versions(self, name: str) -> list[str]:
        """Return a model's versions, oldest first; UnknownModel if the name is not served."""
        return sorted(self.known(name), key=version_key)

    def known(self, name: str) -> dict[str, ServingModel]:
        """Return a model's versions as {version: model}; UnknownModel names the served models otherwise."""
        if name not in self.models:
            raise UnknownModel(f"unknown model {name[:64]!r}: this server serves {', '.join(self.names())}")
        return self.models[name]

    def model(self, name: str, version: str | None = None) -> ServingModel:
        """Return one version of a model (default: the route's stable version); UnknownModel if absent."""
        versions = self.known(name)
        version = version or self.routes[name].stable
        if version not in versions:
            raise UnknownModel(f"model {name!r} has no version {version[:32]!r} "
                               f"(its versions: {', '.join(self.versions(name))})")
        return versions[version]

    def set_route(self, name: str, route: Route) -> Route:
        """Install a model's route after checking that every version it names is served; return it."""
        for version in route.versions():
            self.model(name, version)
        self.routes[name] = route
        self.metrics.weight.labels(model=name).set(route.weight)
        return route

    def log_shadow(self, name: str, entry: ShadowEntry) -> None:
        """Remember one mirrored request's two answers, and count it."""
        self.shadow_log[name].append(entry)
        self.metrics.shadow.labels(model=name, version=entry.shadow_version).inc()


def read_defaults(root: Path) -> dict[str, str]:
    """Return {name: default version} from the repository's repository.json (empty if it has none)."""
    path = root / REPOSITORY_FILE
    if not path.is_file():
        return {}
    return {name: str(entry["default"]) for name, entry in json.loads(path.read_text())["models"].items()}


def load_repository(root: Path, backend: str, metrics: ModelMetrics) -> ModelRepository:
    """Load every bundle under `<root>/<name>/<version>/` (integrity-checked, warmed up); return the repository.

    Raise FileNotFoundError when the folder holds no bundle, ValueError when a folder's name disagrees with its
    card's version or a default version is missing.
    """
    root = Path(root)
    models: dict[str, dict[str, ServingModel]] = {}
    for card in sorted(root.glob(f"*/*/{METADATA_FILE}")):
        folder = card.parent
        model = load_serving_model(folder, backend)
        if model.version != folder.name:
            raise ValueError(f"{folder.parent.name}/{folder.name}: the card says version {model.version}")
        models.setdefault(folder.parent.name, {})[folder.name] = model
    if not models:
        raise FileNotFoundError(f"no model bundle under {root} (expected <name>/<version>/{METADATA_FILE})")
    defaults = read_defaults(root)
    for name, versions in models.items():
        default = defaults.setdefault(name, max(versions, key=version_key))
        if default not in versions:
            raise ValueError(f"{REPOSITORY_FILE}: the default version {default} of {name} is not in the repository")
    return ModelRepository(models, defaults, metrics)


def single_model_repository(model: ServingModel, metrics: ModelMetrics) -> ModelRepository:
    """Return a repository holding only the API's serving model, under the name its card gives."""
    name = str(model.card.get("name", "model"))
    return ModelRepository({name: {model.version: model}}, {name: model.version}, metrics)


def model_metrics(app: FastAPI) -> ModelMetrics:
    """Return the app's per-model metrics, created in its Prometheus registry on first use."""
    metrics = getattr(app.state, "model_metrics", None)
    if metrics is None:
        metrics = app.state.model_metrics = ModelMetrics(app.state.api.metrics.registry)
    return metrics


def open_repository(app: FastAPI) -> None:
    """At start-up: load the model repository of the app's settings (`models_dir`), if it names one."""
    settings = app.state.api.settings
    if settings.models_dir is not None:
        app.state.repository = load_repository(settings.models_dir, settings.backend, model_metrics(app))


def repository_of(request: Request) -> ModelRepository:
    """Return the app's repository; without one, a repository of the API's one serving model."""
    repository = getattr(request.app.state, "repository", None)
    if repository is not None:
        return repository
    model = get_model(get_state(request))
    single = getattr(request.app.state, "single_repository", None)
    if single is None or not any(m is model for versions in single.models.values() for m in versions.values()):
        single = request.app.state.single_repository = single_model_repository(model, model_metrics(request.app))
    return single
