"""Execute the course notebooks in order with papermill into build/ and print a time table.

Usage: python tools/run_notebooks.py [NAME ...]   (default: every notebooks/NN_*.ipynb)
Stops at the first notebook that fails, prints its name, cell and error, and exits with code 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# The kernel must see TQDM_DISABLE=1 (outputs are compared), but this runner's own progress bar should show:
# tqdm reads its environment once, when imported.
_tqdm_disable = os.environ.pop("TQDM_DISABLE", None)
import nbformat  # noqa: E402
import papermill  # noqa: E402
from papermill.exceptions import PapermillExecutionError  # noqa: E402

from helpers.common.paths import course_notebooks  # noqa: E402

if _tqdm_disable is not None:
    os.environ["TQDM_DISABLE"] = _tqdm_disable

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
BUDGET_NOTEBOOK_S = 20.0
BUDGET_CELL_S = 10.0
BUDGET_TOTAL_S = 90.0


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


def main() -> int:
    """Run the selected notebooks and print the table; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook file names (default: all)")
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
    rows, failures = [], []
    for i, nb in enumerate(notebooks, start=1):
        print(f"[{i}/{len(notebooks)}] {nb.name}", flush=True)
        seconds, error = run_one(nb, progress=not args.no_progress and sys.stderr.isatty(), build=args.build)
        status = "ok" if error is None else "FAILED"
        cell = slowest_cell(args.build / nb.name) if (args.build / nb.name).exists() else (0, 0.0, "")
        rows.append((nb.name, seconds, status, cell))
        print(f"      {status} in {seconds:.1f} s", flush=True)
        if error:
            failures.append(nb.name)
            print(f"\n{nb.name} FAILED: {error}\n", file=sys.stderr, flush=True)
            break

    total = sum(r[1] for r in rows)
    print(f"\n{'notebook':<28} {'time':>7}  {'status':<6}  slowest cell")
    for name, seconds, status, (number, cell_s, first) in rows:
        flag = "  over budget" if seconds > BUDGET_NOTEBOOK_S or cell_s > BUDGET_CELL_S else ""
        print(f"{name:<28} {seconds:6.1f}s  {status:<6}  #{number:<3} {cell_s:5.1f}s  {first}{flag}")
    print(f"{'total':<28} {total:6.1f}s  (budgets: {BUDGET_TOTAL_S:.0f} s in all, "
          f"{BUDGET_NOTEBOOK_S:.0f} s a notebook, {BUDGET_CELL_S:.0f} s a cell)")
    print(f"executed copies are in {os.path.relpath(args.build)}/")
    if failures:
        skipped = len(notebooks) - len(rows)
        print(f"\nFAILED: {', '.join(failures)}" + (f" ({skipped} later notebook(s) not run)" if skipped else ""),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
