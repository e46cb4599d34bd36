"""helpers.mlops.course: notebook 05 as one function, leaving the registry and the record as the notebook does."""

from __future__ import annotations

import nbformat
import pytest

from helpers.common import paths
from helpers.mlops import course, deploy, pipeline, registry, store

NOTEBOOK = paths.NOTEBOOKS_DIR / "05_mlops_workflows.ipynb"
FINAL_STATE_CELL = "c037"
"""The notebook cell that prints the pipeline record and shows the final registry table."""


def notebook_final_state() -> tuple[str, list[list[str]]]:
    """Return (the record line, the registry rows) as notebook 05's committed outputs show them."""
    cell = next(c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.get("id") == FINAL_STATE_CELL)
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    table = next(o.data["text/plain"] for o in cell.outputs if "data" in o)
    rows = []
    for line in table.splitlines()[2:]:  # below the header and the index-name line
        words = line.split()
        rows.append([*words[:4], " ".join(words[4:-1]), words[-1]])  # the aliases may be empty or several
    return text.splitlines()[0], rows


def record_line(record: dict) -> str:
    """Return the record as the notebook prints it."""
    steps = ", ".join(f"{s['number']} {s['status']}" for s in record["steps"])
    return (f"{paths.relative(paths.PIPELINE_DIR / pipeline.RECORD_FILE)}: {record['candidate']} {record['semver']}, "
            f"outcome {record['outcome']}; steps {steps}")


@pytest.mark.slow
def test_the_workflow_leaves_v1_0_1_in_production_and_the_bad_run_on_record(mlops_state) -> None:
    good, bad = course.run_course_workflow()
    assert (good.outcome, good.semver, bad.outcome, bad.semver) == ("deployed", "v1.0.1", "failed", "v1.0.2")
    table = registry.registry_table()
    assert table["semver"].tolist() == ["v1.0.0", "v1.1.0", "v2.0.0", "v2.1.0", "v1.0.1"]
    assert table["aliases"].tolist() == ["", "", "", "", "production"]
    assert registry.history() == ["1"], "v1.1.0's promotion was rolled back, then v1.0.1 replaced v1.0.0"
    record = pipeline.load_record()
    assert record["outcome"] == "failed" and [s["status"] for s in record["steps"]][:4] == [
        "passed", "passed", "failed", "skipped"]
    card = deploy.production_card()
    assert card["version"] == "1.0.1" and card["registry"]["version"] == good.version == "5"
    # The same final state as running notebook 05 (its committed outputs), which notebooks 06 and 08 rely on.
    line, rows = notebook_final_state()
    assert record_line(record).split(": ", 1)[1] == line.split(": ", 1)[1]
    shown = [[str(r.version), r.semver, r.algorithm, f"{r.accuracy:.4f}", r.aliases, r.status]
             for r in table.itertuples()]
    assert shown == rows


def test_ensure_course_workflow_replays_only_what_is_missing(mlops_state, monkeypatch) -> None:
    replays = []
    monkeypatch.setattr(course, "run_course_workflow", lambda: replays.append("replayed"))
    store.configure(reset=True)
    course.ensure_course_workflow()
    assert replays == ["replayed"], "an empty registry is replayed"
    monkeypatch.setattr(registry, "alias_version", lambda alias: "5")
    monkeypatch.setattr(pipeline, "load_record", lambda: {"outcome": "failed"})
    course.ensure_course_workflow()
    assert replays == ["replayed"], "a registry with a production version and a record is left alone"
