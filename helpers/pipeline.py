"""The chapter's CI/CD pipeline, for real: eight steps, each executed, timed and reported; stops at the first failure.

1 source snapshot · 2 automated tests · 3 train and validate · 4 performance benchmark · 5 security scanning ·
6 deploy to staging · 7 integration tests · 8 production deployment.
"""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from helpers import paths
from helpers.features import FEATURES, TARGET

PIPELINE_DIR = paths.ARTIFACTS_DIR / "pipeline"
RECORD_FILE = "last_run.json"
FAST_TESTS = ("tests/test_data.py", "tests/test_environment.py")
FAST_TESTS_FILTER = "not regenerates"  # the one slow case of test_data.py (it rewrites the CSVs twice)
# Importable prefixes a pickled scikit-learn forest legitimately refers to; anything else is suspicious.
SAFE_PICKLE_MODULES = ("sklearn.", "numpy.", "copyreg._reconstructor")
STEP_NAMES = ("Source snapshot", "Automated tests", "Train and validate", "Performance benchmark",
              "Security scanning", "Deploy to staging", "Integration tests", "Production deployment")


class StepFailed(Exception):
    """A pipeline step's check did not pass; the message says which and why."""


@dataclass
class Candidate:
    """What the pipeline is asked to ship: a model factory plus the data it trains on."""

    name: str
    semver: str
    make_model: Callable[[], Any]
    params: dict[str, Any]
    extra_rows: int = 0
    shuffle_labels: bool = False


@dataclass
class Gates:
    """The pipeline's quality and performance budgets."""

    min_accuracy: float = 0.80
    max_latency_ms: float = 1.0
    max_size_mb: float = 10.0


@dataclass
class StepResult:
    """One step's outcome."""

    number: int
    name: str
    status: str = "pending"
    seconds: float = 0.0
    details: str = ""


@dataclass
class PipelineRun:
    """A whole run: every step, the outcome, and what got deployed."""

    candidate: str
    semver: str
    started_at: str
    steps: list[StepResult] = field(default_factory=list)
    outcome: str = "running"
    version: str | None = None

    def table(self) -> Any:
        """Return the steps as a DataFrame (number, step, status, details; seconds kept apart)."""
        import pandas as pd

        return pd.DataFrame([asdict(s) for s in self.steps]).set_index("number")

    def to_dict(self) -> dict:
        """Return the run as plain JSON-ready data."""
        return asdict(self)


@dataclass
class _Context:
    """What the steps hand each other."""

    candidate: Candidate
    gates: Gates
    workdir: Path
    data: tuple = ()
    result: Any = None
    bundle: Path | None = None
    version: str | None = None
    staging: Any = None
    facts: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------------------
# The steps. Each returns a one-line report or raises StepFailed.

def source_snapshot(ctx: _Context) -> str:
    """Record exactly which code is being shipped: the git commit if available, else a content hash."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=paths.ROOT, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "helpers"], cwd=paths.ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        ctx.facts["source"] = commit
        return f"commit {commit}" + (" (helpers/ has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        digest = helpers_content_hash()
        ctx.facts["source"] = digest
        return f"content hash {digest} of helpers/ (no git here)"


def helpers_content_hash() -> str:
    """Return a short hash over every file in helpers/ (names and bytes)."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted((paths.ROOT / "helpers").glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


_TEST_RESULTS: dict[str, str] = {}  # source snapshot -> report: CI systems cache test results per commit too


def automated_tests(ctx: _Context) -> str:
    """Run the fast unit tests in a subprocess (once per source snapshot) and report the counts."""
    source = ctx.facts.get("source", "")
    if source in _TEST_RESULTS:
        return _TEST_RESULTS[source] + " (cached for this source snapshot)"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:nbval",
               "-p", "no:hypothesispytest", "-p", "no:schemathesis", "-k", FAST_TESTS_FILTER, *FAST_TESTS]
    done = subprocess.run(command, cwd=paths.ROOT, capture_output=True, text=True, timeout=300)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "no output"
    counts = dict((k, int(n)) for n, k in re.findall(r"(\d+) (passed|failed|errors?)", summary))
    if done.returncode != 0:
        raise StepFailed(f"unit tests failed: {summary}")
    _TEST_RESULTS[source] = f"{counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed"
    return _TEST_RESULTS[source] + f" ({', '.join(FAST_TESTS)})"


def train_and_validate(ctx: _Context) -> str:
    """Train the candidate (logged to MLflow) and check it against the quality gates."""
    from helpers import tracking
    from helpers.data import load_production_pool, split_dataset

    X_train, X_test, y_train, y_test = split_dataset()
    if ctx.candidate.extra_rows:
        pool = load_production_pool().iloc[: ctx.candidate.extra_rows]
        X_train = np.vstack([X_train, pool[FEATURES].to_numpy()])
        y_train = np.concatenate([y_train, pool[TARGET].to_numpy()])
    if ctx.candidate.shuffle_labels:
        y_train = np.random.default_rng(0).permutation(y_train)
    ctx.data = (X_train, X_test, y_train, y_test)
    ctx.result = tracking.log_experiment_run(ctx.candidate.name, ctx.candidate.make_model(), ctx.candidate.params,
                                             X_train, y_train, X_test, y_test, tags={"kind": "pipeline"})
    accuracy = ctx.result.metrics["accuracy"]
    production = tracking.production_accuracy()
    floor = ctx.gates.min_accuracy if production is None else max(ctx.gates.min_accuracy, production)
    ctx.facts.update(accuracy=accuracy, production_accuracy=production)
    versus = "no production model yet" if production is None else f"production {production:.4f}"
    if round(accuracy, 4) < floor:  # the registry records accuracy to 4 decimals
        raise StepFailed(f"accuracy {accuracy:.4f} fails the gate (minimum {ctx.gates.min_accuracy:.2f}, "
                         f"{versus}); the candidate stops here")
    return f"accuracy {accuracy:.4f} passes (minimum {ctx.gates.min_accuracy:.2f}, {versus})"


def performance_benchmark(ctx: _Context) -> str:
    """Export the candidate to ONNX and check single-row latency and file size against the budgets."""
    from helpers.packaging import load_model, save_model_bundle
    from helpers.timing import format_duration, measure

    X_train, X_test, _, _ = ctx.data
    ctx.bundle = ctx.workdir / "bundle"
    card = save_model_bundle(ctx.result.model, ctx.result.metrics, ctx.bundle, version=ctx.candidate.semver.lstrip("v"),
                             X_train=X_train, formats=("onnx", "joblib", "pickle"))
    predictor = load_model(ctx.bundle, "onnx")
    latency = measure(lambda: predictor.predict_proba(X_test[:1]), repeats=200).median
    size_mb = card["artifacts"]["onnx"]["bytes"] / 1e6
    ctx.facts.update(latency_ms=latency * 1e3, size_mb=size_mb)
    report = (f"ONNX 1-row latency {format_duration(latency)} (budget {ctx.gates.max_latency_ms:g} ms), "
              f"size {size_mb:.2f} MB (budget {ctx.gates.max_size_mb:g} MB)")
    if latency * 1e3 > ctx.gates.max_latency_ms or size_mb > ctx.gates.max_size_mb:
        raise StepFailed("over budget: " + report)
    return report


class _Inert:
    """Stands in for every class a scanned pickle names: constructing or updating it does nothing."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass


class _ImportRecorder(pickle.Unpickler):
    """Walks a pickle and records what it would import, handing back inert stand-ins instead of the real thing."""

    def __init__(self, fh: Any) -> None:
        super().__init__(fh)
        self.found: set[str] = set()

    def find_class(self, module: str, name: str) -> type:
        self.found.add(f"{module}.{name}")
        return _Inert


def pickle_imports(path: Path) -> list[str]:
    """Return every `module.name` a pickle file would import when loaded, without importing or running any of it."""
    with open(path, "rb") as fh:
        recorder = _ImportRecorder(fh)
        recorder.load()  # nosec B301 - find_class never returns a real object: nothing from the file runs
    return sorted(recorder.found)


def security_scan(ctx: _Context) -> str:
    """Static analysis of helpers/ with bandit, and a scan of the model artifact for unsafe imports."""
    bandit = Path(sys.executable).parent / "bandit"
    done = subprocess.run([str(bandit), "-r", str(paths.ROOT / "helpers"), "-f", "json", "-q", "-ll"],
                          capture_output=True, text=True, timeout=120)
    report = json.loads(done.stdout or "{}")
    issues = report.get("results", [])
    scanned = len(report.get("metrics", {})) - 1
    imports = pickle_imports(ctx.bundle / "model.pkl")
    unsafe = [name for name in imports if not name.startswith(SAFE_PICKLE_MODULES)]
    if issues:
        first = issues[0]
        raise StepFailed(f"bandit: {len(issues)} medium/high finding(s), first {first['test_id']} in "
                         f"{Path(first['filename']).name}:{first['line_number']}")
    if unsafe:
        raise StepFailed(f"model.pkl would import unexpected object(s): {', '.join(unsafe[:5])}")
    return (f"bandit: 0 medium/high findings in {scanned} files; model.pkl imports only "
            f"{len(imports)} scikit-learn/numpy objects")


def deploy_staging(ctx: _Context) -> str:
    """Register the candidate, point the `staging` alias at it, and start the API on its bundle."""
    from helpers import tracking
    from helpers.server import start_api

    ctx.version = tracking.register_model(ctx.result, ctx.candidate.semver,
                                          description=f"built by the pipeline from {ctx.facts.get('source', '?')}")
    tracking.set_alias("staging", ctx.version)
    ctx.staging = start_api(model_dir=ctx.bundle, name="staging")
    return f"registered version {ctx.version} ({ctx.candidate.semver}), alias staging, API ready"


def integration_tests(ctx: _Context) -> str:
    """Call the running staging API and check its contract; return how many checks passed."""
    import httpx

    _, X_test, _, _ = ctx.data
    expected = ctx.result.model.predict(X_test[:20]).tolist()
    checks: list[tuple[str, bool]] = []
    with httpx.Client(base_url=ctx.staging.url, timeout=10) as client:
        checks.append(("GET /ready is 200", client.get("/ready").status_code == 200))
        info = client.get("/model_info").json()
        checks.append(("/model_info names the candidate",
                       info["serving"]["version"] == ctx.candidate.semver.lstrip("v")))
        batch = client.post("/predict_batch", json={"rows": X_test[:20].tolist()}).json()
        checks.append(("20 predictions equal the trained model's",
                       [p["prediction"] for p in batch["predictions"]] == expected))
        single = client.post("/predict", json={"features": X_test[0].tolist()})
        checks.append(("POST /predict is 200 with a request id", single.status_code == 200
                       and bool(single.json().get("request_id"))))
        bad = client.post("/predict", json={"features": [1.0] * 19})
        checks.append(("a 19-number row is a 422", bad.status_code == 422))
        checks.append(("GET /metrics exposes model_info", "model_info{" in client.get("/metrics").text))
    failed = [name for name, ok in checks if not ok]
    if failed:
        raise StepFailed(f"{len(failed)} of {len(checks)} contract checks failed: {'; '.join(failed)}")
    return f"{len(checks)} of {len(checks)} contract checks passed against the staging API"


def production_deployment(ctx: _Context) -> str:
    """Move the `production` alias to the candidate; the previous version stays registered for rollback."""
    from helpers import tracking

    result = tracking.promote(ctx.version, min_accuracy=ctx.gates.min_accuracy)
    if not result.promoted:
        raise StepFailed(f"promotion refused: {result.reason}")
    before = f"version {result.production_before} kept for rollback" if result.production_before else "first release"
    return f"alias production -> version {ctx.version} ({ctx.candidate.semver}); {before}"


STEPS: tuple[Callable[[_Context], str], ...] = (source_snapshot, automated_tests, train_and_validate,
                                                 performance_benchmark, security_scan, deploy_staging,
                                                 integration_tests, production_deployment)


def run_pipeline(candidate: Candidate, gates: Gates | None = None, *, record: bool = True,
                 on_step: Callable[[StepResult], None] | None = None) -> PipelineRun:
    """Run the eight steps in order, stop at the first failure (later steps: skipped), save and return the run."""
    ctx = _Context(candidate=candidate, gates=gates or Gates(), workdir=PIPELINE_DIR / candidate.name)
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    run = PipelineRun(candidate=candidate.name, semver=candidate.semver,
                      started_at=datetime.now(UTC).isoformat(timespec="seconds"))
    failed = False
    try:
        for number, (name, step) in enumerate(zip(STEP_NAMES, STEPS, strict=True), start=1):
            result = StepResult(number, name)
            run.steps.append(result)
            if failed:
                result.status, result.details = "skipped", "not run: an earlier step failed"
            else:
                start = time.perf_counter()
                try:
                    result.details, result.status = step(ctx), "passed"
                except StepFailed as err:
                    result.details, result.status, failed = str(err), "failed", True
                except Exception as err:  # noqa: BLE001 - a crashing step is a failed step, reported
                    result.details, result.status, failed = f"error: {type(err).__name__}: {err}", "failed", True
                result.seconds = time.perf_counter() - start
            if on_step:
                on_step(result)
    finally:
        if ctx.staging is not None:
            ctx.staging.stop()
    run.outcome = "failed" if failed else "deployed"
    run.version = None if failed else ctx.version
    if record:
        save_record(run)
    return run


def save_record(run: PipelineRun, directory: Path | None = None) -> Path:
    """Write the run as JSON (last_run.json) for the dashboard; return the path."""
    directory = Path(directory or PIPELINE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / RECORD_FILE
    path.write_text(json.dumps(run.to_dict(), indent=2) + "\n")
    return path


def load_record(directory: Path | None = None) -> dict:
    """Return the last pipeline run record; FileNotFoundError says how to create it."""
    path = Path(directory or PIPELINE_DIR) / RECORD_FILE
    if not path.exists():
        raise FileNotFoundError(f"no pipeline record at {paths.relative(path)}: run notebooks/05_mlops_workflows.ipynb")
    return json.loads(path.read_text())


def good_candidate() -> Candidate:
    """Return the course's good candidate: the reference forest trained with 2,000 more labelled rows."""
    from sklearn.ensemble import RandomForestClassifier

    params = {"n_estimators": 100, "random_state": 42, "extra_rows": 2000}
    return Candidate("pipeline_good", "v2.2.0", lambda: RandomForestClassifier(n_estimators=100, random_state=42),
                     params, extra_rows=2000)


def bad_candidate() -> Candidate:
    """Return a deliberately broken candidate: the same forest trained on shuffled labels."""
    from sklearn.ensemble import RandomForestClassifier

    params = {"n_estimators": 100, "random_state": 42, "shuffle_labels": True}
    return Candidate("pipeline_bad", "v2.3.0", lambda: RandomForestClassifier(n_estimators=100, random_state=42),
                     params, shuffle_labels=True)
