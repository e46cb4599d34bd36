"""The authors' tools: `make run` stops at a failing notebook and names it; refresh keeps tags, drops noise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import refresh_notebooks  # noqa: E402


def write(path: Path, *sources: str) -> None:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_run_stops_at_the_failing_notebook_and_names_it(tmp_path) -> None:
    write(tmp_path / "01_fine.ipynb", "print('fine')")
    write(tmp_path / "02_broken.ipynb", "x = 1", "raise ValueError('the data is gone')")
    write(tmp_path / "03_later.ipynb", "print('later')")
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--no-progress",
                           "--notebooks", str(tmp_path), "--build", str(tmp_path / "build")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "02_broken.ipynb FAILED" in done.stderr and "ValueError: the data is gone" in done.stderr
    assert "1 later notebook(s) not run" in done.stderr
    assert "01_fine.ipynb" in done.stdout and "ok" in done.stdout and "slowest cell" in done.stdout
    assert not (tmp_path / "build" / "03_later.ipynb").exists()


def test_strip_noise_keeps_kernelspec_and_tags_and_drops_the_rest() -> None:
    noisy = {"tags": ["parameters"], "execution": {"iopub.status.idle": "2026-01-01T00:00:00Z"},
             "papermill": {"duration": 1.0}, "jupyter": {"outputs_hidden": True}}
    solution = {"jupyter": {"source_hidden": True, "outputs_hidden": False}, "scrolled": True}
    nb = new_notebook(cells=[new_code_cell("x = 1", metadata=noisy), new_code_cell("y = 2", metadata=solution)])
    nb.metadata.update({"kernelspec": {"name": "python3"}, "papermill": {"x": 1}, "widgets": {"state": {}}})
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={
        "text/plain": "w", "application/vnd.jupyter.widget-view+json": {"model_id": "abc"}}, metadata={"a": 1})]
    cleaned = refresh_notebooks.strip_noise(nb)
    assert cleaned.metadata == {"kernelspec": {"name": "python3"}}
    assert cleaned.cells[0].metadata == {"tags": ["parameters"]}
    assert cleaned.cells[1].metadata == {"jupyter": {"source_hidden": True}}
    assert cleaned.cells[0].outputs[0]["data"] == {"text/plain": "w"}
    assert cleaned.cells[0].outputs[0]["metadata"] == {}
