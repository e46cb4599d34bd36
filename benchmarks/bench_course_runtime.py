"""How long the course takes to run: every notebook executed several times, medians against the budgets.

Usage: python benchmarks/bench_course_runtime.py [--runs N]
Budgets (DESIGN §9): all notebooks under 90 s, none over 20 s, no cell over 10 s, environment installed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import run_notebooks as runner  # noqa: E402

from helpers.common.paths import course_notebooks  # noqa: E402


def main() -> int:
    """Execute the notebooks `--runs` times in order and print median times per notebook and in total."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    notebooks = course_notebooks(runner.NOTEBOOKS)
    runner.BUILD.mkdir(exist_ok=True)
    times: dict[str, list[float]] = {nb.name: [] for nb in notebooks}
    cells: dict[str, list[float]] = {nb.name: [] for nb in notebooks}
    totals = []
    for run in range(1, args.runs + 1):
        total = 0.0
        for nb in notebooks:
            seconds, error = runner.run_one(nb, progress=False)
            if error:
                print(f"run {run}: {nb.name} failed: {error}", file=sys.stderr)
                return 1
            times[nb.name].append(seconds)
            cells[nb.name].append(runner.slowest_cell(runner.BUILD / nb.name)[1])
            total += seconds
        totals.append(total)
        print(f"run {run}: {total:.1f} s", flush=True)
    print(f"\n{'notebook':<28}{'median':>9}{'max':>9}{'slowest cell (median)':>24}")
    for name in times:
        flag = "  over budget" if statistics.median(times[name]) > runner.BUDGET_NOTEBOOK_S else ""
        print(f"{name:<28}{statistics.median(times[name]):8.1f}s{max(times[name]):8.1f}s"
              f"{statistics.median(cells[name]):23.1f}s{flag}")
    met = statistics.median(totals) <= runner.BUDGET_TOTAL_S
    print(f"{'total':<28}{statistics.median(totals):8.1f}s{max(totals):8.1f}s"
          f"   budget {runner.BUDGET_TOTAL_S:.0f} s: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
