"""Notebook 03: model bundles, one folder with the model in every format plus a model card, loaded back safely.

Input of the ONNX graph: one float32 tensor named `features` of shape (n, 20), feature_0 … feature_19 in
order. Outputs: `label` (int64, shape (n,)) and `probabilities` (float32, shape (n, 2)); no ZipMap.
"""

from __future__ import annotations

import importlib
import json
import pickle
import platform
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from helpers.common import paths
from helpers.common.hashing import file_sha256
from helpers.common.schema import FEATURES, N_FEATURES

FILES: dict[str, str] = {"pickle": "model.pkl", "joblib": "model.joblib", "skops": "model.skops",
                         "onnx": "model.onnx"}
METADATA_FILE = "metadata.json"
ONNX_INPUT = "features"
MODEL_NAME = "course-classifier"
# The only types a skops file of our RandomForest needs beyond skops' built-in safe list.
TRUSTED_SKOPS_TYPES: list[str] = ["sklearn.tree._tree.Tree"]
HOW_TO_CREATE = "run notebooks/03_packaging.ipynb or call helpers.packaging.ensure_model_bundle()"
SERVING_FORMATS: tuple[str, ...] = ("onnx", "joblib")
"""What the API's two backends load: a bundle written for serving only needs these."""
TIE_TOLERANCE = 1e-6
"""Probabilities closer than this are a tie: ONNX sums in float32, so a 50/50 forest vote lands a rounding step
off one half, on either side depending on the order of the sums (e.g. 0.50000006 with two onnxruntime threads)."""


class IntegrityError(Exception):
    """An artifact's SHA-256 does not match the one recorded in metadata.json."""

    def __init__(self, path: Path, expected: str, actual: str) -> None:
        super().__init__(f"{path.name} failed its integrity check: metadata.json records sha256 {expected}, "
                         f"the file on disk has {actual}. Refusing to load a modified or truncated artifact.")
        self.path, self.expected, self.actual = path, expected, actual


class UntrustedTypeError(Exception):
    """A skops file contains types outside the trusted list."""


class VersionMismatchWarning(UserWarning):
    """The bundle was written by another scikit-learn version than the one installed."""


def library_versions() -> dict[str, str]:
    """Return the versions that decide whether a bundle can be loaded."""
    names = ("scikit-learn", "numpy", "onnx", "onnxruntime", "skl2onnx", "skops", "joblib")
    return {"python": platform.python_version(), **{n: importlib_metadata.version(n) for n in names}}


def to_onnx_model(model: Any) -> bytes:
    """Return the ONNX bytes of a fitted scikit-learn classifier (float32 input `features`, no ZipMap)."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    onx = convert_sklearn(model, initial_types=[(ONNX_INPUT, FloatTensorType([None, N_FEATURES]))],
                          options={id(model): {"zipmap": False}})
    return onx.SerializeToString()


def save_model_bundle(model: Any, metrics: dict[str, float], directory: Path | str, *, version: str = "1.0.0",
                      X_train: np.ndarray | None = None, formats: tuple[str, ...] = tuple(FILES),
                      extra: dict | None = None) -> dict:
    """Write the model in `formats` (default: pickle, joblib, skops, ONNX) plus metadata.json; return the card.

    `metrics` are the validation metrics the gates compare; `extra` adds fields to the card (test metrics, the
    training recipe, the registry version).
    """
    from helpers.data import DATASET_CSV, ensure_dataset, split_dataset

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if X_train is None:
        X_train = split_dataset().X_train
    ensure_dataset()
    data_path = paths.DATA_DIR / DATASET_CSV
    writers = {
        "pickle": lambda p: p.write_bytes(pickle.dumps(model, protocol=5)),
        "joblib": lambda p: joblib.dump(model, p),
        "skops": lambda p: importlib.import_module("skops.io").dump(model, p),  # imported only when asked for
        "onnx": lambda p: p.write_bytes(to_onnx_model(model)),
    }
    artifacts = {}
    for fmt in formats:
        write = writers[fmt]
        path = directory / FILES[fmt]
        write(path)
        artifacts[fmt] = {"file": path.name, "bytes": path.stat().st_size, "sha256": file_sha256(path)}
    card = {
        "name": MODEL_NAME,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "algorithm": type(model).__name__,
        "params": {k: v for k, v in model.get_params().items() if isinstance(v, (int, float, str, bool, type(None)))},
        "versions": library_versions(),
        "features": [{"name": f, "dtype": "float64", "min": float(lo), "max": float(hi)}
                     for f, lo, hi in zip(FEATURES, X_train.min(axis=0), X_train.max(axis=0), strict=True)],
        "classes": [int(c) for c in model.classes_],
        "metrics": {k: round(float(v), 6) for k, v in metrics.items()},
        "metrics_on": "validation",
        "training_data": {"file": data_path.name, "sha256": file_sha256(data_path), "rows": int(len(X_train))},
        "onnx": {"input": ONNX_INPUT, "shape": [None, N_FEATURES], "dtype": "float32",
                 "outputs": ["label", "probabilities"]},
        "artifacts": artifacts,
        "monitoring_reference": monitoring_reference(X_train),
        **(extra or {}),
    }
    (directory / METADATA_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return card


def monitoring_reference(X_train: np.ndarray) -> dict:
    """Return each feature's training deciles and bin shares: what a server needs to compute PSI later."""
    from helpers.monitoring.psi import ReferenceBins

    bins = {f: ReferenceBins.fit(X_train[:, j]) for j, f in enumerate(FEATURES)}
    return {f: {"edges": b.edges.tolist(), "shares": b.shares.tolist()} for f, b in bins.items()}


def read_metadata(directory: Path | str) -> dict:
    """Return the model card of a bundle; FileNotFoundError says how to create a missing one."""
    directory = Path(directory)
    path = directory / METADATA_FILE
    if not directory.is_dir():
        raise FileNotFoundError(f"no model bundle at {paths.relative(directory)}: {HOW_TO_CREATE}")
    if not path.is_file():
        raise FileNotFoundError(f"{paths.relative(path)} is missing, so the bundle cannot be trusted: {HOW_TO_CREATE}")
    return json.loads(path.read_text())


@dataclass
class Predictor:
    """One interface over every format: `predict` and `predict_proba` on an (n, 20) float array."""

    fmt: str
    metadata: dict
    backend: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    n_features: int = N_FEATURES

    def check_input(self, X: Any) -> np.ndarray:
        """Return X as a float array of shape (n, 20); raise ValueError naming expected vs received."""
        arr = np.asarray(X)
        if arr.dtype.kind not in "fiu":
            raise ValueError(f"expected numeric features (float), received dtype {arr.dtype}")
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            got = arr.shape[-1] if arr.ndim >= 1 else 0
            raise ValueError(f"expected {self.n_features} features per row, received {got} (shape {arr.shape})")
        if arr.shape[0] == 0:
            raise ValueError("expected at least one row, received none")
        finite = np.isfinite(arr)
        if not finite.all():
            row, col = np.argwhere(~finite)[0]
            raise ValueError(f"expected finite values, received {arr[row, col]} at row {row}, {FEATURES[col]}")
        return arr.astype(np.float64, copy=False)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return class probabilities, shape (n, 2)."""
        return self.backend(self.check_input(X))

    def proba_checked(self, X: np.ndarray) -> np.ndarray:
        """Return class probabilities of rows the caller already checked: an (n, 20) finite float array."""
        return self.backend(X)

    def predict(self, X: Any) -> np.ndarray:
        """Return predicted class labels, shape (n,)."""
        return np.asarray(self.metadata["classes"])[winning_class(self.predict_proba(X))]


def winning_class(proba: np.ndarray) -> np.ndarray:
    """Return each row's predicted class index: the first class within TIE_TOLERANCE of the row's highest
    probability, so that every format breaks a tie the way scikit-learn does (first class wins)."""
    proba = np.asarray(proba)
    return (proba >= proba.max(axis=1, keepdims=True) - TIE_TOLERANCE).argmax(axis=1)


def onnx_session(path: Path | str, threads: int = 1) -> Any:
    """Return an onnxruntime session on one intra-op thread (steadier than the default on small machines)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _load_skops(path: Path) -> Any:
    """Return a model from a skops file, refusing any type outside TRUSTED_SKOPS_TYPES."""
    import skops.io as sio

    untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_SKOPS_TYPES]
    if untrusted:
        raise UntrustedTypeError(f"{path.name} contains untrusted type(s) {', '.join(untrusted)}; "
                                 f"refusing to load (trusted: {', '.join(TRUSTED_SKOPS_TYPES)})")
    return sio.load(path, trusted=TRUSTED_SKOPS_TYPES)


def _check_versions(card: dict, fmt: str, strict: bool) -> None:
    """Warn (or raise, when strict) if a scikit-learn-based format was written by another version."""
    if fmt == "onnx":
        return  # the ONNX graph needs onnxruntime only, not scikit-learn
    recorded = card.get("versions", {}).get("scikit-learn")
    installed = importlib_metadata.version("scikit-learn")
    if recorded != installed:
        message = (f"the bundle was written with scikit-learn {recorded}, this environment has {installed}: "
                   "predictions may differ or loading may fail; re-export the bundle or use the ONNX format")
        if strict:
            raise RuntimeError(message)
        warnings.warn(message, VersionMismatchWarning, stacklevel=3)


def load_model(directory: Path | str | None = None, fmt: str = "onnx", verify: bool = True,
               strict_versions: bool = False) -> Predictor:
    """Return a Predictor for one format of a bundle, after checking its SHA-256 against metadata.json."""
    directory = Path(directory or paths.MODEL_DIR)
    if fmt not in FILES:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FILES)}")
    card = read_metadata(directory)
    path = directory / FILES[fmt]
    if not path.is_file():
        raise FileNotFoundError(f"{paths.relative(path)} is missing from the bundle: {HOW_TO_CREATE}")
    if verify:
        expected, actual = card["artifacts"][fmt]["sha256"], file_sha256(path)
        if expected != actual:
            raise IntegrityError(path, expected, actual)
    _check_versions(card, fmt, strict_versions)
    if fmt == "onnx":
        session = onnx_session(path)

        def proba(X: np.ndarray) -> np.ndarray:
            return session.run(["probabilities"], {ONNX_INPUT: X.astype(np.float32)})[0]
    else:
        if fmt == "skops":
            model = _load_skops(path)
        elif fmt == "joblib":
            model = joblib.load(path)
        else:
            with open(path, "rb") as fh:  # unpickled only after the hash check above
                model = pickle.load(fh)  # noqa: S301  # nosec B301
        proba = model.predict_proba
    return Predictor(fmt=fmt, metadata=card, backend=proba)


def bundle_is_complete(directory: Path, formats: tuple[str, ...] = tuple(FILES)) -> bool:
    """Return True if `directory` holds a model card and the files of `formats`."""
    return (directory / METADATA_FILE).is_file() and all((directory / FILES[f]).is_file() for f in formats)


def ensure_model_bundle(directory: Path | None = None) -> Path:
    """Return the bundle folder of notebook 03, writing it from the reference forest if it is missing or incomplete."""
    directory = Path(directory or paths.MODEL_DIR)
    if not bundle_is_complete(directory):
        from helpers.model import ensure_reference_model, load_reference_record

        model = ensure_reference_model()
        record = load_reference_record()
        save_model_bundle(model, record["validation"], directory, extra={"test_metrics": record["test"]})
    return directory
