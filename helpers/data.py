"""The course dataset: one `make_classification` draw split into training data and a production pool."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import paths
from helpers.features import FEATURES, N_FEATURES, SEED, TARGET, file_sha256  # noqa: F401 - re-exported

TRAIN_ROWS = 2_000
POOL_ROWS = 8_200

# Every knob of the one draw, with what it means. Changing any of them changes the distribution.
GENERATOR_SETTINGS: dict = {
    "n_samples": 12_000,  # one large draw: 2,000 training rows + a production pool, same distribution
    "n_features": N_FEATURES,  # 20 columns in all
    "n_informative": 5,  # columns that carry the signal
    "n_redundant": 3,  # random linear combinations of the informative columns
    "n_repeated": 0,  # no exact copies
    "n_clusters_per_class": 2,  # each class is two Gaussian blobs
    "class_sep": 0.8,  # how far apart the classes sit (lower = harder)
    "flip_y": 0.05,  # 5% of labels flipped at random: irreducible label noise
    "shuffle": False,  # keep columns in role order; we permute them ourselves and record the roles
    "random_state": SEED,
}

DATASET_CSV = "dataset.csv"
POOL_CSV = "production_pool.csv"
SCHEMA_JSON = "schema.json"


class DatasetError(ValueError):
    """Raised when a dataset does not match the course schema; the message says what is wrong."""


@dataclass(frozen=True)
class FeatureRoles:
    """Which columns are informative, redundant or pure noise."""

    informative: list[str]
    redundant: list[str]
    noise: list[str]

    def role_of(self, feature: str) -> str:
        """Return 'informative', 'redundant' or 'noise' for one column name."""
        for role in ("informative", "redundant", "noise"):
            if feature in getattr(self, role):
                return role
        raise KeyError(feature)


def _column_order() -> np.ndarray:
    """Return the fixed permutation that scatters the roles across feature_0..feature_19."""
    return np.random.default_rng(SEED).permutation(N_FEATURES)


def feature_roles() -> FeatureRoles:
    """Return the role of every column, as the generator made them."""
    n_inf = GENERATOR_SETTINGS["n_informative"]
    n_red = GENERATOR_SETTINGS["n_redundant"]
    order = _column_order()  # generator column order[j] becomes feature_j
    role_by_source = ["informative"] * n_inf + ["redundant"] * n_red + ["noise"] * (N_FEATURES - n_inf - n_red)
    roles: dict[str, list[str]] = {"informative": [], "redundant": [], "noise": []}
    for j, source in enumerate(order):
        roles[role_by_source[source]].append(FEATURES[j])
    return FeatureRoles(**roles)


def generate() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw once and return (training dataset of 2,000 balanced rows, production pool of 8,200 rows)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(**GENERATOR_SETTINGS)
    X = X[:, _column_order()]
    rng = np.random.default_rng(SEED)
    rows = rng.permutation(len(y))
    X, y = X[rows], y[rows]
    per_class = TRAIN_ROWS // 2
    train_idx = np.sort(np.concatenate([np.flatnonzero(y == c)[:per_class] for c in (0, 1)]))
    rest = np.setdiff1d(np.arange(len(y)), train_idx)
    pool_idx = rest[:POOL_ROWS]
    return _frame(X[train_idx], y[train_idx]), _frame(X[pool_idx], y[pool_idx])


def _frame(X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Return a DataFrame with the course's column names and dtypes."""
    df = pd.DataFrame(X, columns=FEATURES)
    df[TARGET] = y.astype("int64")
    return df


def validate_dataset(df: pd.DataFrame) -> pd.DataFrame:
    """Return `df` unchanged if it matches the schema; raise DatasetError saying what is wrong otherwise."""
    if not isinstance(df, pd.DataFrame):
        raise DatasetError(f"expected a pandas DataFrame, got {type(df).__name__}")
    expected = FEATURES + [TARGET]
    missing = [c for c in expected if c not in df.columns]
    extra = [str(c) for c in df.columns if c not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected column(s): {', '.join(extra)}")
        raise DatasetError("; ".join(parts))
    if df.empty:
        raise DatasetError("the dataset has no rows")
    for col in FEATURES:
        if not pd.api.types.is_float_dtype(df[col]):
            raise DatasetError(f"column {col} must be float, found dtype {df[col].dtype}")
    values = df[FEATURES].to_numpy()
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DatasetError(
            f"{int(bad.sum())} missing or infinite value(s), first in column {FEATURES[col]} "
            f"at row {df.index[row]} ({values[row, col]})"
        )
    if not pd.api.types.is_integer_dtype(df[TARGET]):
        raise DatasetError(f"column {TARGET} must be integer 0/1, found dtype {df[TARGET].dtype}")
    labels = sorted(int(v) for v in df[TARGET].unique())
    if not set(labels) <= {0, 1}:
        raise DatasetError(f"column {TARGET} must hold only 0 and 1, found {labels}")
    return df


def schema() -> dict:
    """Return the data card: columns, dtypes, roles and how the data was generated."""
    roles = feature_roles()
    return {
        "name": "course-classification",
        "rows": TRAIN_ROWS,
        "production_pool_rows": POOL_ROWS,
        "target": {"name": TARGET, "dtype": "int64", "values": [0, 1]},
        "features": [{"name": f, "dtype": "float64", "role": roles.role_of(f)} for f in FEATURES],
        "generator": {"function": "sklearn.datasets.make_classification", **GENERATOR_SETTINGS},
    }


def write_dataset(directory: Path | None = None) -> dict[str, Path]:
    """Generate and write dataset.csv, production_pool.csv and schema.json; return their paths."""
    directory = Path(directory or paths.DATA_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    train, pool = generate()
    out = {"dataset": directory / DATASET_CSV, "pool": directory / POOL_CSV, "schema": directory / SCHEMA_JSON}
    train.to_csv(out["dataset"], index=False, float_format="%.17g")
    pool.to_csv(out["pool"], index=False, float_format="%.17g")
    out["schema"].write_text(json.dumps(schema(), indent=2) + "\n")
    return out


def _read(name: str, directory: Path | None) -> pd.DataFrame:
    """Read one generated CSV, writing the files first if they are missing."""
    directory = Path(directory or paths.DATA_DIR)
    if not (directory / name).exists():
        write_dataset(directory)
    return validate_dataset(pd.read_csv(directory / name))


def load_dataset(directory: Path | None = None) -> pd.DataFrame:
    """Return the 2,000-row training dataset that notebook 01 wrote (regenerated if missing)."""
    return _read(DATASET_CSV, directory)


def load_production_pool(directory: Path | None = None) -> pd.DataFrame:
    """Return the production pool (same distribution as the training data; regenerated if missing)."""
    return _read(POOL_CSV, directory)


def split_dataset(
    df: pd.DataFrame | None = None, test_size: float = 0.3
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return X_train, X_test, y_train, y_test: the course's stratified 70/30 split (seed 42)."""
    from sklearn.model_selection import train_test_split

    df = load_dataset() if df is None else validate_dataset(df)
    X = df[FEATURES].to_numpy(dtype=np.float64)
    y = df[TARGET].to_numpy(dtype=np.int64)
    return tuple(train_test_split(X, y, test_size=test_size, stratify=y, random_state=SEED))  # type: ignore[return-value]
