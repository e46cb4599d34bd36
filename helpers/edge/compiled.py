"""Notebook A2: a forest compiled to C (treelite + tl2cgen), built by the system compiler into a tiny binary.

tl2cgen writes the trees as nested `if`s. With `quantize=1` every threshold becomes an integer: a feature value is
first mapped (one binary search) to its rank among the thresholds the model uses, and the trees then compare small
integers, the form a microcontroller without a floating-point unit likes. The binary reads rows as text on stdin
(see deploy/edge/c/score_rows.c) and prints the two class probabilities of each row.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helpers.common import paths

DRIVER = paths.DEPLOY_DIR / "edge" / "c" / "score_rows.c"
"""The `main()` around the generated code: read rows, print probabilities (or time them)."""
CFLAGS: tuple[str, ...] = ("-O2",)
LDFLAGS: tuple[str, ...] = ("-s",)
"""Strip the symbol table from the binary: what a device would carry."""
CACHE_DIR = paths.CACHE_DIR / "edge"
"""Compiled binaries, named by the hash of their code: a second run of the same model reuses the first build."""


@dataclass(frozen=True)
class CompiledModel:
    """A scoring binary built from generated C code, with what it cost."""

    binary: Path
    source_bytes: int
    binary_bytes: int
    compile_seconds: float
    quantized: bool
    reused: bool
    """True when an identical binary was already in the cache (compile_seconds is then from that first build)."""


def compiler() -> str | None:
    """Return the C compiler's path (`$CC`, gcc or cc), or None when there is none."""
    for name in (os.environ.get("CC"), "gcc", "cc"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@contextlib.contextmanager
def native_output_to(log_path: Path) -> Iterator[None]:
    """Send everything printed meanwhile (Python prints, C/C++ writes to fd 1 and 2, warnings) to `log_path`.

    tl2cgen bundles an older treelite core that writes a version notice straight to file descriptor 2, where
    Python cannot filter it; this keeps such notices in a log instead of a notebook's stderr.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log_path, "a") as log, contextlib.redirect_stdout(io.StringIO()) as printed, \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            log.write(printed.getvalue() + "".join(f"warning: {w.message}\n" for w in caught))


def as_forest(model: Any) -> Any:
    """Return the model as a random forest: a single decision tree becomes a forest of one tree (same answers).

    treelite imports forests, not single trees; a forest of one averages one tree's probabilities, i.e. returns
    them unchanged."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    if not isinstance(model, DecisionTreeClassifier):
        return model
    forest = RandomForestClassifier(n_estimators=1)
    forest.estimators_ = [model]
    for name in ("classes_", "n_classes_", "n_outputs_", "n_features_in_"):
        setattr(forest, name, getattr(model, name))
    return forest


def generate_c(model: Any, directory: Path, *, quantize: bool = True) -> list[Path]:
    """Write tl2cgen's C code for a fitted forest (or tree) into `directory`; return the .c files it wrote."""
    import tl2cgen
    import treelite

    directory = Path(directory)
    shutil.rmtree(directory, ignore_errors=True)
    with native_output_to(paths.LOG_DIR / "tl2cgen.log"):
        ensemble = treelite.sklearn.import_model(as_forest(model))
        tl2cgen.generate_c_code(ensemble, dirpath=str(directory),
                                params={"quantize": int(quantize), "parallel_comp": model_size(model)})
    return sorted(directory.glob("*.c"))


def model_size(model: Any) -> int:
    """Return the number of trees: tl2cgen then writes one C file per tree, which compiles far faster than one."""
    return len(getattr(model, "estimators_", [model]))


def source_digest(files: list[Path]) -> str:
    """Return a SHA-256 over the generated sources and the driver: equal code gives an equal binary name."""
    digest = hashlib.sha256()
    for path in [*files, *files[0].parent.glob("*.h"), DRIVER]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(" ".join(CFLAGS + LDFLAGS).encode())
    return digest.hexdigest()


def ensure_binary(model: Any, directory: Path, *, quantize: bool = True, cache: Path = CACHE_DIR) -> CompiledModel:
    """Return the scoring binary of `model`: its C code is written to `directory`, compiled only if `cache` has
    no binary built from exactly the same code (the file name is a hash of the sources, the driver and flags)."""
    directory = Path(directory)
    code_dir = directory / ("c-quantized" if quantize else "c-float")
    sources = generate_c(model, code_dir, quantize=quantize)
    binary = Path(cache) / f"score_rows-{source_digest(sources)[:16]}"
    record = binary.with_name(binary.name + ".json")
    source_bytes = sum(p.stat().st_size for p in [*sources, *code_dir.glob("*.h")])
    reused = binary.is_file() and record.is_file()
    if reused:
        seconds = float(json.loads(record.read_text())["compile_seconds"])
    else:
        seconds = compile_binary([DRIVER, *sources], code_dir, binary)
        record.write_text(json.dumps({"compile_seconds": seconds, "sources": source_bytes}) + "\n")
    return CompiledModel(binary, source_bytes, binary.stat().st_size, seconds, quantize, reused)


def compile_binary(sources: list[Path], include_dir: Path, binary: Path, jobs: int | None = None) -> float:
    """Compile `sources` into `binary` with one compiler process per core; return the seconds it took.

    Objects and the binary are built in a private folder and moved into place at the end, so two notebooks
    compiling the same model at once cannot clash."""
    cc = compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (install gcc, or set $CC)")
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(sources)))
    binary.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=binary.parent))
    start = time.perf_counter()
    try:
        running = [subprocess.Popen([cc, *CFLAGS, "-c", f"-I{include_dir}", *map(str, sources[i::jobs])], cwd=work,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                   for i in range(jobs)]
        try:
            errors = [p.communicate(timeout=300)[1] for p in running]
        finally:
            for process in running:
                if process.poll() is None:
                    process.kill()
        if any(p.returncode for p in running):
            raise RuntimeError("the C compiler failed:\n" + "".join(errors)[-2000:])
        linked = subprocess.run([cc, *LDFLAGS, "-o", "score_rows", *sorted(p.name for p in work.glob("*.o")), "-lm"],
                                cwd=work, capture_output=True, text=True, timeout=120)
        if linked.returncode != 0:
            raise RuntimeError(f"linking failed:\n{linked.stderr[-2000:]}")
        os.replace(work / "score_rows", binary)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return time.perf_counter() - start


def rows_as_text(X: np.ndarray) -> str:
    """Return the rows as text, each value rounded to float32 and written so that it reads back exactly."""
    return "\n".join(" ".join(f"{v:.9g}" for v in row) for row in np.asarray(X, dtype=np.float32)) + "\n"


def run_binary(binary: Path, X: np.ndarray, *args: str, timeout: float = 60) -> str:
    """Return what the binary prints for the rows of X (arguments `args`); raise if it fails."""
    done = subprocess.run([str(binary), *args], input=rows_as_text(X), capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(binary).name} exited with {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def predict_proba_binary(binary: Path, X: np.ndarray) -> np.ndarray:
    """Return the (n, 2) class probabilities the compiled binary computes for the rows of X."""
    return np.loadtxt(io.StringIO(run_binary(binary, X)), ndmin=2)


def seconds_per_row(binary: Path, X: np.ndarray, repeats: int = 200) -> float:
    """Return the binary's mean seconds per row over `repeats` passes over X, measured inside the binary."""
    return float(run_binary(binary, X, str(repeats)).strip())
