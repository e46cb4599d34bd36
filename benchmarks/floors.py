"""The two floors bench_serving.py compares the API with: onnxruntime in-process, and a bare onnxruntime cold start.

Batch: what scoring 100 rows costs without any server (one `InferenceSession.run`), measured in this process.
Cold start: the API from `python -m helpers.api` to its first 200 on /predict, against a bare interpreter that
imports onnxruntime, loads the same model.onnx and scores one row; both timed from process start, interleaved.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from helpers.api.launch import api_command
from helpers.common.processes import free_port

BARE_ORT = """
import sys
import numpy as np
import onnxruntime as ort
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
session.run(None, {session.get_inputs()[0].name: np.zeros((1, int(sys.argv[2])), dtype=np.float32)})
"""


def onnx_batch_ms(model_dir: Path, rows: np.ndarray, repeats: int = 300) -> float:
    """Return the median milliseconds of one onnxruntime session.run on `rows`, in this process."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: rows.astype(np.float32)}
    for _ in range(10):
        session.run(None, feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def first_prediction_seconds(model_dir: Path, row: list[float], timeout: float = 60.0) -> float:
    """Start the API, poll /predict every 5 ms until it answers 200, stop it; return start-to-answer seconds."""
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in api_command(model_dir=model_dir)]
    body = json.dumps({"features": row}).encode()
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=body,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=2) as answer:  # noqa: S310 - loopback only
                    if answer.status == 200:
                        return time.perf_counter() - start
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.005)
        raise RuntimeError(f"the API gave no prediction within {timeout:.0f} s")
    finally:
        process.terminate()
        process.wait(timeout=10)


def bare_onnx_seconds(model_dir: Path, n_features: int) -> float:
    """Return the seconds of a fresh interpreter that imports onnxruntime, loads model.onnx and scores one row."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE_ORT, str(model_dir / "model.onnx"), str(n_features)], check=True)
    return time.perf_counter() - start


def cold_starts(model_dir: Path, row: list[float], runs: int = 5) -> tuple[float, float]:
    """Return the medians (API first prediction, bare onnxruntime) in seconds, the two interleaved run by run."""
    api, bare = [], []
    for _ in range(runs):
        api.append(first_prediction_seconds(model_dir, row))
        bare.append(bare_onnx_seconds(model_dir, len(row)))
    return statistics.median(api), statistics.median(bare)
