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
import run_notebooks  # noqa: E402


def write(path: Path, *sources: str) -> None:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_run_stops_at_the_failing_notebook_and_names_it(tmp_path) -> None:
    write(tmp_path / "01_fine.ipynb", "print('fine')")
    write(tmp_path / "02_broken.ipynb", "x = 1", "raise ValueError('the data is gone')")
    write(tmp_path / "03_later.ipynb", "print('later')")
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--no-progress", "--jobs", "1",
                           "--notebooks", str(tmp_path), "--build", str(tmp_path / "build")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "02_broken.ipynb FAILED" in done.stderr and "ValueError: the data is gone" in done.stderr
    assert "1 later notebook(s) not run" in done.stderr
    assert "01_fine.ipynb" in done.stdout and "ok" in done.stdout and "slowest cell" in done.stdout
    assert not (tmp_path / "build" / "03_later.ipynb").exists()


STAMP = "import json, pathlib, time; t0 = time.time(); time.sleep({sleep}); " \
        "pathlib.Path({out!r}).write_text(json.dumps([t0, time.time()]))"


def test_run_waits_for_prerequisites_and_runs_independent_notebooks_together(tmp_path) -> None:
    import json

    times = tmp_path / "times"
    times.mkdir()
    for name, sleep in (("01_dataset", 0.5), ("02_training", 0.0), ("03_packaging", 2.0), ("04_serving", 0.0),
                        ("05_mlops_workflows", 2.0)):
        write(tmp_path / f"{name}.ipynb", STAMP.format(sleep=sleep, out=str(times / f"{name}.json")))
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--no-progress", "--jobs", "2",
                           "--notebooks", str(tmp_path), "--build", str(tmp_path / "build")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    span = {p.stem: json.loads(p.read_text()) for p in times.iterdir()}
    assert span["02_training"][0] >= span["01_dataset"][1], "02 started before the data it reads was written"
    assert min(span["03_packaging"][0], span["05_mlops_workflows"][0]) >= span["02_training"][1]
    assert span["04_serving"][0] >= span["03_packaging"][1]
    packaging, mlops = span["03_packaging"], span["05_mlops_workflows"]
    assert packaging[0] < mlops[1] and mlops[0] < packaging[1], "03 and 05 only need 02: they should have overlapped"


def test_the_most_awaited_ready_notebook_starts_first() -> None:
    assert run_notebooks.waiting_on("02_training") == 7  # all but 01 and A2, which needs only the dataset
    assert run_notebooks.waiting_on("05_mlops_workflows") == 4  # 06, 07, 08 and A1
    assert run_notebooks.waiting_on("03_packaging") == 1 and run_notebooks.waiting_on("08_dashboard") == 0


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
