"""The input contract on its own: what it accepts, and the message a client reads for each thing it refuses."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from helpers.api import contract
from helpers.api.schemas import Feedback, RetrainRequest
from helpers.common.schema import MAX_BATCH_ROWS, N_FEATURES

ROW = [float(v) for v in np.linspace(-1, 1, N_FEATURES)]


def refusal(model: type, body: bytes | str) -> tuple[int, list[dict]]:
    """Return (status, detail) the contract gives for a body `model` refuses."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(body)
    return contract.problems(caught.value, model)


def test_a_valid_row_and_batch_pass_unchanged() -> None:
    assert contract.PredictRequest.model_validate_json(json.dumps({"features": ROW})).features == ROW
    ints = contract.PredictRequest.model_validate_json(json.dumps({"features": list(range(N_FEATURES))}))
    assert ints.features == [float(i) for i in range(N_FEATURES)], "JSON integers are numbers too"
    batch = contract.BatchRequest.model_validate_json(json.dumps({"rows": [ROW] * MAX_BATCH_ROWS}))
    assert len(batch.rows) == MAX_BATCH_ROWS


BAD_ROWS = [
    ({"features": ROW[:19]}, "expected exactly 20 numbers, got 19", ["body", "features"]),
    ({"features": ROW + [1.0]}, "expected exactly 20 numbers, got 21", ["body", "features"]),
    ({"features": ROW[:19] + ["1.5"]}, 'expected a number, got string "1.5"', ["body", "features", 19]),
    ({"features": ROW[:19] + [True]}, "expected a number, got boolean true", ["body", "features", 19]),
    ({"features": ROW[:19] + [None]}, "expected a number, got null", ["body", "features", 19]),
    ({"features": ROW[:19] + [[1.0]]}, "expected a number, got array", ["body", "features", 19]),
    ({"features": ROW[:19] + [1e300]}, "expected a number between -3.4e+38 and 3.4e+38 (32-bit floats), got 1.0e+300",
     ["body", "features", 19]),
    ({"features": "1,2,3"}, 'expected a list of 20 numbers, got string "1,2,3"', ["body", "features"]),
    ({"features": ROW, "extra": 1}, "unexpected field: extra", ["body", "extra"]),
    ({}, "field required: 'features'", ["body", "features"]),
    ([ROW], "expected a JSON object with the field(s) 'features', got array", ["body"]),
]


@pytest.mark.parametrize(("payload", "message", "loc"), BAD_ROWS)
def test_a_bad_row_gets_a_422_naming_the_field(payload, message, loc) -> None:
    status, detail = refusal(contract.PredictRequest, json.dumps(payload))
    assert status == 422
    assert detail[0]["msg"] == message and detail[0]["loc"] == loc


@pytest.mark.parametrize(("raw", "status", "message"), [
    (b'{"features": [NaN' + b", 1" * 19 + b"]}", 422, "expected a finite number, got nan"),
    (b'{"features": [Infinity' + b", 1" * 19 + b"]}", 422, "expected a finite number, got inf"),
    (b'{"features": [-Infinity' + b", 1" * 19 + b"]}", 422, "expected a finite number, got -inf"),
    (b'{"features": [1e999' + b", 1" * 19 + b"]}", 422, "expected a finite number, got inf"),
    (b'{"features": [' + b"9" * 400 + b", 1" * 19 + b"]}", 422, "a number is too large for a 64-bit float"),
    (b'{"features": [1, 2', 400, "malformed JSON: EOF while parsing a list"),
    (b"[" * 5000 + b"]" * 5000, 400, "malformed JSON: recursion limit exceeded"),
    (b"\xff\xfe", 400, "malformed JSON"),
    (b"", 400, "malformed JSON"),
])
def test_raw_bodies_get_a_4xx_and_never_echo_the_input(raw, status, message) -> None:
    got, detail = refusal(contract.PredictRequest, raw)
    assert got == status and detail[0]["msg"].startswith(message)
    assert json.dumps(detail, allow_nan=False), "the detail is valid JSON even for NaN input"
    assert all("9" * 50 not in item["msg"] for item in detail), "a 400-digit number is not echoed"


@pytest.mark.parametrize(("rows", "message", "loc"), [
    ([], "expected 1 to 1,000 rows, got 0", ["body", "rows"]),
    ([ROW] * 1001, "expected 1 to 1,000 rows, got 1,001", ["body", "rows"]),
    ([ROW, ROW[:5]], "expected exactly 20 numbers, got 5", ["body", "rows", 1]),
    ([ROW, ROW[:3] + ["x"] + ROW[4:]], 'expected a number, got string "x"', ["body", "rows", 1, 3]),
    ([ROW, None], "expected a list of 20 numbers, got null", ["body", "rows", 1]),
    ({"a": 1}, "expected a list of rows, got object", ["body", "rows"]),
])
def test_a_bad_batch_names_the_row_and_column(rows, message, loc) -> None:
    status, detail = refusal(contract.BatchRequest, json.dumps({"rows": rows}))
    assert status == 422 and detail[0]["msg"] == message and detail[0]["loc"] == loc


def test_every_bad_value_is_listed_not_only_the_first() -> None:
    _, detail = refusal(contract.PredictRequest, b'{"features": [' + b"NaN," * 19 + b"true]}")
    assert [d["loc"][-1] for d in detail] == list(range(N_FEATURES))


def test_other_bodies_are_strict_too() -> None:
    assert refusal(RetrainRequest, '{"n_estimators": true}')[1][0]["loc"] == ["body", "n_estimators"]
    assert refusal(RetrainRequest, '{"extra_rows": 1.0}')[1][0]["loc"] == ["body", "extra_rows"]
    assert refusal(RetrainRequest, '{"n_estimators": 0}')[1][0]["type"] == "greater_than_equal"
    assert refusal(Feedback, '{"request_id": "r", "labels": [true]}')[1][0]["loc"] == ["body", "labels", 0]
    assert refusal(Feedback, '{"request_id": "r", "labels": [2]}')[1][0]["type"] == "less_than_equal"
    assert refusal(Feedback, '{"request_id": "r", "labels": []}')[1][0]["loc"] == ["body", "labels"]
    assert RetrainRequest().model_dump() == {"n_estimators": None, "max_depth": None, "extra_rows": 0,
                                             "shuffle_labels": False}


@pytest.mark.parametrize(("value", "expected"), [
    (None, "null"), (True, "boolean true"), ("x" * 100, 'string "' + "x" * 39), ([1], "array"), ({}, "object"),
    (1.5, "number"),
])
def test_json_type_names_values_as_json_does(value, expected) -> None:
    assert contract.json_type(value) == expected


def test_body_doc_documents_schema_and_example() -> None:
    doc = contract.body_doc(contract.PredictRequest)["requestBody"]
    assert doc["required"] is True
    body = doc["content"]["application/json"]
    assert body["examples"]["example"]["value"] == {"features": contract.EXAMPLE_ROW}
    assert body["schema"]["properties"]["features"]["minItems"] == N_FEATURES
    assert contract.body_doc(RetrainRequest, required=False)["requestBody"]["required"] is False


ROW20 = [0.1 * i - 1 for i in range(N_FEATURES)]
BATCH_BODIES = [
    {"rows": [ROW20]}, {"rows": [ROW20] * MAX_BATCH_ROWS}, {"rows": [[1] * N_FEATURES, [2.5e38] * N_FEATURES]},
    {"rows": [ROW20] * (MAX_BATCH_ROWS + 1)}, {"rows": []}, {"rows": [ROW20[:-1]]}, {"rows": [ROW20 + [1.0]]},
    {"rows": [[True] + ROW20[1:]]}, {"rows": [["1"] + ROW20[1:]]}, {"rows": [[None] + ROW20[1:]]},
    {"rows": [[1e39] + ROW20[1:]]}, {"rows": [[-3.5e38] + ROW20[1:]]}, {"rows": [[[1.0]] + ROW20[1:]]},
    {"rows": [ROW20], "extra": 1}, {"row": [ROW20]}, {"rows": ROW20}, {"rows": {"0": ROW20}}, [ROW20], 3,
]
BATCH_BODIES += [  # at the edges of the fast check: its byte check, numpy's shapes, the float32 range
    {"rows": [ROW20, ROW20[:-1]]}, {"rows": [[[v] for v in ROW20]]}, {"rows": 5}, {"rows": [[{}] + ROW20[1:]]},
    {"rows": [[[]] + ROW20[1:]]}, {"rows": [[]]}, [{"rows": [ROW20]}], {"r0ows": [ROW20]}, {"rows": [[1e38] * 20]},
]
RAW_BATCHES = [b'{"rows": [[NaN' + b", 1.0" * 19 + b"]]}", b'{"rows": [[' + b"1" * 30 + b", 1.0" * 19 + b"]]}",
               b'{"rows": [[1e400' + b", 1.0" * 19 + b"]]}", b"not json", b'{"rows": [[0.30000000000000004'
               + b", 0.1" * 19 + b"]]}", json.dumps({"rows": [ROW20] * 2}, indent=2).encode(),
               b'{"rows": [[' + b"1, " * 19 + b'1]], "rows": []}',
               b'{"rows": [[' + b"1, " * 19 + b"1]]", b'{"rows": [[' + b"-0, 1E5, 2e-3, " * 6 + b"1, 2]]}"]


@pytest.mark.parametrize("raw", [json.dumps(b).encode() for b in BATCH_BODIES] + RAW_BATCHES)
def test_the_fast_batch_check_accepts_exactly_what_the_contract_accepts(raw: bytes) -> None:
    """batch_rows() is /predict_batch's fast path: it may only accept bodies BatchRequest accepts, with equal values."""
    try:
        expected = np.array(contract.BatchRequest.model_validate_json(raw).rows, dtype=np.float64)
    except ValidationError:
        expected = None
    fast = contract.batch_rows(raw)
    if expected is None:
        assert fast is None
    else:  # a valid body the fast check passes on to pydantic would be slow, not wrong: none of these is one
        assert fast is not None and fast.dtype == np.float64 and np.array_equal(fast, expected)


def test_the_fast_batch_check_parses_floats_exactly_as_pydantic_does() -> None:
    rows = np.random.default_rng(0).standard_normal((200, N_FEATURES)) * 10.0 ** np.arange(-10, 10)
    raw = json.dumps({"rows": rows.tolist()}).encode()
    assert np.array_equal(contract.batch_rows(raw), np.array(contract.BatchRequest.model_validate_json(raw).rows))


def test_the_fast_batch_check_never_accepts_more_than_the_contract_on_spliced_bodies() -> None:
    """A JSON token in place of a number or spliced in anywhere: what batch_rows() accepts, pydantic accepts, equal."""
    rng = np.random.default_rng(1)
    values = [json.dumps(v) for v in ROW20 + [int(v * 10) for v in ROW20]]
    tokens = ["true", "false", "null", '"1"', "{}", "[]", "[1]", "1", "-", ",", "]", "[", "1e39", " ", '"rows":', "{"]
    accepted = 0
    for _ in range(2_000):
        token, where = tokens[int(rng.integers(len(tokens)))], int(rng.integers(len(values)))
        row = values[:where] + [token] + values[where + 1:] if rng.random() < 0.5 else values
        raw = '{"rows": [[' + ", ".join(row[:N_FEATURES]) + "], [" + ", ".join(row[N_FEATURES:]) + "]]}"
        if row is values:
            at = int(rng.integers(len(raw) + 1))
            raw = raw[:at] + token + raw[at:]
        fast = contract.batch_rows(raw.encode())
        if fast is not None:
            accepted += 1
            assert np.array_equal(fast, np.array(contract.BatchRequest.model_validate_json(raw).rows)), raw
    assert accepted > 100  # the check was exercised on bodies it accepts, not only on ones it refuses
