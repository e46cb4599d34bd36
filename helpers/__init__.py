"""The thin shared package of the "Model Deployment and MLOps" course: `import helpers; helpers.setup()`."""

from __future__ import annotations

import logging
import os
import random
import sys
import warnings
from importlib import metadata

from helpers import paths

# Imported on first use, so that `import helpers` stays fast (the API server needs only a few of these).
_LAZY: dict[str, str] = {
    "FEATURES": "helpers.data", "TARGET": "helpers.data", "DatasetError": "helpers.data",
    "feature_roles": "helpers.data", "load_dataset": "helpers.data", "load_production_pool": "helpers.data",
    "split_dataset": "helpers.data", "validate_dataset": "helpers.data",
    "load_reference_metrics": "helpers.model", "load_reference_model": "helpers.model",
    "train_reference_model": "helpers.model",
    "COLORS": "helpers.plotting", "save_figure": "helpers.plotting",
}

__all__ = [
    "COLORS", "FEATURES", "TARGET", "DatasetError", "feature_roles", "load_dataset", "load_production_pool",
    "load_reference_metrics", "load_reference_model", "paths", "save_figure", "setup", "split_dataset",
    "train_reference_model", "validate_dataset", "versions",
]

SEED = 42


def setup(seed: int = SEED) -> None:
    """Seed the random generators, set display options and the figure style, filter known-harmless warnings."""
    if sys.version_info < (3, 11):  # noqa: UP036 - a kernel from another environment fails here, clearly
        raise RuntimeError(f"this course needs Python 3.11 or newer, this kernel runs {sys.version.split()[0]}")
    import numpy as np
    import pandas as pd
    import sklearn

    from helpers.plotting import apply_style

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
    _quiet_known_noise()
    paths.ensure_dirs()


def _quiet_known_noise() -> None:
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


def __getattr__(name: str):
    """Import a helper's module on first use (a server image, for one, has no matplotlib)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def versions(*packages: str) -> str:
    """Return one line naming the Python version and each package's installed version."""
    parts = [f"Python {sys.version_info.major}.{sys.version_info.minor}"]
    parts += [f"{p} {metadata.version(p)}" for p in packages]
    return " | ".join(parts)
