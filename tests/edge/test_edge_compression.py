"""helpers.edge.compression and .precision: the grid, the front, the recommendation, and the ONNX levers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

import helpers
from helpers.edge import compression, precision
from helpers.model import make_reference_model
from helpers.packaging import to_onnx_model


@pytest.fixture(scope="module")
def split():
    return helpers.split_dataset()


def table_of(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["model", "ONNX KB", "val accuracy"])


def test_the_front_keeps_exactly_the_undominated_models() -> None:
    table = table_of([("big", 100.0, 0.90), ("dominated", 50.0, 0.80), ("small", 10.0, 0.85),
                      ("tiny", 1.0, 0.70), ("same size, worse", 10.0, 0.84), ("larger, equal", 20.0, 0.85)])
    assert compression.pareto_front(table) == ["tiny", "small", "big"]


def test_recommend_picks_the_smallest_model_within_the_budget() -> None:
    table = table_of([("reference", 100.0, 0.85), ("b", 20.0, 0.84), ("a", 20.0, 0.84), ("c", 5.0, 0.83)])
    assert compression.recommend(table, 0.85, 0.01) == "a"  # equal size: the name decides
    assert compression.recommend(table, 0.85, 0.02) == "c"
    assert compression.recommend(table, 0.85, 0.0) == "reference"
    with pytest.raises(ValueError, match="no candidate"):
        compression.recommend(table, 0.95, 0.01)


def test_nodes_per_row_counts_every_node_from_root_to_leaf(split) -> None:
    stump = DecisionTreeClassifier(max_depth=1, random_state=0).fit(split.X_train, split.y_train)
    assert compression.nodes_per_row(stump, split.X_val) == 2.0
    forest = make_reference_model(n_estimators=3, max_depth=1).fit(split.X_train, split.y_train)
    assert compression.nodes_per_row(forest, split.X_val) == 6.0


def test_the_grid_fits_one_forest_per_pair(split) -> None:
    grid = compression.forest_grid(split, (2, 3), (2, None))
    assert [c.name for c in grid] == ["2 trees, depth 2", "3 trees, depth 2", "2 trees, full depth",
                                      "3 trees, full depth"]
    assert [len(c.model.estimators_) for c in grid] == [2, 3, 2, 3]
    assert max(t.get_depth() for t in grid[1].model.estimators_) <= 2
    assert max(t.get_depth() for t in grid[3].model.estimators_) > 2
    pruned = compression.pruned_forests(split, (0.0, 0.02), trees=3)
    sizes = [sum(t.tree_.node_count for t in c.model.estimators_) for c in pruned]
    assert sizes[1] < sizes[0]


def test_synthetic_rows_stay_near_the_data_and_repeat(split) -> None:
    X = split.X_train
    exact = compression.synthetic_rows(X, 50, noise=0.0)
    assert all((row == X).all(axis=1).any() for row in exact)
    noisy = compression.synthetic_rows(X, 2_000, noise=0.3)
    assert noisy.shape == (2_000, X.shape[1])
    np.testing.assert_array_equal(noisy, compression.synthetic_rows(X, 2_000, noise=0.3))
    assert 0.2 < np.median((noisy - X.mean(0)).std(0) / X.std(0) - 1) + 1 < 1.5


def test_a_student_learns_the_teachers_answers_not_the_labels(split) -> None:
    teacher = DecisionTreeClassifier(max_depth=1, random_state=0).fit(split.X_train, split.y_train)
    assert (teacher.predict(split.X_train) != split.y_train).mean() > 0.1  # a teacher that disagrees with labels
    student, plain = compression.distilled_trees(split, teacher, (None,), synthetic=500, noise=0.3)
    assert (student.name, plain.name) == ("distilled tree, full depth", "tree, full depth (labels only)")
    np.testing.assert_array_equal(student.model.predict(split.X_train), teacher.predict(split.X_train))
    np.testing.assert_array_equal(plain.model.predict(split.X_train), split.y_train)


def test_a_measured_row_reports_what_it_says(split, tmp_path) -> None:
    forest = make_reference_model(n_estimators=3, max_depth=3).fit(split.X_train, split.y_train)
    row = compression.measure_candidate(compression.Candidate("3 trees", "forest", forest), split, tmp_path, 5)
    assert row["val accuracy"] == pytest.approx(forest.score(split.X_val, split.y_val))
    assert row["ONNX KB"] * 1024 == (tmp_path / "3-trees.onnx").stat().st_size
    assert row["trees"] == 3 and row["max depth"] <= 3
    assert row["nodes"] == sum(t.tree_.node_count for t in forest.estimators_)
    assert row["latency (1 row)"] > 0 and row["per row (batch)"] > 0
    shown = compression.display_table(pd.DataFrame([row]), ["3 trees"])
    assert shown.loc[0, "front"] == "*"
    assert shown.loc[0, "latency (1 row)"].endswith(("µs", "ms", " s"))


def test_format_per_row_picks_a_readable_unit() -> None:
    assert [compression.format_per_row(s) for s in (8.5e-8, 4.2e-6, 1.3e-3)] == ["85 ns", "4.2 µs", "1.30 ms"]
    assert compression.slug("30 trees, ccp_alpha 0.01") == "30-trees-ccp-alpha-0.01"


def test_onnx_int8_refuses_trees_and_float16_keeps_them_float32(split, tmp_path) -> None:
    forest = make_reference_model(n_estimators=3, max_depth=3).fit(split.X_train, split.y_train)
    source = tmp_path / "forest.onnx"
    source.write_bytes(to_onnx_model(forest))
    assert precision.graph_summary(source) == "input float32; 1 x TreeEnsembleClassifier (thresholds float32)"
    assert precision.try_int8(source, tmp_path / "int8.onnx").startswith("refused: ")
    half = tmp_path / "half.onnx"
    assert precision.to_float16(source, half) == \
        "input float16; 2 x Cast, 1 x TreeEnsembleClassifier (thresholds float32)"
    assert half.stat().st_size >= source.stat().st_size  # no smaller: the trees were not converted
    assert precision.max_probability_gap(source, source, split.X_test) == 0.0
    assert precision.max_probability_gap(source, half, split.X_test) < 0.5
