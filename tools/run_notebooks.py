"""Execute the course notebooks with papermill into build/, two at a time where the course allows, and time them.

Usage: python tools/run_notebooks.py [NAME ...] [--jobs N] [--no-progress]
A notebook starts once the notebooks whose artifacts it reads have finished (AFTER below), so the in-order
hand-over of data, models, the registry and the monitoring week is kept; independent notebooks share the two
cores. At the first failure nothing new starts; the runner names the notebook, its cell and error, and exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

# The kernel must see TQDM_DISABLE=1 (outputs are compared), but this runner's own progress bar should show:
# tqdm reads its environment once, when imported.
_tqdm_disable = os.environ.pop("TQDM_DISABLE", None)
import nbformat  # noqa: E402
import papermill  # noqa: E402
from papermill.exceptions import PapermillExecutionError  # noqa: E402

if _tqdm_disable is not None:
    os.environ["TQDM_DISABLE"] = _tqdm_disable

from helpers.common.paths import course_notebooks  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
AFTER: dict[str, tuple[str, ...]] = {
    "02_training": ("01_dataset",),  # the dataset
    "03_packaging": ("02_training",),  # the reference forest
    "04_serving": ("03_packaging",),  # the bundle it serves
    "05_mlops_workflows": ("02_training",),  # the reference forest, logged by hand
    "06_monitoring": ("05_mlops_workflows",),  # the production bundle
    "07_infrastructure": ("05_mlops_workflows",),  # the production bundle in the image
    "08_dashboard": ("06_monitoring", "07_infrastructure"),  # the registry, the week, the load test
    "A1_rollouts_and_ab_tests": ("05_mlops_workflows",),  # the registry and the production bundle (read only)
    "A2_compression_and_edge": ("01_dataset",),  # the data and the split
}
"""Which notebooks must have finished before a notebook starts: the ones that write what it reads."""


def waiting_on(name: str) -> int:
    """Return how many notebooks wait, directly or not, for `name`: of the ready ones, the most awaited runs first."""
    return sum(reaches(other, name) for other in AFTER)


def reaches(name: str, prerequisite: str) -> bool:
    """Return True if `name` needs `prerequisite`, directly or through other notebooks."""
    return any(p == prerequisite or reaches(p, prerequisite) for p in AFTER.get(name, ()))


def slowest_cell(path: Path) -> tuple[int, float, str]:
    """Return (code-cell number, seconds, first source line) of the slowest cell in an executed notebook."""
    nb = nbformat.read(path, as_version=4)
    best = (0, 0.0, "")
    for number, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        duration = (cell.metadata.get("papermill") or {}).get("duration") or 0.0
        if duration > best[1]:
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            best = (number, float(duration), first[:40])
    return best


def run_one(notebook: Path, progress: bool, build: Path = BUILD) -> tuple[float, str | None]:
    """Execute one notebook into `build`, in the notebook's own folder; return (seconds, error text or None)."""
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook), str(build / notebook.name), cwd=str(notebook.parent),
            progress_bar=progress, request_save_on_cell_execute=False,
            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no kernel start-up chatter in the terminal
        )
    except PapermillExecutionError as exc:
        return time.perf_counter() - start, (
            f"cell {exc.exec_count} raised {exc.ename}: {exc.evalue}\n" + "\n".join(exc.traceback[-6:])
        )
    except Exception as exc:  # noqa: BLE001 - a kernel that dies or times out is reported, not raised
        return time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
    return time.perf_counter() - start, None


def run_all(notebooks: list[Path], jobs: int, progress: bool, build: Path) -> dict[str, tuple[float, str | None]]:
    """Run the notebooks, `jobs` at a time, each once its prerequisites (among `notebooks`) are done.

    Return {name: (seconds, error or None)} for every notebook that ran; after a failure nothing new starts.
    """
    names = {nb.stem for nb in notebooks}
    pending = list(notebooks)
    done: dict[str, tuple[float, str | None]] = {}
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running: dict[Future, Path] = {}
        while pending or running:
            failed = any(error for _, error in done.values())
            ready = [] if failed else [nb for nb in pending if all(p in done or p not in names
                                                                   for p in AFTER.get(nb.stem, ()))]
            ready.sort(key=lambda nb: -waiting_on(nb.stem))  # stable: equals keep the reading order
            for nb in ready[: jobs - len(running)]:
                pending.remove(nb)
                with lock:
                    print(f"[{len(done) + len(running) + 1}/{len(notebooks)}] {nb.name} started", flush=True)
                running[pool.submit(run_one, nb, progress and jobs == 1, build)] = nb
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                nb = running.pop(future)
                done[nb.stem] = future.result()
                seconds, error = done[nb.stem]
                print(f"      {nb.name} {'ok' if error is None else 'FAILED'} in {seconds:.1f} s", flush=True)
    return done


def main() -> int:
    """Run the selected notebooks and print the table; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook file names (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at the same time (default 2)")
    parser.add_argument("--no-progress", action="store_true", help="hide papermill's per-cell progress bar")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="folder of the notebooks to run")
    parser.add_argument("--build", type=Path, default=BUILD, help="folder for the executed copies")
    args = parser.parse_args()
    notebooks = course_notebooks(args.notebooks)
    if args.names:
        notebooks = [n for n in notebooks if n.name in args.names or n.stem in args.names]
    if not notebooks:
        print("no notebooks to run", file=sys.stderr)
        return 1
    args.build.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    done = run_all(notebooks, max(1, args.jobs), not args.no_progress and sys.stderr.isatty(), args.build)
    wall = time.perf_counter() - start
    print(f"\n{'notebook':<34} {'time':>7}  {'status':<6}  slowest cell")
    for nb in (n for n in notebooks if n.stem in done):
        seconds, error = done[nb.stem]
        number, cell_s, first = slowest_cell(args.build / nb.name) if (args.build / nb.name).exists() else (0, 0, "")
        print(f"{nb.name:<34} {seconds:6.1f}s  {'ok' if error is None else 'FAILED':<6}  #{number:<3} {cell_s:5.1f}s  "
              f"{first}")
    print(f"{'total':<34} {wall:6.1f}s  wall clock, {args.jobs} at a time "
          f"(the notebooks' own times add up to {sum(s for s, _ in done.values()):.1f} s)")
    print(f"executed copies are in {os.path.relpath(args.build)}/; speed: benchmarks/bench_course_runtime.py")
    failures = [(name, error) for name, (_, error) in done.items() if error]
    for name, error in failures:
        print(f"\n{name}.ipynb FAILED: {error}", file=sys.stderr)
    if failures:
        skipped = len(notebooks) - len(done)
        print(f"\nFAILED: {', '.join(f'{n}.ipynb' for n, _ in failures)}"
              + (f" ({skipped} later notebook(s) not run)" if skipped else ""), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
