"""Print the numpy SIMD features to switch off so that only numpy's baseline code runs on this CPU.

Usage: NPY_DISABLE_CPU_FEATURES="$(python tools/numpy_baseline.py)" pytest --nbval notebooks
numpy compiles optional kernels for CPU feature groups (its "dispatch" list, e.g. X86_V3 and X86_V4 on x86-64,
ASIMDHP or SVE on ARM) and picks one at run time. Disabling every dispatched group this CPU supports makes
numpy run its baseline kernels: the ones any CPU of the architecture runs. numpy refuses to disable a feature
the CPU lacks, hence the intersection.
"""

from __future__ import annotations

from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__


def dispatched_features() -> list[str]:
    """Return the dispatch targets numpy was built with that this CPU supports (the ones to disable)."""
    return [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]


if __name__ == "__main__":
    print(" ".join(dispatched_features()))
