"""The thin shared package of the "Model Deployment and MLOps" course: `import helpers; helpers.setup()`.

One folder or module per chapter section: `data` (01), `model` (02), `packaging` (03), `api/` (04), `mlops/` (05),
`monitoring/` (06), `infra/` (07), `dashboard` (08), and `common/` for what they all share.
"""

from __future__ import annotations

import importlib
import logging
import os
import random
import sys
import warnings
from importlib import metadata
from typing import Any

from helpers.common import paths
from helpers.common.schema import FEATURES, SEED, TARGET

# Imported on first use, so that `import helpers` stays fast (the API server needs none of these).
_LAZY: dict[str, str] = {
    "DatasetError": "helpers.data", "feature_roles": "helpers.data", "ensure_dataset": "helpers.data",
    "ensure_production_pool": "helpers.data", "split_dataset": "helpers.data", "validate_dataset": "helpers.data",
    "ensure_reference_model": "helpers.model", "COLORS": "helpers.common.plotting",
    "save_figure": "helpers.common.plotting",
}

__all__ = ["COLORS", "FEATURES", "SEED", "TARGET", "DatasetError", "ensure_dataset", "ensure_production_pool",
           "ensure_reference_model", "feature_roles", "paths", "save_figure", "setup", "split_dataset",
           "validate_dataset", "versions"]


def setup(seed: int = SEED) -> None:
    """Seed the random generators, set display options and the figure style, filter known-harmless warnings."""
    if sys.version_info < (3, 11):  # noqa: UP036 - a kernel from another environment fails here, clearly
        raise RuntimeError(f"this course needs Python 3.11 or newer, this kernel runs {sys.version.split()[0]}")
    import numpy as np
    import pandas as pd
    import sklearn

    from helpers.common.plotting import apply_style

    random.seed(seed)
    np.random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ.setdefault("TQDM_DISABLE", "1")
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 120)
    pd.set_option("display.precision", 4)
    pd.set_option("display.max_colwidth", 110)
    np.set_printoptions(precision=4, suppress=True)
    sklearn.set_config(display="text")
    apply_style()
    quiet_known_noise()
    paths.ensure_dirs()


def quiet_known_noise() -> None:
    """Silence warnings and log lines that are known to be harmless and would clutter the notebooks."""
    # tqdm.auto falls back to text bars when widgets are unavailable and says so: not a problem here.
    warnings.filterwarnings("ignore", message="IProgress not found")
    # FastAPI's TestClient still uses httpx, which Starlette now calls deprecated: harmless for a course.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    # matplotlib's font manager reports missing glyph fallbacks at INFO/WARNING level.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    # MLflow logs INFO lines with timestamps; the notebooks print what matters themselves.
    for name in ("mlflow", "alembic", "urllib3", "httpx", "uvicorn"):
        logging.getLogger(name).setLevel(logging.ERROR)


def __getattr__(name: str) -> Any:
    """Import a helper's module on first use (a server image, for one, has no matplotlib)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def versions(*packages: str) -> str:
    """Return one line naming the Python version and each package's installed version."""
    parts = [f"Python {sys.version_info.major}.{sys.version_info.minor}"]
    parts += [f"{p} {metadata.version(p)}" for p in packages]
    return " | ".join(parts)
