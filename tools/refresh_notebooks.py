"""Re-execute the committed notebooks in place, in order, and strip metadata noise (for authors).

Usage: python tools/refresh_notebooks.py [NAME ...]
Keeps `kernelspec`, `language_info` and cell tags; drops execution timestamps, papermill and widget state,
so two refreshes in a row leave `git diff` empty unless an output really changed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from helpers.common.paths import course_notebooks  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NOISY_CELL_KEYS = ("execution", "papermill", "collapsed", "scrolled", "jupyter")
NOISY_NOTEBOOK_KEYS = ("papermill", "widgets", "toc", "vscode")


def strip_noise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove volatile metadata from a notebook, keeping kernelspec, language_info, tags and hidden sources."""
    for key in NOISY_NOTEBOOK_KEYS:
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        hidden = cell.metadata.get("jupyter", {}).get("source_hidden")
        for key in NOISY_CELL_KEYS:
            cell.metadata.pop(key, None)
        if hidden:  # a worked solution, collapsed until the student opens it: the one jupyter key worth keeping
            cell.metadata["jupyter"] = {"source_hidden": True}
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
                if "metadata" in output:
                    output["metadata"] = {}
    return nb


def refresh(path: Path) -> None:
    """Execute one notebook top to bottom in its own folder and save it in place."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                            record_timing=False, extra_arguments=["--IPKernelApp.log_level=ERROR"])
    client.execute()
    nbformat.write(strip_noise(nb), path)


def main() -> int:
    """Refresh the selected notebooks (default: all) and return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    notebooks = course_notebooks(NOTEBOOKS)
    if args.names:
        notebooks = [n for n in notebooks if n.name in args.names or n.stem in args.names]
    for nb in notebooks:
        start = time.perf_counter()
        try:
            refresh(nb)
        except CellExecutionError as exc:
            print(f"{nb.name} FAILED:\n{exc}", file=sys.stderr)
            return 1
        print(f"refreshed {nb.name} in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
