"""How long the course takes, as a multiple of this machine's import floor F, measured in the same run.

Usage: python benchmarks/bench_course_runtime.py [--runs N] [--with-tests]
F is the median time of a cold `python -c "import pandas, sklearn.ensemble, matplotlib.pyplot"`: what any
notebook pays before its first line of course code. Absolute seconds differ between machines; ratios to F much less.
Each run executes the course twice: one notebook at a time (what an instructor presenting one notebook waits:
per-notebook and per-cell times) and as `make run` does, two at a time where the course allows (T, wall clock).
Goals (issue 15): T <= 25 F, no notebook over 4 F, no cell over 2 F; `make test` (warm) <= 60 F.
Every cell's time is saved to build/profile/course_cells.csv (the per-cell profile of the last run).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import run_notebooks as runner  # noqa: E402

from helpers.common.paths import BUILD_DIR, ROOT, course_notebooks  # noqa: E402

FLOOR_IMPORTS = "import pandas, sklearn.ensemble, matplotlib.pyplot"
GOALS = {"total": 25.0, "notebook": 4.0, "cell": 2.0, "make test": 60.0}


def import_floor() -> float:
    """Return the seconds of one cold interpreter importing pandas, scikit-learn's ensembles and pyplot."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR_IMPORTS], check=True)
    return time.perf_counter() - start


def cell_times(path: Path) -> list[tuple[int, float, str]]:
    """Return (code-cell number, seconds, first source line) for every cell of an executed notebook."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    rows = []
    for number, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        seconds = float((cell.metadata.get("papermill") or {}).get("duration") or 0.0)
        rows.append((number, seconds, next((ln for ln in cell.source.splitlines() if ln.strip()), "")[:60]))
    return rows


def run_course(notebooks: list[Path], jobs: int, profile: list[tuple]) -> tuple[float, dict[str, float]] | None:
    """Run the course as `make run` does with `jobs` at a time; return (wall seconds, {name: seconds}) or None.

    With one job at a time every notebook's and cell's time is its own (filled into `profile`).
    """
    start = time.perf_counter()
    done = runner.run_all(notebooks, jobs, False, runner.BUILD)
    wall = time.perf_counter() - start
    failed = {name: error for name, (_, error) in done.items() if error}
    if failed or len(done) < len(notebooks):
        print(f"the course failed: {failed}", file=sys.stderr)
        return None
    if jobs == 1:
        profile += [(nb.name, *row) for nb in notebooks for row in cell_times(runner.BUILD / nb.name)]
    return wall, {f"{name}.ipynb": seconds for name, (seconds, _) in done.items()}


def verdict(ratio: float, goal: float) -> str:
    """Return 'met' or 'NOT met' for a ratio against its goal."""
    return "met" if ratio <= goal else "NOT met"


def main() -> int:
    """Measure F and the course `--runs` times (interleaved), print medians as multiples of F, save the profile."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--with-tests", action="store_true", help="also time one warm `make test`")
    args = parser.parse_args()
    notebooks = course_notebooks(runner.NOTEBOOKS)
    runner.BUILD.mkdir(exist_ok=True)
    floors, serial, walls, profile = [], [], [], []
    for run in range(1, args.runs + 1):
        floors += [import_floor() for _ in range(2)]
        profile.clear()
        one_by_one = run_course(notebooks, 1, profile)
        as_make_run = run_course(notebooks, 2, [])
        if one_by_one is None or as_make_run is None:
            return 1
        serial.append(one_by_one[1])
        walls.append(as_make_run[0])
        print(f"run {run}: make run {as_make_run[0]:.1f} s (two at a time); one by one {one_by_one[0]:.1f} s; "
              f"F so far {statistics.median(floors):.2f} s", flush=True)
    F = statistics.median(floors)
    per_notebook = {name: statistics.median(r[name] for r in serial) for name in serial[0]}
    total, one_by_one_total = statistics.median(walls), statistics.median(sum(r.values()) for r in serial)
    slowest = {name: max((s for n, _, s, _ in profile if n == name), default=0.0) for name in per_notebook}
    print(f"\nimport floor F = {F:.2f} s (median of {len(floors)} cold imports: {FLOOR_IMPORTS})\n")
    print(f"{'notebook (run one at a time)':<32}{'median':>9}{'x F':>7}{'slowest cell x F':>18}")
    for name, seconds in per_notebook.items():
        print(f"{name:<32}{seconds:8.1f}s{seconds / F:7.1f}{slowest[name] / F:18.1f}")
    print(f"{'one after the other':<32}{one_by_one_total:8.1f}s{one_by_one_total / F:7.1f}")
    print(f"{'T: make run (two at a time)':<32}{total:8.1f}s{total / F:7.1f}")
    worst_nb, worst_cell = max(per_notebook.values()) / F, max(slowest.values()) / F
    print(f"\ngoals: T <= {GOALS['total']:g} F: {verdict(total / F, GOALS['total'])} ({total / F:.1f} F); "
          f"every notebook <= {GOALS['notebook']:g} F: {verdict(worst_nb, GOALS['notebook'])} ({worst_nb:.1f} F); "
          f"every cell <= {GOALS['cell']:g} F: {verdict(worst_cell, GOALS['cell'])} ({worst_cell:.1f} F)")
    out = BUILD_DIR / "profile" / "course_cells.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        csv.writer(fh).writerows([("notebook", "cell", "seconds", "first_line"), *profile])
    print(f"per-cell profile of the last run: {out.relative_to(ROOT)}")
    if args.with_tests:
        start = time.perf_counter()
        done = subprocess.run(["make", "test"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        print(f"make test (warm): {seconds:.0f} s = {seconds / F:.0f} F, exit code {done.returncode}; "
              f"goal <= {GOALS['make test']:g} F: {verdict(seconds / F, GOALS['make test'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
