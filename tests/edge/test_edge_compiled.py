"""helpers.edge.compiled: tl2cgen's C code, built by the system compiler, answers exactly like scikit-learn."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

import helpers
from helpers.edge import compiled
from helpers.model import make_reference_model

pytestmark = pytest.mark.skipif(compiled.compiler() is None, reason="no C compiler (install gcc)")


@pytest.fixture(scope="module")
def split():
    return helpers.split_dataset()


@pytest.fixture(scope="module")
def forest(split):
    return make_reference_model(n_estimators=4, max_depth=5).fit(split.X_train, split.y_train)


@pytest.mark.parametrize("quantize", [True, False], ids=["integer-ranks", "float-thresholds"])
def test_the_binary_answers_exactly_like_scikit_learn(forest, split, tmp_path, quantize) -> None:
    built = compiled.ensure_binary(forest, tmp_path / "code", quantize=quantize, cache=tmp_path / "bin")
    assert not built.reused and built.compile_seconds > 0 and built.binary_bytes > 0
    proba = compiled.predict_proba_binary(built.binary, split.X_test)
    np.testing.assert_allclose(proba, forest.predict_proba(split.X_test), rtol=0, atol=1e-12)
    assert compiled.seconds_per_row(built.binary, split.X_test[:50], repeats=3) > 0


def test_integer_ranks_replace_float_thresholds_in_the_code(forest, tmp_path) -> None:
    ranks = "".join(p.read_text() for p in compiled.generate_c(forest, tmp_path / "q", quantize=True))
    floats = "".join(p.read_text() for p in compiled.generate_c(forest, tmp_path / "f", quantize=False))
    assert ".qvalue <=" in ranks and ".fvalue <=" not in ranks
    assert ".fvalue <=" in floats and ".qvalue <=" not in floats


def test_the_same_code_reuses_the_cached_binary(forest, tmp_path) -> None:
    first = compiled.ensure_binary(forest, tmp_path / "a", cache=tmp_path / "bin")
    again = compiled.ensure_binary(forest, tmp_path / "b", cache=tmp_path / "bin")
    assert again.reused and again.binary == first.binary
    assert again.compile_seconds == first.compile_seconds  # the first build's time, recorded beside the binary
    other = make_reference_model(n_estimators=2, max_depth=2).fit(np.eye(20), np.arange(20) % 2)
    assert compiled.ensure_binary(other, tmp_path / "c", cache=tmp_path / "bin").binary != first.binary


def test_a_single_tree_compiles_as_a_forest_of_one(split, tmp_path) -> None:
    tree = DecisionTreeClassifier(max_depth=6, random_state=0).fit(split.X_train, split.y_train)
    np.testing.assert_array_equal(compiled.as_forest(tree).predict_proba(split.X_val), tree.predict_proba(split.X_val))
    built = compiled.ensure_binary(tree, tmp_path / "code", cache=tmp_path / "bin")
    proba = compiled.predict_proba_binary(built.binary, split.X_val)
    np.testing.assert_allclose(proba, tree.predict_proba(split.X_val), rtol=0, atol=1e-12)


def test_rows_are_written_as_float32_that_read_back_exactly(split) -> None:
    text = compiled.rows_as_text(split.X_test[:20])
    back = np.loadtxt(text.splitlines(), dtype=np.float64).astype(np.float32)
    np.testing.assert_array_equal(back, split.X_test[:20].astype(np.float32))


def test_a_failing_binary_is_reported(tmp_path) -> None:
    script = tmp_path / "fails"
    script.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    script.chmod(0o755)
    with pytest.raises(RuntimeError, match="exited with 3: broken"):
        compiled.run_binary(script, np.zeros((1, 20)))


def test_native_output_goes_to_the_log_not_the_terminal(tmp_path, capfd) -> None:
    log = tmp_path / "native.log"
    with compiled.native_output_to(log):
        os.write(2, b"from C on fd 2\n")
        os.write(1, b"from C on fd 1\n")
        print("from Python")
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    assert log.read_text().splitlines() == ["from C on fd 2", "from C on fd 1", "from Python"]
