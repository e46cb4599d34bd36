"""The chapter's CI/CD pipeline, for real: eight steps, each executed, timed and reported; the first failure stops it.

1 source snapshot · 2 automated tests · 3 train and validate · 4 performance benchmark · 5 security scanning ·
6 deploy to staging · 7 integration tests · 8 production deployment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers.common import paths
from helpers.mlops.steps import (
    Budgets,
    Candidate,
    PipelineContext,
    StepFailed,
    automated_tests,
    deploy_staging,
    integration_tests,
    performance_benchmark,
    production_deployment,
    security_scan,
    source_snapshot,
    train_and_validate,
)
from helpers.model import Recipe

RECORD_FILE = "last_run.json"


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
    """A whole run: every step, the outcome, and the registry version that got deployed."""

    candidate: str
    semver: str
    started_at: str
    steps: list[StepResult] = field(default_factory=list)
    outcome: str = "running"
    version: str | None = None

    def table(self) -> Any:
        """Return the steps as a DataFrame indexed by step number."""
        import pandas as pd

        return pd.DataFrame([asdict(s) for s in self.steps]).set_index("number")


@dataclass(frozen=True)
class Step:
    """One pipeline step: its name and the function that runs it (returns a report or raises StepFailed)."""

    name: str
    run: Callable[[PipelineContext], str]


STEPS: list[Step] = [
    Step("Source snapshot", source_snapshot), Step("Automated tests", automated_tests),
    Step("Train and validate", train_and_validate), Step("Performance benchmark", performance_benchmark),
    Step("Security scanning", security_scan), Step("Deploy to staging", deploy_staging),
    Step("Integration tests", integration_tests), Step("Production deployment", production_deployment),
]


def run_step(step: Step, ctx: PipelineContext, result: StepResult) -> bool:
    """Run one step into `result` (status, details, seconds); return True if it passed."""
    start = time.perf_counter()
    try:
        result.details, result.status = step.run(ctx), "passed"
    except StepFailed as err:
        result.details, result.status = str(err), "failed"
    except Exception as err:  # noqa: BLE001 - a crashing step is a failed step, reported
        result.details, result.status = f"error: {type(err).__name__}: {err}", "failed"
    result.seconds = time.perf_counter() - start
    return result.status == "passed"


def run_steps(steps: list[Step], ctx: Any, on_step: Callable[[StepResult], None] | None = None) -> list[StepResult]:
    """Run `steps` in order and return their results; after the first failure the rest are marked skipped."""
    results, failed = [], False
    for number, step in enumerate(steps, start=1):
        result = StepResult(number, step.name)
        results.append(result)
        if failed:
            result.status, result.details = "skipped", "not run: an earlier step failed"
        else:
            failed = not run_step(step, ctx, result)
        if on_step:
            on_step(result)
    return results


def run_pipeline(candidate: Candidate, budgets: Budgets | None = None, *, record: bool = True,
                 on_step: Callable[[StepResult], None] | None = None) -> PipelineRun:
    """Run the eight steps on `candidate` (see `run_steps`), stop the staging API, save and return the run."""
    ctx = PipelineContext(candidate, budgets or Budgets(), paths.PIPELINE_DIR / candidate.name)
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    run = PipelineRun(candidate.name, candidate.semver, datetime.now(UTC).isoformat(timespec="seconds"))
    try:
        run.steps = run_steps(STEPS, ctx, on_step)
    finally:
        if ctx.staging is not None:
            ctx.staging.stop()
    passed = all(step.status == "passed" for step in run.steps)
    run.outcome, run.version = ("deployed", ctx.version) if passed else ("failed", None)
    if record:
        save_record(run)
    return run


def save_record(run: PipelineRun, directory: Path | None = None) -> Path:
    """Write the run as JSON (last_run.json, for the dashboard); return the path."""
    directory = Path(directory or paths.PIPELINE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / RECORD_FILE
    path.write_text(json.dumps(asdict(run), indent=2) + "\n")
    return path


def load_record(directory: Path | None = None) -> dict:
    """Return the last pipeline run record; FileNotFoundError says how to create it."""
    path = Path(directory or paths.PIPELINE_DIR) / RECORD_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no pipeline record at {paths.relative(path)}: run notebooks/05_mlops_workflows.ipynb")
    return json.loads(path.read_text())


def good_candidate() -> Candidate:
    """Return the course's good candidate: v1.0.0's recipe with 1,000 labelled backlog rows (04's /retrain, v1.0.1)."""
    return Candidate("pipeline_good", "v1.0.1", Recipe(extra_rows=1_000))


def bad_candidate() -> Candidate:
    """Return a deliberately broken candidate: the same recipe trained on shuffled labels."""
    return Candidate("pipeline_bad", "v1.0.2", Recipe(extra_rows=1_000, shuffle_labels=True))
