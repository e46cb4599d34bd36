"""The committed notebooks are real: one clean top-to-bottom run, no errors, no stderr, no leftovers."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest

from helpers.common.paths import course_notebooks

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = course_notebooks()
IGNORING_TAGS = {"nbval-ignore-output", "nbval-skip"}
ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(root|home|tmp|Users|work)/[\w./-]+")


def notebook_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Return every hygiene problem found in one notebook (empty when it is clean)."""
    problems: list[str] = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.get("execution_count") for c in code]
    if counts != list(range(1, len(code) + 1)):
        problems.append(f"execution counts are {counts}, expected 1..{len(code)} (not one clean run)")
    if not nb.metadata.get("kernelspec", {}).get("name"):
        problems.append("no kernelspec")
    if "papermill" in nb.metadata or any("papermill" in c.metadata for c in nb.cells):
        problems.append("papermill metadata left in the notebook")
    tags = [set(c.metadata.get("tags", [])) for c in code]
    if not any("parameters" in t for t in tags):
        problems.append("no cell tagged 'parameters'")
    if any("injected-parameters" in t for t in tags):
        problems.append("a papermill injected-parameters cell was committed")
    first, last = nb.cells[0], nb.cells[-1]
    if first.cell_type != "markdown" or not first.source.startswith("# ") or "Learning objectives" not in first.source:
        problems.append("the first cell is not a title with learning objectives")
    if last.cell_type != "markdown" or "## Summary" not in last.source:
        problems.append("the last cell is not a summary")
    if not any("Your turn" in c.source for c in nb.cells if c.cell_type == "markdown"):
        problems.append("no 'Your turn' exercises")
    problems += teaching_problems(nb)
    for number, (cell, cell_tags) in enumerate(zip(code, tags, strict=True), start=1):
        for out in cell.get("outputs", []):
            if out.output_type == "error" and "raises-exception" not in cell_tags:
                problems.append(f"code cell {number}: error output {out.ename}")
            if out.output_type == "stream" and out.name == "stderr":
                problems.append(f"code cell {number}: stderr output {out.text[:80]!r}")
            if "image/svg+xml" in out.get("data", {}):
                problems.append(f"code cell {number}: SVG output (random ids never compare)")
            text = out.get("text", "") + out.get("data", {}).get("text/plain", "")
            if ABSOLUTE_PATH.search(text):
                problems.append(f"code cell {number}: an absolute machine path is printed")
    with_output = [t for c, t in zip(code, tags, strict=True) if c.get("outputs")]
    if not with_output:
        problems.append("no outputs at all")
    elif sum(not (t & IGNORING_TAGS) for t in with_output) < 0.8 * len(with_output):
        problems.append("fewer than 80% of output cells are compared by nbval")
    return problems


def is_placeholder(cell: nbformat.NotebookNode) -> bool:
    """Return True for a code cell a student fills in: only comments and blank lines."""
    return all(not line.strip() or line.lstrip().startswith("#") for line in cell.source.splitlines())


def teaching_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Return what breaks "show the mechanism": helper source dumped as output, solutions right under the exercises."""
    problems = []
    if any("getsource" in c.source for c in nb.cells if c.cell_type == "code"):
        problems.append("a cell prints helper source (inspect.getsource): show the mechanism as runnable code instead")
    for i, cell in enumerate(nb.cells[:-1]):
        after = nb.cells[i + 1]
        if cell.cell_type == "markdown" and "Your turn" in cell.source and after.cell_type == "code" \
                and not after.metadata.get("jupyter", {}).get("source_hidden") and not is_placeholder(after):
            problems.append("a worked solution sits right under the exercises: move it to '## Solutions' or hide it")
    return problems


def test_there_are_notebooks() -> None:
    core = [p for p in NOTEBOOKS if p.parent.name == "notebooks"]
    advanced = [p for p in NOTEBOOKS if p.parent.name == "advanced"]
    assert [p.name[:2] for p in core] == [f"{i:02d}" for i in range(1, 9)], "the eight chapter notebooks, 01 to 08"
    assert [p.name[:2] for p in advanced] == [f"A{i}" for i in range(1, len(advanced) + 1)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_clean(path: Path) -> None:
    assert notebook_problems(nbformat.read(path, as_version=4)) == []


def test_cleared_outputs_are_caught() -> None:
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    cleared = copy.deepcopy(nb)
    for cell in cleared.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    problems = notebook_problems(cleared)
    assert any("execution counts" in p for p in problems)
    assert any("no outputs" in p for p in problems)


def test_out_of_order_run_and_stderr_are_caught() -> None:
    nb = copy.deepcopy(nbformat.read(NOTEBOOKS[0], as_version=4))
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[1].execution_count = 7
    code[0].outputs.append(nbformat.v4.new_output("stream", name="stderr", text="UserWarning: something\n"))
    problems = notebook_problems(nb)
    assert any("execution counts" in p for p in problems)
    assert any("stderr" in p for p in problems)


def test_teaching_problems_are_caught() -> None:
    new = nbformat.v4
    nb = new.new_notebook(cells=[new.new_markdown_cell("## Your turn\n1. Do it."),
                                 new.new_code_cell("print(inspect.getsource(helpers.data.generate))")])
    assert len(teaching_problems(nb)) == 2
    nb.cells[1] = new.new_code_cell("answer = 42", metadata={"jupyter": {"source_hidden": True}})
    assert teaching_problems(nb) == []
    nb.cells[1] = new.new_code_cell("# your code here\n")
    assert teaching_problems(nb) == []


def test_sanitize_file_parses_as_intended() -> None:
    from nbval.plugin import get_sanitize_patterns

    text = (ROOT / "tests" / "nbval_sanitize.cfg").read_text()
    pairs = get_sanitize_patterns(text)
    assert len(pairs) == text.count("\nregex: "), "a regex line lost its replace line (blank line or no space?)"
    assert (r"[ \t]+", " ") in pairs, "the whitespace pattern must replace with exactly one space"
    subs = dict(pairs)
    sample = "trained in 0.50 s; p50 0.31 ms on 127.0.0.1:45123; 8 signal features; 1,234 req/s"
    for regex, replace in subs.items():
        sample = re.sub(regex, replace, sample)
    assert sample == "trained in DURATION; p50 DURATION on 127.0.0.1:PORT; 8 signal features; N req/s"
