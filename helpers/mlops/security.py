"""The pipeline's security scan: bandit on the code, and what a pickled model would import (without running it)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

SAFE_PICKLE_MODULES = ("sklearn.", "numpy.", "copyreg._reconstructor")
"""Importable prefixes a pickled scikit-learn forest legitimately refers to; anything else is suspicious."""


class Inert:
    """Stands in for every class a scanned pickle names: constructing or updating it does nothing."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass


class ImportRecorder(pickle.Unpickler):
    """Walks a pickle and records what it would import, handing back inert stand-ins instead of the real thing."""

    def __init__(self, fh: Any) -> None:
        super().__init__(fh)
        self.found: set[str] = set()

    def find_class(self, module: str, name: str) -> type:
        """Record `module.name` and return the inert stand-in."""
        self.found.add(f"{module}.{name}")
        return Inert


def pickle_imports(path: Path) -> list[str]:
    """Return every `module.name` a pickle file would import when loaded, without importing or running any of it."""
    with open(path, "rb") as fh:
        recorder = ImportRecorder(fh)
        # find_class never returns a real object: nothing from the file runs.
        recorder.load()  # nosec B301
    return sorted(recorder.found)


def unsafe_imports(path: Path) -> list[str]:
    """Return the imports of a pickle that are not scikit-learn or numpy objects."""
    return [name for name in pickle_imports(path) if not name.startswith(SAFE_PICKLE_MODULES)]


def bandit_findings(folder: Path) -> tuple[int, list[dict]]:
    """Return (files scanned, medium/high findings) of bandit on a folder of Python code."""
    bandit = Path(sys.executable).parent / "bandit"
    done = subprocess.run([str(bandit), "-r", str(folder), "-f", "json", "-q", "-ll"], capture_output=True,
                          text=True, timeout=120)
    report = json.loads(done.stdout or "{}")
    return len(report.get("metrics", {})) - 1, report.get("results", [])
