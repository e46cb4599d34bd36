"""Numbers in a notebook's prose match what its code computed: no stale figure survives a change of output."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from helpers.common.paths import course_notebooks

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = course_notebooks()

# A number in prose: 1,400 / 0.25 / 14.1 / 45% (single digits are too common to check: "step 3", "2 cores").
NUMBER = re.compile(r"(?<![\w.#/-])(\d{1,3}(?:,\d{3})+|\d+\.\d+|\d{2,})(%?)(?![\w])")
WORDS = {"four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
         "twelve": 12, "twenty": 20}
WORD = re.compile(r"\b(" + "|".join(WORDS) + r")\b", re.IGNORECASE)
# What prose may quote without computing it: code, formulas, links, headings, notebook numbers, reading time.
IGNORED_SPANS = re.compile(
    r"`[^`]*`|\$[^$]*\$|\[[^\]]*\]\([^)]*\)|https?://\S+|^#+ .*$"
    r"|\b[Nn]otebooks? \d\d(?:[–-]\d\d)?\b|\bEstimated time:\*\* \d+ minutes", re.MULTILINE)

# Fixed facts the prose states (conventions, limits, versions, references), per notebook. Anything measured
# belongs in an output, not here.
FACTS: dict[str, set[str]] = {
    "01_dataset": {"50"},  # "50/50": what balanced means
    "02_training": {"50", "50%", "100"},  # the balance, the forest's size
    "03_packaging": {"100"},  # the forest's 100 trees
    "04_serving": {"200", "202", "401", "500", "1000", "8000"},  # status codes, the batch limit, the port
    "05_mlops_workflows": {"3.11"},  # CI's Python
    "07_infrastructure": {"1.26", "44", "70%"},  # a Kubernetes release, the figures, the HPA target
}

def prose_numbers(source: str) -> list[tuple[str, bool]]:
    """Return (number, spelled out?) for every checked number of a markdown cell, without thousands commas."""
    text = IGNORED_SPANS.sub(" ", source)
    found = [(m.group(1).replace(",", "") + m.group(2), False) for m in NUMBER.finditer(text)]
    found += [(str(WORDS[w.lower()]), True) for w in WORD.findall(text)]
    return found


def computed_text(cells: list[nbformat.NotebookNode], code: bool = True) -> str:
    """Return the text outputs (and, if `code`, the source) of the code cells in `cells`, without thousands commas."""
    parts = []
    for cell in cells:
        if cell.cell_type != "code":
            continue
        if code:
            parts.append(cell.source)
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") + out.get("data", {}).get("text/plain", "")
                         + out.get("data", {}).get("text/markdown", ""))
    return re.sub(r"(?<=\d),(?=\d{3})", "", "\n".join(parts))


def sections(nb: nbformat.NotebookNode) -> list[list[nbformat.NotebookNode]]:
    """Return the notebook's cells grouped by level-2 heading ("## ..."): the prose and the code it talks about."""
    groups: list[list[nbformat.NotebookNode]] = [[]]
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            groups.append([])
        groups[-1].append(cell)
    return [g for g in groups if g]


def unbacked(nb: nbformat.NotebookNode, facts: set[str]) -> list[str]:
    """Return the prose numbers that neither the code nor the outputs of their section show (nor known facts).

    The title cell, the summary and the exercises speak of the whole notebook: they are checked against all of it.
    A spelled-out number ("ten points") is a claim about a result: only an output can back it, not the code.
    """
    missing = []
    for number_of_section, cells in enumerate(sections(nb)):
        heading = cells[0].source.splitlines()[0] if cells[0].cell_type == "markdown" else ""
        scope = nb.cells if number_of_section == 0 or heading.startswith(("## Summary", "## Your turn")) else cells
        backing = {True: computed_text(scope, code=False), False: computed_text(scope)}
        for cell in (c for c in cells if c.cell_type == "markdown"):
            for number, spelled in prose_numbers(cell.source):
                value = number.rstrip("%")
                if number in facts or re.search(rf"(?<![\d.]){re.escape(value)}(?![\d])", backing[spelled]):
                    continue
                missing.append(f"{number!r} in: {cell.source.strip().splitlines()[0][:70]}")
    return missing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_number_in_the_prose_is_computed_by_the_notebook(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert unbacked(nb, FACTS.get(path.stem, set())) == []


@pytest.mark.parametrize("stem", sorted(FACTS))
def test_every_allowed_fact_is_still_needed(stem: str) -> None:
    nb = nbformat.read(next(p for p in NOTEBOOKS if p.stem == stem), as_version=4)
    stale = [fact for fact in sorted(FACTS[stem]) if unbacked(nb, FACTS[stem] - {fact}) == []]
    assert stale == [], f"backed by the notebook's own output now: drop them from FACTS[{stem!r}]"


def test_a_stale_number_is_caught() -> None:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Accuracy fell by about ten points, to 0.7554, on 1,300 requests."),
        nbformat.v4.new_code_cell("print(acc)", outputs=[nbformat.v4.new_output(
            "stream", name="stdout", text="accuracy 0.7554 on 1,300 requests, 14.1 points lower\n")]),
    ])
    assert unbacked(nb, set()) == ["'10' in: Accuracy fell by about ten points, to 0.7554, on 1,300 requests."]
    assert unbacked(nb, {"10"}) == []
