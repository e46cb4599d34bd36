"""The pipeline's eight steps. Each takes the run's context and returns a one-line report or raises StepFailed."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.common import paths
from helpers.common.release import release_gate
from helpers.data import split_dataset
from helpers.model import Recipe, make_reference_model

FAST_TESTS = ("tests/common/test_schema_and_release.py",
              "tests/mlops/test_security.py::test_the_scan_names_an_unexpected_import_without_running_it")
"""The unit tests the pipeline runs: the release gate and the pickle scanner, quick (no model, server or MLflow)."""


class StepFailed(Exception):
    """A pipeline step's check did not pass; the message says which and why."""


@dataclass(frozen=True)
class Candidate:
    """What the pipeline is asked to ship: a name, the semantic version it would get, and its training recipe."""

    name: str
    semver: str
    recipe: Recipe


@dataclass(frozen=True)
class Budgets:
    """The pipeline's performance budgets (quality is the release gate's job)."""

    max_latency_ms: float = 1.0
    max_size_mb: float = 10.0


@dataclass
class PipelineContext:
    """What the steps hand each other."""

    candidate: Candidate
    budgets: Budgets
    workdir: Path
    facts: dict = field(default_factory=dict)
    split: Any = None
    training: tuple = ()
    result: Any = None
    bundle: Path | None = None
    version: str | None = None
    staging: Any = None


def source_snapshot(ctx: PipelineContext) -> str:
    """Record exactly which code is being shipped: the git commit, and whether helpers/ has uncommitted changes."""
    try:
        run = {"cwd": paths.ROOT, "capture_output": True, "text": True, "timeout": 10}
        commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], check=True, **run).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "helpers"], **run).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        raise StepFailed("no git repository here: the pipeline ships only code it can name") from None
    ctx.facts["source"] = commit
    return f"commit {commit}" + (" (helpers/ has uncommitted changes)" if dirty else "")


def automated_tests(ctx: PipelineContext) -> str:
    """Run the fast unit tests in a subprocess and report the counts."""
    # Only pytest itself: loading every installed plugin (nbval, hypothesis, schemathesis ...) costs seconds.
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FAST_TESTS]
    done = subprocess.run(command, cwd=paths.ROOT, env=env, capture_output=True, text=True, timeout=300)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "no output"
    if done.returncode != 0:
        raise StepFailed(f"unit tests failed: {summary}")
    files = len({test.split("::")[0] for test in FAST_TESTS})
    return f"all passed ({files} test files)"  # no count: a test added to those files must not change the report


def train_and_validate(ctx: PipelineContext) -> str:
    """Train the candidate (logged to MLflow) and put it through the release gate against production."""
    from helpers.mlops import registry, runs

    recipe = ctx.candidate.recipe
    ctx.split = split_dataset()
    ctx.training = recipe.training_set(ctx.split)
    ctx.result = runs.log_experiment_run(ctx.candidate.name, make_reference_model(**recipe.params), recipe.describe(),
                                         *ctx.training, ctx.split.X_val, ctx.split.y_val, tags={"kind": "pipeline"})
    gate = release_gate(round(ctx.result.metrics["accuracy"], 4), registry.production_accuracy())
    if not gate.passed:  # the registry records accuracy to 4 decimals: the gate compares the same figures
        raise StepFailed(gate.reason)
    return gate.reason


def performance_benchmark(ctx: PipelineContext) -> str:
    """Package the candidate (ONNX included) and check single-row latency and file size against the budgets."""
    from helpers.common.timing import format_duration, measure
    from helpers.packaging import load_model, save_model_bundle

    ctx.bundle = ctx.workdir / "bundle"
    card = save_model_bundle(ctx.result.model, ctx.result.metrics, ctx.bundle, version=ctx.candidate.semver.lstrip("v"),
                             X_train=ctx.training[0], formats=("onnx", "joblib", "pickle"),
                             extra={"recipe": ctx.candidate.recipe.describe()})
    predictor = load_model(ctx.bundle, "onnx")
    latency = measure(lambda: predictor.predict_proba(ctx.split.X_val[:1]), repeats=200).median
    size_mb = card["artifacts"]["onnx"]["bytes"] / 1e6
    report = (f"ONNX 1-row latency {format_duration(latency)} (budget {ctx.budgets.max_latency_ms:g} ms), "
              f"size {size_mb:.2f} MB (budget {ctx.budgets.max_size_mb:g} MB)")
    if latency * 1e3 > ctx.budgets.max_latency_ms or size_mb > ctx.budgets.max_size_mb:
        raise StepFailed("over budget: " + report)
    return report


def security_scan(ctx: PipelineContext) -> str:
    """Static analysis of helpers/ with bandit, and a scan of the pickled model for unexpected imports."""
    from helpers.mlops import security

    _, findings = security.bandit_findings(paths.ROOT / "helpers")
    if findings:
        first = findings[0]
        raise StepFailed(f"bandit: {len(findings)} medium/high finding(s), first {first['test_id']} in "
                         f"{Path(first['filename']).name}:{first['line_number']}")
    unsafe = security.unsafe_imports(ctx.bundle / "model.pkl")
    if unsafe:
        raise StepFailed(f"model.pkl would import unexpected object(s): {', '.join(unsafe[:5])}")
    imports = security.pickle_imports(ctx.bundle / "model.pkl")
    return (f"bandit: no medium/high findings in helpers/; model.pkl imports only {len(imports)} "
            "scikit-learn/numpy names")


def deploy_staging(ctx: PipelineContext) -> str:
    """Register the candidate, point the `staging` alias at it, and start the API on its bundle."""
    from helpers.api.launch import start_api
    from helpers.mlops import registry

    ctx.version = registry.register_model(ctx.result, ctx.candidate.semver,
                                          f"built by the pipeline from {ctx.facts.get('source', '?')}")
    registry.set_alias("staging", ctx.version)
    ctx.staging = start_api(model_dir=ctx.bundle, name="staging")
    return f"registered version {ctx.version} ({ctx.candidate.semver}), alias staging, API ready"


def integration_tests(ctx: PipelineContext) -> str:
    """Call the running staging API and check its contract; return how many checks passed."""
    import httpx

    X = ctx.split.X_val[:20]
    expected = ctx.result.model.predict(X).tolist()
    with httpx.Client(base_url=ctx.staging.url, timeout=10) as api:
        batch = api.post("/predict_batch", json={"rows": X.tolist()}).json()
        single = api.post("/predict", json={"features": X[0].tolist()})
        checks = {
            "GET /ready is 200": api.get("/ready").status_code == 200,
            "/model_info names the candidate": api.get("/model_info").json()["serving"]["version"]
            == ctx.candidate.semver.lstrip("v"),
            "20 predictions equal the trained model's": [p["prediction"] for p in batch["predictions"]] == expected,
            "POST /predict is 200 with a request id": single.status_code == 200 and bool(single.json()["request_id"]),
            "a 19-number row is a 422": api.post("/predict", json={"features": [1.0] * 19}).status_code == 422,
            "GET /metrics exposes model_info": "model_info{" in api.get("/metrics").text,
        }
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        raise StepFailed(f"{len(failed)} of {len(checks)} contract checks failed: {'; '.join(failed)}")
    return f"{len(checks)} of {len(checks)} contract checks passed against the staging API"


def production_deployment(ctx: PipelineContext) -> str:
    """Promote the candidate through the gate and install its bundle as the one production serves."""
    from helpers.mlops import deploy, registry

    decision = registry.promote(ctx.version)
    if not decision.promoted:
        raise StepFailed(f"promotion refused: {decision.reason}")
    deploy.install_production_bundle(ctx.bundle, ctx.version)
    kept = f"version {decision.production_before} kept for rollback" if decision.production_before else "first release"
    return f"alias production -> version {ctx.version} ({ctx.candidate.semver}), bundle installed; {kept}"
