"""The API's input contract, written once: pydantic models built from the course's constants, and the messages
a client reads when a request breaks them (every message names the field and never echoes a whole input)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from helpers.common.schema import MAX_BATCH_ROWS, N_FEATURES

EXAMPLE_ROW = [0.12, -1.3, 0.5, 2.1, -0.4, 0.9, 1.7, -0.2, 0.3, -2.2,
               0.8, -0.6, 1.1, 0.05, -1.0, 0.7, -0.3, 1.4, 0.2, -0.9]

FLOAT32_MAX = 3.4028234663852886e38
"""The largest 32-bit float: the models compute in float32, where a larger number would become infinity."""
Number = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
"""A JSON number (an integer is fine, `true` is not) that is finite, also as a 32-bit float: NaN, Infinity and
1e308 are refused."""
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


NUMERIC_BYTES = b"0123456789+-.eE,[] \t\r\n"
"""What a batch body holds besides `{"rows":}`: the bytes of JSON numbers, commas, brackets and whitespace."""


def batch_rows(body: bytes) -> np.ndarray | None:
    """Return a batch body as an (n, 20) float64 array if it keeps BatchRequest's contract, else None.

    The same rules as BatchRequest, checked on bytes and arrays: a body that is `{"rows": ...}` around numbers,
    commas and brackets only can hold no string, boolean, null or object, so numpy converts exactly its numbers.
    A body it does not accept goes to BatchRequest, which refuses it with the contract's message (or accepts it).
    """
    if body.translate(None, NUMERIC_BYTES) != b'{"rows":}':  # one C pass; any other token: pydantic decides
        return None
    try:
        parsed = orjson.loads(body)
        rows = parsed["rows"] if type(parsed) is dict and len(parsed) == 1 else None
        X = np.array(rows, dtype=np.float64) if type(rows) is list else None
    except (orjson.JSONDecodeError, KeyError, ValueError):  # not JSON; another key; rows of unequal lengths
        return None
    if X is None or X.ndim != 2 or X.shape[1] != N_FEATURES or not 1 <= len(X) <= MAX_BATCH_ROWS:
        return None
    return X if np.abs(X).max() <= FLOAT32_MAX else None  # also refuses infinity (NaN is not JSON)


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
    return {list: "array", dict: "object"}.get(type(value), "number")


def is_row(loc: Sequence) -> bool:
    """Return True if `loc` points at one row: /predict's features, or a row of a batch."""
    return loc[-1] == "features" or (len(loc) > 2 and loc[-2] == "rows")


def message(error: dict, loc: Sequence, fields: Sequence[str] = ()) -> str:
    """Return the client-facing message for one pydantic error at `loc` (`fields`: those of the body's model)."""
    kind, value, field = error["type"], error.get("input"), loc[-1]
    row, in_a_row = is_row(loc), len(loc) > 2 and is_row(loc[:-1])
    if kind in ("too_short", "too_long") and field == "rows":
        return f"expected 1 to {MAX_BATCH_ROWS:,} rows, got {len(value):,}"
    if kind in ("too_short", "too_long") and row:
        return f"expected exactly {N_FEATURES} numbers, got {len(value)}"
    if kind == "float_type":
        return f"expected a number, got {json_type(value)}"
    if kind == "finite_number" and isinstance(value, int):
        return "a number is too large for a 64-bit float"
    if kind == "finite_number":
        return f"expected a finite number, got {value}"
    if kind in ("less_than_equal", "greater_than_equal") and in_a_row:
        return f"expected a number between -{FLOAT32_MAX:.1e} and {FLOAT32_MAX:.1e} (32-bit floats), got {value:.1e}"
    if kind == "list_type" and (field == "rows" or row):
        return f"expected a list of {'rows' if field == 'rows' else f'{N_FEATURES} numbers'}, got {json_type(value)}"
    if kind == "missing":
        return f"field required: '{field}'"
    if kind == "extra_forbidden":
        return f"unexpected field: {field}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        wanted = " with the field(s) " + ", ".join(f"'{f}'" for f in fields) if fields else ""
        return f"expected a JSON object{wanted}, got {json_type(value)}"
    return str(error.get("msg", "invalid input"))


def explain(error: dict, loc: list | None = None, fields: Sequence[str] = ()) -> tuple[int, dict]:
    """Return (status, detail item) for one pydantic error: 400 for malformed JSON, else 422; `loc`: the body's."""
    loc = ["body", *error.get("loc", ())] if loc is None else loc
    if error["type"] == "json_invalid":
        return 400, {"loc": ["body"], "msg": f"malformed JSON: {error['msg'].removeprefix('Invalid JSON: ')}",
                     "type": "json_invalid"}
    return 422, {"loc": loc, "msg": message(error, tuple(loc) or ("body",), fields), "type": error["type"]}


def problems(err: ValidationError, model: type[BaseModel] | None = None) -> tuple[int, list[dict]]:
    """Return (status, detail list) for a failed validation of a request body by `model`."""
    fields = tuple(model.model_fields) if model is not None else ()
    explained = [explain(e, fields=fields) for e in err.errors(include_url=False)]
    return max(status for status, _ in explained), [item for _, item in explained]


def body_doc(model: type[BaseModel], *, required: bool = True) -> dict:
    """Return openapi_extra documenting a JSON body a route reads itself (its schema and an example)."""
    content: dict[str, Any] = {"schema": model.model_json_schema(ref_template="#/components/schemas/{model}")}
    examples = (model.model_config.get("json_schema_extra") or {}).get("examples")
    if examples:
        content["examples"] = {"example": {"value": examples[0]}}
    return {"requestBody": {"required": required, "content": {"application/json": content}}}
