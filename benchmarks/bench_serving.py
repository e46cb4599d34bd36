"""Our API (onnxruntime and scikit-learn backends) vs the FastAPI framework floor, measured in one run.

Usage: python benchmarks/bench_serving.py [--seconds S]
Loopback only, every load bounded in count and time. Goals on a 2-core machine:
/predict p50 at 1 client within 2x of the framework floor; at 16 clients >= 15x the requests/s of the
scikit-learn backend; /predict_batch (100 rows) p50 under 1 ms; server memory under 150 MB RSS.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rawload  # noqa: E402

from helpers import load_production_pool, packaging  # noqa: E402
from helpers.data import FEATURES  # noqa: E402
from helpers.server import BackgroundServer, start_all  # noqa: E402

HERE = Path(__file__).resolve().parent


def servers() -> dict[str, BackgroundServer]:
    """Return the three servers under test (not started)."""
    api = [sys.executable, "-m", "helpers.serving", "--host", "127.0.0.1", "--port", "{port}"]
    floor = [sys.executable, "-m", "uvicorn", "floor_app:app", "--app-dir", str(HERE), "--host", "127.0.0.1",
             "--port", "{port}", "--no-access-log", "--log-level", "warning"]
    return {"floor": BackgroundServer(floor, name="bench-floor"),
            "onnx": BackgroundServer([*api, "--backend", "onnx"], name="bench-onnx", ready_path="/ready"),
            "sklearn": BackgroundServer([*api, "--backend", "sklearn"], name="bench-sklearn", ready_path="/ready")}


def rss_mb(pid: int) -> float:
    """Return the resident memory of a process and its children in MB."""
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 1e6


def main() -> None:
    """Run every measurement, interleaved over rounds, and print medians and the goal ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time bound of each measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    packaging.ensure_model_bundle()
    pool = load_production_pool()[FEATURES].to_numpy()
    one = {"features": pool[0].tolist()}
    hundred = {"rows": pool[:100].tolist()}
    srv = servers()
    start_all(list(srv.values()))
    try:
        results: dict[tuple[str, str], list[rawload.RawResult]] = {}
        plan = [(name, "/predict", one, c) for c in (1, 16) for name in srv]
        plan += [("onnx", "/predict_batch", hundred, 1)]
        for _ in range(args.rounds):
            for name, path, payload, clients in plan:
                limit = 200_000 if name != "sklearn" else 20_000
                r = rawload.run(srv[name].port, path, payload, concurrency=clients, max_requests=limit,
                                max_seconds=args.seconds)
                results.setdefault((name, f"{path} x{clients}"), []).append(r)
        memory = {name: rss_mb(s.pid) for name, s in srv.items()}
    finally:
        for s in srv.values():
            s.stop()

    def med(key: tuple[str, str], what: str) -> float:
        values = sorted(getattr(r, what) if what == "rps" else r.percentile_ms(50 if what == "p50" else 99)
                        for r in results[key])
        return values[len(values) // 2]

    print(f"{'server':<9}{'load':<22}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>10}{'errors':>8}")
    for (name, load), runs in results.items():
        errors = sum(r.errors for r in runs)
        print(f"{name:<9}{load:<22}{med((name, load), 'p50'):9.3f}{med((name, load), 'p99'):9.3f}"
              f"{med((name, load), 'rps'):10.0f}{errors:8d}")
    print("\nserver memory (RSS): " + ", ".join(f"{n} {mb:.0f} MB" for n, mb in memory.items()))
    floor_ratio = med(("onnx", "/predict x1"), "p50") / med(("floor", "/predict x1"), "p50")
    scale_ratio = med(("onnx", "/predict x16"), "rps") / med(("sklearn", "/predict x16"), "rps")
    batch_p50 = med(("onnx", "/predict_batch x1"), "p50")
    goals = [
        (f"/predict p50 at 1 client vs framework floor: {floor_ratio:.2f}x", floor_ratio <= 2.0, "<= 2x"),
        (f"/predict req/s at 16 clients vs scikit-learn backend: {scale_ratio:.1f}x", scale_ratio >= 15, ">= 15x"),
        (f"/predict_batch (100 rows) p50: {batch_p50:.3f} ms", batch_p50 < 1.0, "< 1 ms"),
        (f"API (onnx) memory: {memory['onnx']:.0f} MB", memory["onnx"] < 150, "< 150 MB"),
    ]
    print()
    for text, ok, goal in goals:
        print(f"{text:<62} goal {goal:<9} {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
