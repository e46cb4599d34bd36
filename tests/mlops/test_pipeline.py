"""helpers.mlops.pipeline: steps run in order, the first failure stops the rest, a bad model never moves production."""

from __future__ import annotations

import pytest

from helpers.api import retraining, schemas
from helpers.mlops import deploy, pipeline, registry, steps
from helpers.model import Recipe, make_reference_model


def test_run_steps_stops_at_the_first_failure_and_skips_the_rest() -> None:
    ran, seen = [], []

    def step(name: str, outcome: str) -> pipeline.Step:
        def run(ctx: object) -> str:
            ran.append(name)
            if outcome == "fail":
                raise steps.StepFailed(f"{name} said no")
            if outcome == "crash":
                raise RuntimeError("benchmark machine on fire")
            return f"{name} ok"
        return pipeline.Step(name, run)

    results = pipeline.run_steps([step("a", "pass"), step("b", "fail"), step("c", "pass")], None, seen.append)
    assert [r.status for r in results] == ["passed", "failed", "skipped"] and ran == ["a", "b"]
    assert [r.number for r in seen] == [1, 2, 3] and results[1].details == "b said no"
    assert results[2].details == "not run: an earlier step failed" and results[2].seconds == 0
    crashed = pipeline.run_steps([step("x", "crash"), step("y", "pass")], None)
    assert crashed[0].status == "failed" and crashed[0].details == "error: RuntimeError: benchmark machine on fire"
    assert crashed[1].status == "skipped" and "y" not in ran


def test_the_candidates_are_04s_retraining_recipe_and_its_broken_twin() -> None:
    good, bad = pipeline.good_candidate(), pipeline.bad_candidate()
    assert (good.semver, bad.semver) == ("v1.0.1", "v1.0.2")
    api = retraining.recipe_of(schemas.RetrainRequest(extra_rows=good.recipe.extra_rows).model_dump())
    assert make_reference_model(**api.params).get_params() == make_reference_model(**good.recipe.params).get_params()
    assert (api.extra_rows, api.shuffle_labels) == (good.recipe.extra_rows, False) == (1_000, False)
    assert bad.recipe == Recipe(params=good.recipe.params, extra_rows=good.recipe.extra_rows, shuffle_labels=True)


def test_the_bad_candidate_stops_at_step_3_and_production_does_not_move(chapter) -> None:
    registry.set_alias("production", registry.version_of("v1.0.0"))
    before = registry.registry_table()
    run = pipeline.run_pipeline(pipeline.bad_candidate())
    assert [s.status for s in run.steps] == ["passed", "passed", "failed"] + ["skipped"] * 5
    assert run.steps[2].details.startswith("accuracy ") and "is below the gate" in run.steps[2].details
    assert (run.outcome, run.version) == ("failed", None)
    assert registry.registry_table().equals(before), "a failed run registers and promotes nothing"
    record = pipeline.load_record()
    assert (record["candidate"], record["semver"], record["outcome"]) == ("pipeline_bad", "v1.0.2", "failed")
    assert [s["status"] for s in record["steps"]] == [s.status for s in run.steps]
    assert (chapter.state.pipeline_dir / pipeline.RECORD_FILE).is_file()


@pytest.mark.slow
def test_a_good_candidate_goes_all_the_way_to_production(chapter) -> None:
    candidate = steps.Candidate("good", "v9.0.0", Recipe(params={"n_estimators": 15}, extra_rows=1_000))
    seen = []
    run = pipeline.run_pipeline(candidate, on_step=seen.append)
    assert [s.status for s in run.steps] == ["passed"] * 8, run.table()["details"].tolist()
    assert [s.number for s in seen] == list(range(1, 9))
    assert run.outcome == "deployed" and registry.alias_version("production") == run.version
    assert "6 of 6 contract checks passed" in run.steps[6].details
    card = deploy.production_card()
    assert card["version"] == "9.0.0" and card["registry"]["version"] == run.version
    assert pipeline.load_record()["outcome"] == "deployed"


def test_a_missing_record_says_how_to_make_it(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="05_mlops_workflows"):
        pipeline.load_record(tmp_path)
