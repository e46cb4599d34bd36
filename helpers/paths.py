"""Where the course keeps its files, anchored on the repository root (never the current directory)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT: Path = Path(__file__).resolve().parent.parent
"""The repository root: the folder that holds `helpers/` and `notebooks/`."""

_STATE = os.environ.get("COURSE_STATE_DIR")
STATE_ROOT: Path = Path(_STATE).resolve() if _STATE else ROOT
"""Where generated data and artifacts live: the repo root, or `$COURSE_STATE_DIR` (used by tests)."""

DATA_DIR: Path = STATE_ROOT / "data"
ARTIFACTS_DIR: Path = STATE_ROOT / "artifacts"
_FIGURES = os.environ.get("COURSE_FIGURES_DIR")
FIGURES_DIR: Path = (Path(_FIGURES).resolve() if _FIGURES
                     else STATE_ROOT / "figures" if _STATE else ROOT / "build" / "figures")
"""Where notebooks save figures: build/figures/ (git-ignored), so running a notebook leaves the tree clean.

`make refresh` sets `$COURSE_FIGURES_DIR` to the committed figures/ folder that the README shows; under
`$COURSE_STATE_DIR` (tests) figures go to a scratch folder inside it."""
NOTEBOOKS_DIR: Path = ROOT / "notebooks"
DEPLOY_DIR: Path = ROOT / "deploy"
MODEL_DIR: Path = ARTIFACTS_DIR / "model"


def ensure_dirs() -> None:
    """Create the data, artifacts and figures folders if they are missing."""
    for folder in (DATA_DIR, ARTIFACTS_DIR, FIGURES_DIR):
        folder.mkdir(parents=True, exist_ok=True)


def relative(path: Path) -> str:
    """Return `path` relative to the repository root, for printing (never an absolute machine path)."""
    path = Path(path).resolve()
    for base in (STATE_ROOT, ROOT):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.name
