"""Notebook A2: smaller forests (fewer, shallower or pruned trees, or a distilled student), measured side by side.

Each candidate is scored on the validation rows and measured: pickle bytes, ONNX bytes, the median time
onnxruntime takes to answer one row, and its time per row when it scores all validation rows in one call.
"Nodes per row" (how many tree nodes one prediction visits, summed over the trees) is the cost model behind
those times: it is the same on every machine, the times are not.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from helpers.common.timing import format_duration, measure
from helpers.data import Split
from helpers.model import make_reference_model
from helpers.packaging import ONNX_INPUT, onnx_session, to_onnx_model


@dataclass(frozen=True)
class Candidate:
    """A fitted model to compare: its display name, its family (forest, pruned, distilled) and the model."""

    name: str
    family: str
    model: Any


def depth_label(depth: int | None) -> str:
    """Return 'depth 8', or 'full depth' for None (trees grow until their leaves are pure)."""
    return "full depth" if depth is None else f"depth {depth}"


def forest_grid(split: Split, trees: Sequence[int], depths: Sequence[int | None]) -> list[Candidate]:
    """Return one fitted forest (the course's recipe, seed 42) per (number of trees, maximum depth) pair."""
    return [Candidate(f"{n} trees, {depth_label(d)}", "forest",
                      make_reference_model(n_estimators=n, max_depth=d).fit(split.X_train, split.y_train))
            for d in depths for n in trees]


def pruned_forests(split: Split, alphas: Sequence[float], trees: int = 100) -> list[Candidate]:
    """Return forests whose trees are cost-complexity pruned with each `ccp_alpha` (larger alpha, smaller trees)."""
    return [Candidate(f"{trees} trees, ccp_alpha {a:g}", "pruned",
                      make_reference_model(n_estimators=trees, ccp_alpha=a).fit(split.X_train, split.y_train))
            for a in alphas]


def synthetic_rows(X: np.ndarray, n_rows: int, noise: float, seed: int = 42) -> np.ndarray:
    """Return `n_rows` rows near the data: random rows of X, each feature jittered by `noise` of its std."""
    rng = np.random.default_rng(seed)
    base = X[rng.integers(0, len(X), n_rows)]
    return base + rng.standard_normal(base.shape) * (noise * X.std(axis=0))


def distilled_trees(split: Split, teacher: Any, depths: Sequence[int | None], synthetic: int,
                    noise: float) -> list[Candidate]:
    """Return, per depth, one tree that learned the teacher's answers and one that learned the labels only.

    The student sees the training rows plus `synthetic` jittered rows, all labelled by the teacher (the forest):
    it copies the forest's decision boundary where the data lives, with many more examples than labels exist.
    """
    X_student = np.vstack([split.X_train, synthetic_rows(split.X_train, synthetic, noise)])
    y_student = teacher.predict(X_student)
    out = []
    for depth in depths:
        student = DecisionTreeClassifier(max_depth=depth, random_state=42).fit(X_student, y_student)
        plain = DecisionTreeClassifier(max_depth=depth, random_state=42).fit(split.X_train, split.y_train)
        out += [Candidate(f"distilled tree, {depth_label(depth)}", "distilled", student),
                Candidate(f"tree, {depth_label(depth)} (labels only)", "tree", plain)]
    return out


def trees_of(model: Any) -> list[Any]:
    """Return the fitted decision trees inside a model (one for a single tree)."""
    return list(getattr(model, "estimators_", [model]))


def nodes_per_row(model: Any, X: np.ndarray) -> float:
    """Return how many tree nodes one prediction visits on average, summed over all trees (root to leaf)."""
    X32 = np.asarray(X, dtype=np.float32)
    return float(sum(t.decision_path(X32).sum() for t in trees_of(model)) / len(X32))


def measure_candidate(candidate: Candidate, split: Split, directory: Path, repeats: int = 200) -> dict[str, Any]:
    """Return one table row: the model's shape, validation accuracy, pickle and ONNX bytes, one-row latency."""
    directory.mkdir(parents=True, exist_ok=True)
    model = candidate.model
    onnx_path = directory / (slug(candidate.name) + ".onnx")
    onnx_path.write_bytes(to_onnx_model(model))
    session = onnx_session(onnx_path)
    row = split.X_val[:1].astype(np.float32)
    rows = split.X_val.astype(np.float32)
    one = measure(lambda: session.run(None, {ONNX_INPUT: row}), repeats=repeats, warmup=20)
    batch = measure(lambda: session.run(None, {ONNX_INPUT: rows}), repeats=max(5, repeats // 20), warmup=2)
    trees = trees_of(model)
    return {
        "model": candidate.name,
        "family": candidate.family,
        "trees": len(trees),
        "max depth": max(t.get_depth() for t in trees),
        "nodes": sum(t.tree_.node_count for t in trees),
        "nodes/row": nodes_per_row(model, split.X_val),
        "val accuracy": float(model.score(split.X_val, split.y_val)),
        "pickle KB": len(pickle.dumps(model, protocol=5)) / 1024,
        "ONNX KB": onnx_path.stat().st_size / 1024,
        "latency (1 row)": one.median,
        "per row (batch)": batch.median / len(rows),
    }


def slug(name: str) -> str:
    """Return a file-name-safe version of a model name ('30 trees, depth 8' -> '30-trees-depth-8')."""
    return "-".join("".join(c if c.isalnum() or c == "." else " " for c in name).split())


def measure_all(candidates: Sequence[Candidate], split: Split, directory: Path, repeats: int = 200,
                progress: bool = False) -> pd.DataFrame:
    """Return the table of every candidate (sorted by ONNX size, then name), with a progress bar if asked."""
    from tqdm.auto import tqdm

    # An explicit `disable` overrides tqdm's own reading of TQDM_DISABLE: honour it here (run, refresh and test).
    disabled = not progress or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes")
    with tqdm(candidates, desc="measuring", unit="model", disable=disabled) as bar:
        rows = [measure_candidate(c, split, directory, repeats) for c in bar]
    return pd.DataFrame(rows).sort_values(["ONNX KB", "model"], kind="stable").reset_index(drop=True)


def pareto_front(table: pd.DataFrame, size: str = "ONNX KB", score: str = "val accuracy") -> list[str]:
    """Return the models no other model beats on both size and accuracy, smallest first (ties: by name)."""
    front, best = [], -np.inf
    for _, row in table.sort_values([size, score, "model"], ascending=[True, False, True], kind="stable").iterrows():
        if row[score] > best + 1e-12:
            front.append(row["model"])
            best = row[score]
    return front


def recommend(table: pd.DataFrame, reference_accuracy: float, budget: float, size: str = "ONNX KB") -> str:
    """Return the smallest model whose validation accuracy is at most `budget` below the reference's."""
    ok = table[table["val accuracy"] >= reference_accuracy - budget - 1e-12]
    if ok.empty:
        raise ValueError(f"no candidate is within {budget} of the reference accuracy {reference_accuracy:.4f}")
    return str(ok.sort_values([size, "model"], kind="stable").iloc[0]["model"])


def display_table(table: pd.DataFrame, front: Sequence[str]) -> pd.DataFrame:
    """Return the table formatted for reading: fixed decimals, latency with its unit, a mark on the front."""
    shown = table.copy()
    shown.insert(0, "front", ["*" if m in front else "" for m in shown["model"]])
    shown["nodes/row"] = shown["nodes/row"].map("{:.1f}".format)
    shown["val accuracy"] = shown["val accuracy"].map("{:.4f}".format)
    for column in ("pickle KB", "ONNX KB"):
        shown[column] = shown[column].map("{:,.1f}".format)
    shown["latency (1 row)"] = shown["latency (1 row)"].map(format_duration)
    shown["per row (batch)"] = shown["per row (batch)"].map(format_per_row)
    return shown


def format_per_row(seconds: float) -> str:
    """Return a short duration with a readable unit: '85 ns', '4.2 µs', '1.30 ms'."""
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e3:.2f} ms"
