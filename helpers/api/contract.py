"""The API's input contract, written once: pydantic models built from the course's constants, and the messages
a client reads when a request breaks them (every message names the field)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from helpers.common.schema import MAX_BATCH_ROWS, N_FEATURES

EXAMPLE_ROW = [0.12, -1.3, 0.5, 2.1, -0.4, 0.9, 1.7, -0.2, 0.3, -2.2,
               0.8, -0.6, 1.1, 0.05, -1.0, 0.7, -0.3, 1.4, 0.2, -0.9]

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A JSON number (an integer is fine, `true` is not) that is finite: NaN and Infinity are refused."""
Row = Annotated[list[Number], Field(min_length=N_FEATURES, max_length=N_FEATURES)]
"""One row: exactly N_FEATURES numbers, feature_0 … feature_19 in order."""


class PredictRequest(BaseModel):
    """One row: exactly 20 finite numbers, feature_0 … feature_19 in order."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"features": EXAMPLE_ROW}]})
    features: Row


class BatchRequest(BaseModel):
    """1 to 1,000 rows of 20 finite numbers each."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"rows": [EXAMPLE_ROW, EXAMPLE_ROW]}]})
    rows: list[Row] = Field(min_length=1, max_length=MAX_BATCH_ROWS)


class Problem(BaseModel):
    """An error: `detail` lists what was wrong and where (`loc`)."""

    detail: list[dict] | str


def json_type(value: Any) -> str:
    """Return how JSON names the type of a parsed value, with the value when it is short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, str):
        return f"string {json.dumps(value)[:40]}"
    return {list: "array", dict: "object"}.get(type(value), type(value).__name__)


def explain(error: dict, loc: list | None = None) -> tuple[int, dict]:
    """Return (status, detail item) for one pydantic error, worded for the client; `loc` defaults to the body."""
    kind, value = error["type"], error.get("input")
    loc = ["body", *error.get("loc", ())] if loc is None else loc
    field = loc[-1] if len(loc) > 1 else "body"
    if kind == "json_invalid":
        return 400, {"loc": ["body"], "msg": f"malformed JSON: {error['msg'].removeprefix('Invalid JSON: ')}",
                     "type": kind}
    if kind in ("too_short", "too_long") and field == "rows":
        msg = f"expected 1 to {MAX_BATCH_ROWS:,} rows, got {len(value):,}"
    elif kind in ("too_short", "too_long"):
        msg = f"expected exactly {N_FEATURES} numbers, got {len(value)}"
    elif kind == "float_type":
        msg = f"expected a number, got {json_type(value)}"
    elif kind == "finite_number":
        msg = f"expected a finite number, got {str(value)[:40]}"
    elif kind == "list_type":
        msg = f"expected a list, got {json_type(value)}"
    elif kind == "missing":
        msg = f"field required: '{field}'"
    elif kind == "extra_forbidden":
        msg = f"unexpected field: {field}"
    elif kind == "model_type":
        msg = f"expected a JSON object, got {json_type(value)}"
    else:
        msg = str(error.get("msg", "invalid input"))
    return 422, {"loc": loc, "msg": msg, "type": kind}


def problems(err: ValidationError) -> tuple[int, list[dict]]:
    """Return (status, detail list) for a failed validation: 400 for malformed JSON, else 422."""
    explained = [explain(e) for e in err.errors(include_url=False)]
    return max(status for status, _ in explained), [item for _, item in explained]


def fast_rows(body: bytes) -> np.ndarray | None:
    """Return the (n, 20) rows of a well-formed /predict_batch body, or None to let the contract judge it.

    The happy path of a large batch, without building 2,000 Python floats twice: in a valid body the only string
    is the key "rows", and there is no true, false or null. Anything else (strings, booleans, NaN, a wrong
    shape, an extra field) returns None, and `BatchRequest` then names the problem.
    """
    if body.count(b'"') != 2 or b"true" in body or b"false" in body or b"null" in body:
        return None
    try:
        payload = orjson.loads(body)
        rows = payload["rows"]
        if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_BATCH_ROWS:
            return None
        X = np.array(rows, dtype=np.float64)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError):
        return None
    if X.shape != (len(rows), N_FEATURES) or not np.isfinite(X).all():
        return None
    return X
