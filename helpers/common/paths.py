"""Where the course keeps its files, anchored on the repository root (never the current directory).

Every folder the course writes is defined here, once. Generated data and artifacts live under the repository
root, or under `$COURSE_STATE_DIR` when it is set (tests and nbval use a scratch folder).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT: Path = Path(__file__).resolve().parents[2]
"""The repository root: the folder that holds `helpers/` and `notebooks/`."""

_STATE = os.environ.get("COURSE_STATE_DIR")
STATE_ROOT: Path = Path(_STATE).resolve() if _STATE else ROOT
"""Where generated data and artifacts live: the repo root, or `$COURSE_STATE_DIR`."""

NOTEBOOKS_DIR: Path = ROOT / "notebooks"
DEPLOY_DIR: Path = ROOT / "deploy"
BUILD_DIR: Path = ROOT / "build"
CACHE_DIR: Path = BUILD_DIR / "cache"
"""What depends only on the installed packages, never on course state (e.g. MLflow's migrated empty database):
made once per machine and shared by every state folder, so a notebook opened cold does not redo it."""

DATA_DIR: Path = STATE_ROOT / "data"
"""dataset.csv, production_pool.csv and schema.json (notebook 01)."""
ARTIFACTS_DIR: Path = STATE_ROOT / "artifacts"
REFERENCE_DIR: Path = ARTIFACTS_DIR / "reference"
"""The reference forest and its metrics (notebook 02)."""
MODEL_DIR: Path = ARTIFACTS_DIR / "model"
"""The bundle notebook 03 packages: the reference model in every format, with its card."""
RETRAINED_DIR: Path = ARTIFACTS_DIR / "retrained"
"""Bundles the API's /retrain accepted (notebook 04)."""
MLFLOW_DIR: Path = ARTIFACTS_DIR / "mlflow"
"""The MLflow store: mlflow.db (runs, registry) and the logged models (notebook 05)."""
PIPELINE_DIR: Path = ARTIFACTS_DIR / "pipeline"
"""The pipeline's work folders and the record of its last run (notebook 05)."""
PRODUCTION_DIR: Path = ARTIFACTS_DIR / "production"
"""The bundle of the registry's @production version: what the API serves from notebook 05 on."""
MONITORING_DIR: Path = ARTIFACTS_DIR / "monitoring"
"""The prediction log and the monitoring tables of the simulated week (notebook 06)."""
INFRA_DIR: Path = ARTIFACTS_DIR / "infrastructure"
"""Load-test and resource measurements (notebook 07)."""
LOG_DIR: Path = ARTIFACTS_DIR / "logs"
"""The logs of every server a notebook starts."""

_FIGURES = os.environ.get("COURSE_FIGURES_DIR")
FIGURES_DIR: Path = (Path(_FIGURES).resolve() if _FIGURES
                     else STATE_ROOT / "figures" if _STATE else BUILD_DIR / "figures")
"""Where notebooks save figures: build/figures/ (git-ignored), so running a notebook leaves the tree clean.

`make refresh` sets `$COURSE_FIGURES_DIR` to the committed figures/ folder that the README shows; under
`$COURSE_STATE_DIR` (tests) figures go to a scratch folder inside it."""


def course_notebooks(folder: Path | None = None) -> list[Path]:
    """Return the course's notebooks in reading order: 01 … 08, then the optional advanced/A1, A2 …"""
    folder = Path(folder or NOTEBOOKS_DIR)
    return sorted(folder.glob("[0-9][0-9]_*.ipynb")) + sorted((folder / "advanced").glob("A[0-9]_*.ipynb"))


def ensure_dirs() -> None:
    """Create the data, artifacts and figures folders if they are missing."""
    for folder in (DATA_DIR, ARTIFACTS_DIR, FIGURES_DIR):
        folder.mkdir(parents=True, exist_ok=True)


def relative(path: Path | str) -> str:
    """Return `path` relative to the state or repository root, for printing (never an absolute machine path)."""
    path = Path(path).resolve()
    for base in (STATE_ROOT, ROOT):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.name
