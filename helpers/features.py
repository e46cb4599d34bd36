"""The feature schema and file fingerprints: the few facts a model server needs, with no pandas import."""

from __future__ import annotations

import hashlib
from pathlib import Path

SEED = 42
N_FEATURES = 20
FEATURES: list[str] = [f"feature_{i}" for i in range(N_FEATURES)]
TARGET = "target"


def file_sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
