"""Row chunks scored in parallel: bit-identical to one call and to each row alone, on any batch size."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from helpers.api import scoring
from helpers.data import split_dataset
from helpers.packaging import load_model


@pytest.fixture(scope="module")
def onnx_proba(bundle_dir):
    """Return the serving backend's scoring function: onnxruntime on one intra-op thread."""
    return load_model(bundle_dir, "onnx").proba_checked


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    """Return the validation rows and 200 random ones far from the training data."""
    noise = np.random.default_rng(0).standard_normal((200, 20)) * 4
    return np.vstack([split_dataset().X_val, noise])


def bits(proba: np.ndarray) -> np.ndarray:
    """Return float32 probabilities as their bit patterns, so equality means every bit."""
    return proba.astype(np.float32).view(np.uint32)


def test_chunks_give_every_row_the_bits_it_gets_alone(onnx_proba, rows) -> None:
    alone = np.vstack([onnx_proba(rows[i:i + 1]) for i in range(len(rows))])
    rng = np.random.default_rng(1)
    for cores in (2, 3, 4):
        chunked = scoring.RowChunks(cores=cores, min_rows=1)
        for n in [1, 2, 3, 50, 51, 99, 100, 101, 128, 129, 1000, *rng.integers(1, 1001, 12)]:
            picked = rng.choice(len(rows), int(n))
            whole, parts = onnx_proba(rows[picked]), chunked.proba(onnx_proba, rows[picked])
            assert np.array_equal(bits(parts), bits(alone[picked])), (cores, n)
            assert np.array_equal(bits(whole), bits(alone[picked])), n


def test_small_batches_stay_one_call_and_large_ones_use_every_core() -> None:
    chunked = scoring.RowChunks(cores=2, min_rows=40)
    assert [chunked.chunks(n) for n in (1, 40, 79, 80, 100, 1000)] == [1, 1, 1, 2, 2, 2]
    assert scoring.RowChunks(cores=1).pool is None and scoring.RowChunks(cores=1).chunks(1000) == 1


def test_a_chunk_no_worker_starts_is_scored_by_the_caller(onnx_proba, rows) -> None:
    chunked = scoring.RowChunks(cores=2, min_rows=1)
    release = threading.Event()
    blocker = chunked.pool.submit(release.wait, 10)  # the only worker is busy: the second chunk waits in line
    try:
        assert np.array_equal(bits(chunked.proba(onnx_proba, rows[:100])), bits(onnx_proba(rows[:100])))
        assert not blocker.done()  # answered without waiting for the busy worker
    finally:
        release.set()


@pytest.mark.parametrize(("cpu_max", "expected"), [("max 100000", 8), ("50000 100000", 1), ("200000 100000", 2),
                                                   ("250000 100000", 2), ("1600000 100000", 8), (None, 8)])
def test_usable_cores_follow_a_containers_cpu_quota(monkeypatch, tmp_path, cpu_max, expected) -> None:
    monkeypatch.setattr(scoring.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max + "\n")
    monkeypatch.setattr(scoring, "CGROUP_CPU_MAX", path)
    assert scoring.usable_cores() == expected
