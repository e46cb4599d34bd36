"""scikit-learn vs onnxruntime on the course model, in one process and one run: medians, p99s and ratios.

Usage: python benchmarks/bench_inference.py [--repeats N]
Goals on a 2-core machine: ONNX single-row >= 100x faster than scikit-learn; batch of 100 >= 10x.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from helpers import packaging
from helpers.common.schema import FEATURES
from helpers.common.timing import format_duration
from helpers.data import ensure_production_pool

GOALS = {1: 100.0, 100: 10.0}


def timed(fn, X: np.ndarray, repeats: int) -> np.ndarray:
    """Return the seconds of `repeats` calls of fn(X), after 3 warm-up calls."""
    for _ in range(3):
        fn(X)
    out = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        fn(X)
        out[i] = time.perf_counter() - start
    return out


def main() -> None:
    """Measure both backends at 1, 100 and 1,000 rows (interleaved rounds) and print the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=60, help="calls per backend, size and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (noise on shared machines)")
    args = parser.parse_args()
    bundle = packaging.ensure_model_bundle()
    backends = {"scikit-learn": packaging.load_model(bundle, "joblib").predict_proba,
                "onnxruntime": packaging.load_model(bundle, "onnx").predict_proba}
    pool = ensure_production_pool()[FEATURES].to_numpy()
    samples: dict[tuple[str, int], list[np.ndarray]] = {}
    for _ in range(args.rounds):
        for size in (1, 100, 1000):
            repeats = max(5, args.repeats // (10 if size == 1000 else 1))
            for name, fn in backends.items():
                samples.setdefault((name, size), []).append(timed(fn, pool[:size], repeats))
    print(f"{'backend':<14}{'rows':>6}{'median':>12}{'p99':>12}")
    medians = {}
    for (name, size), runs in samples.items():
        all_runs = np.concatenate(runs)
        medians[(name, size)] = float(np.median(all_runs))
        print(f"{name:<14}{size:>6}{format_duration(medians[(name, size)]):>12}"
              f"{format_duration(float(np.percentile(all_runs, 99))):>12}")
    print()
    failed = False
    for size in (1, 100, 1000):
        ratio = medians[("scikit-learn", size)] / medians[("onnxruntime", size)]
        goal = GOALS.get(size)
        verdict = "" if goal is None else (f"  goal >= {goal:.0f}x: " + ("met" if ratio >= goal else "NOT met"))
        failed |= goal is not None and ratio < goal
        print(f"onnxruntime vs scikit-learn, {size:>4} row(s): {ratio:7.1f}x faster{verdict}")
    if failed:
        print("\nsome goals were not met on this run (a shared machine is noisy: rerun before concluding)")


if __name__ == "__main__":
    main()
