"""helpers.mlops.steps: the source snapshot, the cached unit-test run, and the performance budgets."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers.common import paths
from helpers.data import split_dataset
from helpers.mlops import pipeline, steps
from helpers.model import Recipe, evaluate


def context(tmp_path: Path, **budgets: float) -> steps.PipelineContext:
    return steps.PipelineContext(pipeline.good_candidate(), steps.Budgets(**budgets), tmp_path)


def test_the_pipeline_runs_unit_tests_that_exist() -> None:
    for test in steps.FAST_TESTS:
        file, _, name = test.partition("::")
        assert (paths.ROOT / file).is_file(), f"FAST_TESTS names a missing file: {file}"
        assert not name or f"def {name}(" in (paths.ROOT / file).read_text()


def test_the_source_snapshot_names_the_commit(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    report = steps.source_snapshot(ctx)
    assert re.fullmatch(r"commit [0-9a-f]{10}( \(helpers/ has uncommitted changes\))?", report)
    assert report.startswith(f"commit {ctx.facts['source']}")


def test_no_git_repository_stops_the_pipeline(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    with pytest.raises(steps.StepFailed, match="no git repository"):
        steps.source_snapshot(context(tmp_path))


def test_unit_tests_report_their_counts_and_a_failure_stops(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "test_good.py").write_text("def test_a():\n    pass\n\n\ndef test_b():\n    pass\n")
    (tmp_path / "test_bad.py").write_text("def test_a():\n    pass\n\n\ndef test_b():\n    assert False\n")
    monkeypatch.setattr(steps, "FAST_TESTS", (str(tmp_path / "test_good.py"),))
    assert steps.automated_tests(context(tmp_path)) == "all passed (1 test files)"
    monkeypatch.setattr(steps, "FAST_TESTS", (str(tmp_path / "test_bad.py"), str(tmp_path / "test_good.py")))
    with pytest.raises(steps.StepFailed, match="unit tests failed: .*1 failed, 3 passed"):
        steps.automated_tests(context(tmp_path))


def test_the_benchmark_packages_the_candidate_and_enforces_the_budgets(tmp_path: Path) -> None:
    ctx = context(tmp_path / "within")
    ctx.split = split_dataset()
    ctx.training = (ctx.split.X_train, ctx.split.y_train)
    model = Recipe(params={"n_estimators": 5}).fit(ctx.split)
    ctx.result = SimpleNamespace(model=model, metrics=evaluate(model, ctx.split.X_val, ctx.split.y_val))
    assert "ONNX 1-row latency" in steps.performance_benchmark(ctx)
    assert {p.name for p in ctx.bundle.iterdir()} == {"model.onnx", "model.joblib", "model.pkl", "metadata.json"}
    tight = context(tmp_path / "over", max_size_mb=0.0001)
    tight.split, tight.training, tight.result = ctx.split, ctx.training, ctx.result
    with pytest.raises(steps.StepFailed, match="over budget: .*size"):
        steps.performance_benchmark(tight)
