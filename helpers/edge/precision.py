"""Notebook A2: what onnxruntime's usual compression tools do to a tree ensemble (int8 and float16), measured.

Both tools were written for neural networks, whose weights are big float tensors. A forest's ONNX graph holds
one `TreeEnsembleClassifier` node whose thresholds and leaf values are attributes, and onnxruntime's tree
kernels compute in float or double only.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from helpers.packaging import ONNX_INPUT, onnx_session

ATTRIBUTE_TYPES = {1: "float32", 6: "float32", 11: "float64", 10: "float16"}
"""ONNX attribute and tensor type codes this module prints (FLOAT/FLOATS, DOUBLE, FLOAT16)."""


@contextlib.contextmanager
def quiet_tools() -> Iterator[None]:
    """Silence the log lines and warnings the ONNX tools emit (a hint to run pre-processing first)."""
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


def graph_summary(path: Path) -> str:
    """Return the graph's input type and its operators (counted, by name), with the tree node's threshold type."""
    from collections import Counter

    import onnx

    graph = onnx.load(str(path)).graph
    counts = Counter(node.op_type for node in graph.node)
    thresholds = {node.op_type: ATTRIBUTE_TYPES.get(a.type, "?") for node in graph.node for a in node.attribute
                  if a.name == "nodes_values"}
    ops = [f"{n} x {op}" + (f" (thresholds {thresholds[op]})" if op in thresholds else "")
           for op, n in sorted(counts.items())]
    source = graph.input[0].type.tensor_type.elem_type
    return f"input {ATTRIBUTE_TYPES.get(source, source)}; " + ", ".join(ops)


def try_int8(source: Path, target: Path) -> str:
    """Return what onnxruntime's dynamic int8 quantization does with the graph: its error, or the new graph."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    try:
        with quiet_tools():
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    except Exception as exc:  # noqa: BLE001 - the refusal is the result we report
        return f"refused: {type(exc).__name__}: {exc}"
    return graph_summary(target)


def to_float16(source: Path, target: Path) -> str:
    """Convert the graph to float16 with onnxruntime's converter, save it to `target`, return its summary."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with quiet_tools():
        converted = convert_float_to_float16(onnx.load(str(source)))
    onnx.save(converted, str(target))
    return graph_summary(target)


def max_probability_gap(first: Path, second: Path, X: np.ndarray) -> float:
    """Return the largest |p(class 1)| difference between two ONNX graphs over the rows of X (fed as float32)."""
    answers = []
    for path in (first, second):
        session = onnx_session(path)
        kind = session.get_inputs()[0].type
        rows = np.asarray(X, dtype=np.float16 if "float16" in kind else np.float32)
        answers.append(np.asarray(session.run(None, {ONNX_INPUT: rows})[1], dtype=np.float64)[:, 1])
    return float(np.abs(answers[0] - answers[1]).max())
