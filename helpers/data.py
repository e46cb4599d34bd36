"""Notebook 01: the course dataset, one `make_classification` draw split into training data and a production pool.

The production pool is split once more: its first BACKLOG_ROWS rows are labelled data waiting to be trained on
(retraining in 04 and 05 adds them), the rest is the traffic of the simulated production week (06).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.common import paths
from helpers.common.schema import BACKLOG_ROWS, FEATURES, N_FEATURES, SEED, TARGET

TRAIN_ROWS = 2_000
POOL_ROWS = 8_200
TEST_ROWS = 600
"""Held out once, for the final verdict on a model (notebooks 02 and 05)."""
VALIDATION_ROWS = 400
"""Held out from training for every comparison and gate: model choice, retraining, promotion."""

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
HOW_TO_CREATE = "run notebooks/01_dataset.ipynb or call helpers.data.ensure_dataset()"


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


def column_order() -> np.ndarray:
    """Return the fixed permutation that scatters the roles: generator column order[j] becomes feature_j."""
    return np.random.default_rng(SEED).permutation(N_FEATURES)


def feature_roles() -> FeatureRoles:
    """Return the role of every column, as the generator made them."""
    n_inf = GENERATOR_SETTINGS["n_informative"]
    n_red = GENERATOR_SETTINGS["n_redundant"]
    role_by_source = ["informative"] * n_inf + ["redundant"] * n_red + ["noise"] * (N_FEATURES - n_inf - n_red)
    roles: dict[str, list[str]] = {"informative": [], "redundant": [], "noise": []}
    for j, source in enumerate(column_order()):
        roles[role_by_source[source]].append(FEATURES[j])
    return FeatureRoles(**roles)


def generate() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw once and return (training dataset of 2,000 balanced rows, production pool of 8,200 rows)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(**GENERATOR_SETTINGS)
    X = X[:, column_order()]
    rows = np.random.default_rng(SEED).permutation(len(y))
    X, y = X[rows], y[rows]
    per_class = TRAIN_ROWS // 2
    train_idx = np.sort(np.concatenate([np.flatnonzero(y == c)[:per_class] for c in (0, 1)]))
    pool_idx = np.setdiff1d(np.arange(len(y)), train_idx)[:POOL_ROWS]
    return as_frame(X[train_idx], y[train_idx]), as_frame(X[pool_idx], y[pool_idx])


def as_frame(X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
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
        parts = [f"missing column(s): {', '.join(missing)}"] if missing else []
        parts += [f"unexpected column(s): {', '.join(extra)}"] if extra else []
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
        raise DatasetError(f"{int(bad.sum())} missing or infinite value(s), first in column {FEATURES[col]} "
                           f"at row {df.index[row]} ({values[row, col]})")
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
        "backlog_rows": BACKLOG_ROWS,
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


def read_csv(name: str, directory: Path | None = None) -> pd.DataFrame:
    """Return one of the generated CSVs, validated; FileNotFoundError says how to create it."""
    path = Path(directory or paths.DATA_DIR) / name
    if not path.is_file():
        raise FileNotFoundError(f"no {paths.relative(path)}: {HOW_TO_CREATE}")
    return validate_dataset(pd.read_csv(path))


def load_dataset(directory: Path | None = None) -> pd.DataFrame:
    """Return the 2,000-row training dataset that notebook 01 wrote."""
    return read_csv(DATASET_CSV, directory)


def load_production_pool(directory: Path | None = None) -> pd.DataFrame:
    """Return the 8,200-row production pool that notebook 01 wrote."""
    return read_csv(POOL_CSV, directory)


def ensure_dataset(directory: Path | None = None) -> pd.DataFrame:
    """Return the training dataset, writing the data files first if they are missing (same bytes every time)."""
    directory = Path(directory or paths.DATA_DIR)
    if not all((directory / name).is_file() for name in (DATASET_CSV, POOL_CSV, SCHEMA_JSON)):
        write_dataset(directory)
    return load_dataset(directory)


def ensure_production_pool(directory: Path | None = None) -> pd.DataFrame:
    """Return the production pool, writing the data files first if they are missing."""
    ensure_dataset(directory)
    return load_production_pool(directory)


def backlog(pool: pd.DataFrame) -> pd.DataFrame:
    """Return the pool's labelled backlog: the rows a retrained model may add to its training data."""
    return pool.iloc[:BACKLOG_ROWS]


def traffic(pool: pd.DataFrame) -> pd.DataFrame:
    """Return the pool's live traffic: the rows the simulated production week sends (never trained on)."""
    return pool.iloc[BACKLOG_ROWS:].reset_index(drop=True)


@dataclass(frozen=True)
class Split:
    """The course's three-way split: train to fit, validation to compare and gate, test for one final verdict."""

    X_train: np.ndarray
    X_val: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray

    def sizes(self) -> dict[str, int]:
        """Return the number of rows in each part."""
        return {"train": len(self.y_train), "validation": len(self.y_val), "test": len(self.y_test)}


def split_dataset(df: pd.DataFrame | None = None) -> Split:
    """Return the stratified 50/20/30 split (1,000 / 400 / 600 rows; seed 42; the dataset is written if missing)."""
    from sklearn.model_selection import train_test_split

    df = ensure_dataset() if df is None else validate_dataset(df)
    X = df[FEATURES].to_numpy(dtype=np.float64)
    y = df[TARGET].to_numpy(dtype=np.int64)
    n_test, n_val = (round(len(y) * rows / TRAIN_ROWS) for rows in (TEST_ROWS, VALIDATION_ROWS))  # 30% and 20%
    X_dev, X_test, y_dev, y_test = train_test_split(X, y, test_size=n_test, stratify=y, random_state=SEED)
    X_train, X_val, y_train, y_val = train_test_split(X_dev, y_dev, test_size=n_val, stratify=y_dev,
                                                      random_state=SEED)
    return Split(X_train, X_val, X_test, y_train, y_val, y_test)
