"""helpers.pipeline: eight real steps, stop at the first failure, nothing promoted after one, a scan that bites."""

from __future__ import annotations

import pickle

import pytest
from sklearn.ensemble import RandomForestClassifier

from helpers import pipeline, tracking


@pytest.fixture(scope="module")
def store(tmp_path_factory, isolated_tracking):
    """A fresh MLflow store and pipeline folder in a temp directory (never the real artifacts/)."""
    directory = tmp_path_factory.mktemp("pipeline-store")
    isolated_tracking.setattr(pipeline, "PIPELINE_DIR", directory / "pipeline")
    isolated_tracking.setattr(pipeline, "FAST_TESTS", ("tests/test_environment.py",))
    tracking.configure(reset=True, directory=directory)
    return directory


def small(name: str, semver: str, **kwargs) -> pipeline.Candidate:
    return pipeline.Candidate(name, semver, lambda: RandomForestClassifier(n_estimators=15, random_state=42),
                              {"n_estimators": 15}, **kwargs)


def test_a_good_candidate_goes_all_the_way(store) -> None:
    seen = []
    run = pipeline.run_pipeline(small("good", "v9.0.0"), pipeline.Gates(min_accuracy=0.5), on_step=seen.append)
    assert [s.status for s in run.steps] == ["passed"] * 8, run.table()["details"].tolist()
    assert [s.number for s in seen] == list(range(1, 9))
    assert run.outcome == "deployed" and run.version is not None
    assert tracking.registry_table().set_index("version").loc[int(run.version), "aliases"] == "production"
    assert "6 of 6 contract checks passed" in run.steps[6].details
    record = pipeline.load_record(store / "pipeline")
    assert record["outcome"] == "deployed" and len(record["steps"]) == 8


def test_a_bad_candidate_stops_at_the_gate_and_nothing_moves(store) -> None:
    before = tracking.registry_table()
    run = pipeline.run_pipeline(small("bad", "v9.1.0", shuffle_labels=True), pipeline.Gates(min_accuracy=0.5))
    statuses = [s.status for s in run.steps]
    assert statuses == ["passed", "passed", "failed"] + ["skipped"] * 5
    assert "fails the gate" in run.steps[2].details
    assert run.outcome == "failed" and run.version is None
    assert tracking.registry_table().equals(before), "a failed run must not register or promote anything"
    assert pipeline.load_record(store / "pipeline")["outcome"] == "failed"


def test_a_crashing_step_is_reported_and_later_steps_skipped(store, monkeypatch) -> None:
    def boom(ctx):
        raise RuntimeError("benchmark machine on fire")

    steps = list(pipeline.STEPS)
    steps[3] = boom
    monkeypatch.setattr(pipeline, "STEPS", tuple(steps))
    run = pipeline.run_pipeline(small("crash", "v9.2.0"), pipeline.Gates(min_accuracy=0.5), record=False)
    assert run.steps[3].status == "failed", run.table()["details"].tolist()
    assert "benchmark machine on fire" in run.steps[3].details
    assert all(s.status == "skipped" for s in run.steps[4:])


def test_budgets_fail_the_benchmark(store) -> None:
    run = pipeline.run_pipeline(small("heavy", "v9.3.0"), pipeline.Gates(min_accuracy=0.5, max_size_mb=0.001),
                                record=False)
    assert run.steps[3].status == "failed" and "over budget" in run.steps[3].details


class _Payload:
    def __reduce__(self):
        return (exec, ("raise SystemExit('the scan ran the payload')",))


def test_pickle_scan_names_imports_without_running_them(tmp_path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Payload()))
    assert pipeline.pickle_imports(path) == ["builtins.exec"]
    model_path = tmp_path / "model.pkl"
    model_path.write_bytes(pickle.dumps(RandomForestClassifier(n_estimators=2).fit([[0], [1]], [0, 1])))
    assert all(name.startswith(pipeline.SAFE_PICKLE_MODULES) for name in pipeline.pickle_imports(model_path))


def test_missing_record_says_how_to_make_it(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="05_mlops_workflows"):
        pipeline.load_record(tmp_path)
