"""helpers.common.timing and helpers.common.hashing: medians of repeated calls, readable durations, fingerprints."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from helpers.common import paths
from helpers.common.hashing import file_sha256
from helpers.common.timing import format_duration, measure


def test_measure_runs_warmup_then_repeats_and_orders_percentiles() -> None:
    calls = itertools.count()
    timing = measure(lambda: next(calls), repeats=20, warmup=3)
    assert next(calls) == 23 and timing.repeats == 20
    assert 0 <= timing.median <= timing.p95 <= timing.p99


@pytest.mark.parametrize(("seconds", "text"), [(12e-6, "12 µs"), (0.0034, "3.40 ms"), (1.25, "1.25 s")])
def test_format_duration_picks_a_readable_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_file_sha256_matches_hashlib_on_a_file_larger_than_a_block(tmp_path) -> None:
    data = bytes(range(256)) * 9_000  # about 2.3 MB: several 1 MB blocks
    (tmp_path / "blob").write_bytes(data)
    assert file_sha256(tmp_path / "blob") == hashlib.sha256(data).hexdigest()


def test_course_notebooks_lists_the_core_chapter_then_the_advanced_ones(tmp_path) -> None:
    for name in ("02_b.ipynb", "01_a.ipynb", "notes.ipynb", "advanced/A2_y.ipynb", "advanced/A1_x.ipynb"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("{}")
    found = [p.relative_to(tmp_path).as_posix() for p in paths.course_notebooks(tmp_path)]
    assert found == ["01_a.ipynb", "02_b.ipynb", "advanced/A1_x.ipynb", "advanced/A2_y.ipynb"]
