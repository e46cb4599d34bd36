"""Our API (onnxruntime and scikit-learn backends) vs the FastAPI framework floor, measured in one run.

Usage: python benchmarks/bench_serving.py [--seconds S] [--rounds N] [--compare-with DIR]
Loopback only, every load bounded in count and time, every load interleaved over rounds (medians reported).
Goals on a 2-core machine: /predict p50 at 1 client within 2x of the framework floor; at 16 clients >= 15x the
requests/s of the scikit-learn backend; /predict_batch (100 rows) p50 <= 1.5x (onnxruntime in-process on the
same 100 rows + /predict p50); cold start (process start to first prediction) <= 5x a bare onnxruntime process
that loads the same model and scores one row (benchmarks/floors.py); server memory under 150 MB RSS.

--compare-with DIR also serves the same bundle with the code checked out in DIR (e.g. a git worktree of an
earlier commit: `git worktree add /tmp/api-before <commit>`), started as `python -m helpers.serving` when DIR has
it, else `python -m helpers.api`, and reports our /predict against it as ratios (no regression: p50 ratio <= 1.05,
req/s ratio >= 0.95, the medians of per-round ratios).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import floors  # noqa: E402
import rawload  # noqa: E402

from helpers.api.launch import api_server  # noqa: E402
from helpers.common.processes import BackgroundServer, start_all  # noqa: E402
from helpers.common.schema import FEATURES  # noqa: E402
from helpers.data import ensure_production_pool  # noqa: E402
from helpers.packaging import ensure_model_bundle  # noqa: E402

HERE = Path(__file__).resolve().parent
TOLERANCE = 0.05
"""How much slower than the compared code counts as noise on a shared 2-core machine."""


def before_server(code_dir: Path, model_dir: Path) -> BackgroundServer:
    """Return a server running the API code in `code_dir` on `model_dir` (not started).

    `python -P` keeps the current folder off the import path, so PYTHONPATH decides which `helpers` is imported.
    """
    module = "helpers.serving" if (code_dir / "helpers" / "serving.py").exists() else "helpers.api"
    command = [sys.executable, "-P", "-m", module, "--host", "127.0.0.1", "--port", "{port}", "--backend", "onnx",
               "--model-dir", str(model_dir)]
    return BackgroundServer(command, name="bench-before", ready_path="/ready", timeout=60,
                            env={"PYTHONPATH": str(code_dir.resolve()), "MODEL_DIR": str(model_dir)})


def servers(model_dir: Path, compare_with: Path | None) -> dict[str, BackgroundServer]:
    """Return the servers under test (not started)."""
    floor = [sys.executable, "-m", "uvicorn", "floor_app:app", "--app-dir", str(HERE), "--host", "127.0.0.1",
             "--port", "{port}", "--no-access-log", "--log-level", "warning"]
    found = {"floor": BackgroundServer(floor, name="bench-floor"),
             "onnx": api_server(model_dir=model_dir, name="bench-onnx"),
             "sklearn": api_server(model_dir=model_dir, backend="sklearn", name="bench-sklearn")}
    if compare_with is not None:
        found["before"] = before_server(compare_with, model_dir)
    return found


def rss_mb(pid: int) -> float:
    """Return the resident memory of a process and its children in MB."""
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 1e6


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) a process and its children have used so far."""
    proc = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [proc, *proc.children(recursive=True)])


def measure(srv: dict[str, BackgroundServer], rounds: int, seconds: float) -> tuple[dict, dict]:
    """Run every load once per round; return ({(server, load): [RawResult per round]}, {same: [CPU µs/request]}).

    Within a round the loads follow each other server by server, the compared pair (ours, before) back to back
    and in alternating order, so a burst of load from other processes hits both alike.
    """
    pool = ensure_production_pool()[FEATURES].to_numpy()
    one, hundred = {"features": pool[0].tolist()}, {"rows": pool[:100].tolist()}
    loads = [("/predict", one, 1), ("/predict", one, 16), ("/predict_batch", hundred, 1)]
    results: dict[tuple[str, str], list] = {}
    cpu: dict[tuple[str, str], list] = {}
    for i in range(rounds):
        pair = ["onnx", "before"] if i % 2 == 0 else ["before", "onnx"]
        for path, payload, clients in loads:
            names = [*pair, "floor", "sklearn"] if path == "/predict" else pair
            for name in (n for n in names if n in srv):
                limit = 200_000 if name != "sklearn" else 20_000
                used = cpu_seconds(srv[name].pid)
                r = rawload.run(srv[name].port, path, payload, concurrency=clients, max_requests=limit,
                                max_seconds=seconds)
                key = (name, f"{path} x{clients}")
                results.setdefault(key, []).append(r)
                cpu.setdefault(key, []).append((cpu_seconds(srv[name].pid) - used) / max(r.requests, 1) * 1e6)
    return results, cpu


def value(r: rawload.RawResult, what: str) -> float:
    """Return one figure of a run: 'p50' or 'p99' (ms) or 'rps'."""
    return r.rps if what == "rps" else r.percentile_ms(50 if what == "p50" else 99)


def med(results: dict, key: tuple[str, str], what: str) -> float:
    """Return the median over rounds of one figure."""
    return statistics.median(value(r, what) for r in results[key])


def paired_ratio(results: dict, load: str, what: str) -> float:
    """Return the median over rounds of (ours / before) for one load: rounds pair up, so machine drift cancels."""
    pairs = zip(results[("onnx", load)], results[("before", load)], strict=True)
    if what == "cpu":
        return statistics.median(a / b for a, b in pairs)
    return statistics.median(value(a, what) / value(b, what) for a, b in pairs)


def report(results: dict, cpu: dict, memory: dict[str, float], base: dict[str, float]) -> None:
    """Print the table, the before/after ratios (if measured) and the goals (`base`: the onnxruntime floors)."""
    print(f"{'server':<9}{'load':<22}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>10}{'CPU µs/req':>12}{'errors':>8}")
    for (name, load), runs in results.items():
        print(f"{name:<9}{load:<22}{med(results, (name, load), 'p50'):9.3f}{med(results, (name, load), 'p99'):9.3f}"
              f"{med(results, (name, load), 'rps'):10.0f}{statistics.median(cpu[(name, load)]):12.0f}"
              f"{sum(r.errors for r in runs):8d}")
    print("\nserver memory (RSS): " + ", ".join(f"{n} {mb:.0f} MB" for n, mb in memory.items()))
    if "before" in memory:
        print("\nthis code vs the compared code, median of per-round ratios new/old (p50 and server CPU per request:"
              " < 1 is better; req/s: > 1 is better)")
        for load in ("/predict x1", "/predict x16", "/predict_batch x1"):
            ratios = {what: paired_ratio(results if what != "cpu" else cpu, load, what)
                      for what in ("p50", "rps", "cpu")}
            ok = ratios["p50"] <= 1 + TOLERANCE and ratios["rps"] >= 1 - TOLERANCE
            print(f"  {load:<19} p50 {ratios['p50']:5.2f}   req/s {ratios['rps']:5.2f}   CPU/request "
                  f"{ratios['cpu']:5.2f}   {'no regression' if ok else 'REGRESSION (or noise: rerun)'}")
    floor_ratio = med(results, ("onnx", "/predict x1"), "p50") / med(results, ("floor", "/predict x1"), "p50")
    scale_ratio = med(results, ("onnx", "/predict x16"), "rps") / med(results, ("sklearn", "/predict x16"), "rps")
    batch_p50 = med(results, ("onnx", "/predict_batch x1"), "p50")
    batch_floor = base["onnx_100_ms"] + med(results, ("onnx", "/predict x1"), "p50")
    batch_ratio = batch_p50 / batch_floor
    cold_ratio = base["api_cold_s"] / base["bare_cold_s"]
    print(f"\nonnxruntime in-process, 100 rows: {base['onnx_100_ms']:.3f} ms; /predict_batch (100 rows) p50 "
          f"{batch_p50:.3f} ms = {batch_ratio:.2f} x (in-process 100 rows + /predict p50 = {batch_floor:.3f} ms)")
    print(f"cold start, process start to first prediction: API {base['api_cold_s']:.2f} s, bare onnxruntime "
          f"{base['bare_cold_s']:.2f} s (median of {base['cold_runs']:.0f}, interleaved) = {cold_ratio:.1f} x")
    goals = [
        (f"/predict p50 at 1 client vs framework floor: {floor_ratio:.2f}x", floor_ratio <= 2.0, "<= 2x"),
        (f"/predict req/s at 16 clients vs scikit-learn backend: {scale_ratio:.1f}x", scale_ratio >= 15, ">= 15x"),
        (f"/predict_batch (100 rows) p50 vs onnxruntime + /predict: {batch_ratio:.2f}x", batch_ratio <= 1.5, "<= 1.5x"),
        (f"cold start vs bare onnxruntime process: {cold_ratio:.1f}x", cold_ratio <= 5.0, "<= 5x"),
        (f"API (onnx) memory: {memory['onnx']:.0f} MB", memory["onnx"] < 150, "< 150 MB"),
    ]
    print()
    for text, ok, goal in goals:
        print(f"{text:<62} goal {goal:<9} {'met' if ok else 'NOT met'}")


def main() -> None:
    """Start the servers, run every measurement interleaved over rounds, stop the servers, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time bound of each measurement")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--cold-runs", type=int, default=5, help="API and bare onnxruntime cold starts, each")
    parser.add_argument("--compare-with", type=Path, default=None,
                        help="a checkout of other code (e.g. a git worktree) to serve the same bundle and compare")
    args = parser.parse_args()
    if args.compare_with is not None and not (args.compare_with / "helpers").is_dir():
        parser.error(f"{args.compare_with} holds no helpers/ package")
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        model_dir = ensure_model_bundle(Path(tmp) / "model")  # built by this code, served by every server
        srv = servers(model_dir, args.compare_with)
        start_all(list(srv.values()))
        try:
            results, cpu = measure(srv, args.rounds, args.seconds)
            memory = {name: rss_mb(s.pid) for name, s in srv.items()}
        finally:
            for s in srv.values():
                s.stop()
        pool = ensure_production_pool()[FEATURES].to_numpy()
        base = {"onnx_100_ms": floors.onnx_batch_ms(model_dir, pool[:100]), "cold_runs": args.cold_runs}
        base["api_cold_s"], base["bare_cold_s"] = floors.cold_starts(model_dir, pool[0].tolist(), args.cold_runs)
    report(results, cpu, memory, base)


if __name__ == "__main__":
    main()
