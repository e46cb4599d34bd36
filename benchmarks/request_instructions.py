"""CPU instructions per request of the API, counted by valgrind: a figure a busy machine cannot disturb.

Usage: python benchmarks/request_instructions.py [--requests N] [--compare-with DIR]
Each app runs in-process (its lifespan, then POST requests straight into the ASGI app, no sockets) under
`valgrind --tool=callgrind`, once with 0 and once with N requests after the same warm-up; the difference over N is
the instructions one request costs. Slow (valgrind runs Python ~50x slower: about 20 minutes with a comparison),
but steady where timings are not: use it when bench_serving.py is too noisy to tell a few percent apart. A start-up
count sometimes differs by ~25 million instructions between identical runs, so the default 3,000 requests keep
that below 10,000 a request (~1.5%). Runs are sequential, and the code must not change while it runs (a freshly
compiled module counts too). --compare-with DIR counts the code checked out in DIR as well (helpers.api's app, or the
pre-restructure helpers.serving's).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 20
DRIVER = r'''
import asyncio, json, sys, warnings
warnings.simplefilter("ignore")
model_dir, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    from helpers.api.app import create_app
    app = create_app(model_dir=model_dir)
except ImportError:
    from helpers.serving import create_app
    app = create_app(model_dir)
row = [0.123456789 * i - 1 for i in range(20)]
body = json.dumps({"features": row} if path == "/predict" else {"rows": [row] * 100}).encode()
scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
         "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
         "headers": [(b"host", b"x"), (b"content-type", b"application/json"),
                     (b"content-length", str(len(body)).encode())],
         "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}

async def main():
    started = []
    async def lifespan_receive():
        return {"type": "lifespan.startup"} if not started else await asyncio.sleep(3600)
    async def lifespan_send(message):
        started.append(message)
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                   lifespan_receive, lifespan_send))
    while not started:
        await asyncio.sleep(0.01)
    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}
    statuses = []
    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
    for _ in range(WARMUP + n):
        await app(dict(scope), receive, send)
    assert set(statuses) == {200}, set(statuses)
    task.cancel()

asyncio.run(main())
'''.replace("WARMUP", str(WARMUP))


def instructions(code_dir: Path, model_dir: Path, requests: int, path: str) -> int:
    """Return the instructions valgrind counts for one run of the driver against the code in `code_dir`."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(DRIVER)
    # A fixed hash seed and one BLAS thread: with them, repeated counts agree within a fraction of a percent.
    env = {**os.environ, "PYTHONPATH": str(code_dir), "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1"}
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-P", script.name,
               str(model_dir), str(requests), path]
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=code_dir, check=False)
    finally:
        os.unlink(script.name)
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or not found:
        raise RuntimeError(f"the count failed:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def per_request(code_dir: Path, model_dir: Path, requests: int, path: str) -> float:
    """Return the instructions one request costs: (count with N requests - count with none) / N."""
    return (instructions(code_dir, model_dir, requests, path) - instructions(code_dir, model_dir, 0, path)) / requests


def main() -> None:
    """Count both apps (if compared) for /predict and /predict_batch, and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="/predict requests counted (batches: a fifth)")
    parser.add_argument("--compare-with", type=Path, default=None, help="a checkout of other code to count too")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed")
    sys.path.insert(0, str(ROOT))
    from helpers.packaging import ensure_model_bundle

    codes = {"this code": ROOT, **({"compared": args.compare_with.resolve()} if args.compare_with else {})}
    with tempfile.TemporaryDirectory(prefix="instructions-") as tmp:
        model_dir = ensure_model_bundle(Path(tmp) / "model")
        for path, n in (("/predict", args.requests), ("/predict_batch", max(1, args.requests // 5))):
            counts = {name: per_request(code, model_dir, n, path) for name, code in codes.items()}
            line = ", ".join(f"{name} {count:,.0f}" for name, count in counts.items())
            ratio = f"; new/old {counts['this code'] / counts['compared']:.3f}" if "compared" in counts else ""
            print(f"{path:<15} instructions per request: {line}{ratio}", flush=True)


if __name__ == "__main__":
    main()
