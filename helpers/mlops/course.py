"""Notebook 05's workflow as one function: what a notebook opened cold (06, 08) replays to get the same registry."""

from __future__ import annotations

from helpers.mlops import pipeline, registry, runs, store


def run_course_workflow() -> list[pipeline.PipelineRun]:
    """Replay notebook 05 on an empty local store: four experiments, the registry, a promotion and its rollback,
    then the pipeline on the good candidate (deployed) and on the bad one (stopped); return the two runs."""
    store.configure(reset=True)
    runs.run_chapter_experiments()
    registry.register_chapter_versions()
    registry.promote(registry.version_of("v1.1.0"))
    registry.rollback()
    return [pipeline.run_pipeline(pipeline.good_candidate()), pipeline.run_pipeline(pipeline.bad_candidate())]


def ensure_course_workflow() -> None:
    """Return once the registry has a production version and the pipeline left its record; replay notebook 05 if not."""
    try:
        ready = registry.alias_version("production") is not None and pipeline.load_record() is not None
    except (store.TrackingError, FileNotFoundError):
        ready = False
    if not ready:
        run_course_workflow()
