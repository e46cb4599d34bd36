"""/predict and /predict_batch in-process: the answers match the model, and every bad request is a JSON 4xx."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from helpers.api import scoring
from helpers.api.app import create_app
from helpers.api.deps import MAX_BODY_BYTES
from helpers.api.routes import predict
from helpers.data import split_dataset
from helpers.packaging import load_model

ROW = [float(v) for v in np.linspace(-1, 1, 20)]
JSON = {"content-type": "application/json"}


def test_predict_matches_the_model(client, bundle_dir) -> None:
    X = split_dataset().X_val[:5]
    expected = load_model(bundle_dir).predict_proba(X)
    for row, proba in zip(X, expected, strict=True):
        r = client.post("/predict", json={"features": row.tolist()})
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"prediction", "probabilities", "confidence", "model_version", "request_id"}
        assert body["prediction"] == int(proba.argmax())
        assert body["probabilities"]["1"] == pytest.approx(proba[1], abs=1e-6)
        assert body["confidence"] == max(body["probabilities"].values())
        assert r.headers["x-request-id"] == body["request_id"]


def test_predict_batch_answers_each_row_in_order_with_the_same_numbers(client) -> None:
    X = split_dataset().X_val[:50]
    r = client.post("/predict_batch", json={"rows": X.tolist()})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 50 and len(body["predictions"]) == 50 and body["model_version"] == "1.0.0"
    singles = [client.post("/predict", json={"features": X[i].tolist()}).json() for i in range(3)]
    for single, batched in zip(singles, body["predictions"][:3], strict=True):
        assert batched == {k: single[k] for k in ("prediction", "probabilities", "confidence")}
    assert all(len(repr(p["confidence"])) <= 8 for p in body["predictions"]), "rounded to 6 digits, no float32 tail"


def test_a_row_gets_the_same_answer_in_any_batch(client, monkeypatch) -> None:
    monkeypatch.setattr(predict, "ROW_CHUNKS", scoring.RowChunks(cores=3))  # large batches in chunks, on any machine
    X = split_dataset().X_val[:300].tolist()
    whole = client.post("/predict_batch", json={"rows": X}).json()["predictions"]
    for size in (1, 7, 64, 150):
        parts = [client.post("/predict_batch", json={"rows": X[i:i + size]}).json() for i in range(0, len(X), size)]
        assert [p for part in parts for p in part["predictions"]] == whole, size


def test_a_full_batch_of_1000_is_accepted(client) -> None:
    r = client.post("/predict_batch", json={"rows": [ROW] * 1000})
    assert r.status_code == 200 and r.json()["count"] == 1000


BAD = [
    ("/predict", {"features": ROW[:19]}, "expected exactly 20 numbers, got 19", ["body", "features"]),
    ("/predict", {"features": ROW[:19] + [True]}, "expected a number, got boolean true", ["body", "features", 19]),
    ("/predict", {"features": ROW[:19] + ["1.5"]}, 'expected a number, got string "1.5"', ["body", "features", 19]),
    ("/predict", {"features": ROW, "extra": 1}, "unexpected field: extra", ["body", "extra"]),
    ("/predict", {}, "field required: 'features'", ["body", "features"]),
    ("/predict", [ROW], "expected a JSON object with the field(s) 'features', got array", ["body"]),
    ("/predict_batch", {"rows": []}, "expected 1 to 1,000 rows, got 0", ["body", "rows"]),
    ("/predict_batch", {"rows": [ROW] * 1001}, "expected 1 to 1,000 rows, got 1,001", ["body", "rows"]),
    ("/predict_batch", {"rows": [ROW, ROW[:5]]}, "expected exactly 20 numbers, got 5", ["body", "rows", 1]),
    ("/predict_batch", {"rows": [ROW, [False] * 20]}, "expected a number, got boolean false", ["body", "rows", 1, 0]),
    ("/predict_batch", {"rows": [ROW], "x": 1}, "unexpected field: x", ["body", "x"]),
]


@pytest.mark.parametrize(("path", "payload", "message", "loc"), BAD)
def test_bad_requests_are_422_naming_the_field(client, path, payload, message, loc) -> None:
    r = client.post(path, json=payload)
    assert r.status_code == 422 and r.headers["content-type"] == "application/json"
    assert r.json()["detail"][0]["msg"] == message and r.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize("path", ["/predict", "/predict_batch"])
@pytest.mark.parametrize(("raw", "status", "message"), [
    (b'{"features": [NaN' + b", 1" * 19 + b"]}", 422, "finite number, got nan"),
    (b'{"features": [-Infinity' + b", 1" * 19 + b"]}", 422, "finite number, got -inf"),
    (b'{"features": [' + b"9" * 400 + b", 1" * 19 + b"]}", 422, "too large"),
    (b'{"features": [' + b"1e308, " * 19 + b"1]}", 422, "32-bit floats"),
    (b'{"features": [1, 2', 400, "malformed JSON"),
    (b"[" * 5000 + b"]" * 5000, 400, "malformed JSON"),
    (b"\xff\xfe", 400, "malformed JSON"),
    (b"", 400, "malformed JSON"),
])
def test_raw_bodies_never_cause_a_500(client, path, raw, status, message) -> None:
    if path == "/predict_batch" and raw.startswith(b'{"features": ['):
        raw = b'{"rows": [' + raw.removeprefix(b'{"features": ').removesuffix(b"}") + b"]}"
    r = client.post(path, content=raw, headers=JSON)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_415(client, content_type) -> None:
    headers = {"content-type": content_type} if content_type else {}
    r = client.post("/predict", content=json.dumps({"features": ROW}), headers=headers)
    assert r.status_code == 415 and "application/json" in r.json()["detail"][0]["msg"]
    assert r.json()["detail"][0]["loc"] == ["header", "content-type"]


def test_json_with_a_charset_is_json(client) -> None:
    r = client.post("/predict", content=json.dumps({"features": ROW}),
                    headers={"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 200


def test_an_oversize_body_is_413_whether_declared_or_streamed(client) -> None:
    declared = client.post("/predict_batch", content=b" " * (MAX_BODY_BYTES + 10), headers=JSON)
    assert declared.status_code == 413 and "exceeds the limit" in declared.json()["detail"][0]["msg"]

    def chunks():
        for _ in range(MAX_BODY_BYTES // 10_000 + 2):
            yield b" " * 10_000

    streamed = client.post("/predict_batch", content=chunks(), headers=JSON)
    assert streamed.status_code == 413


def test_the_sklearn_backend_gives_the_same_answers(bundle_dir, client) -> None:
    X = split_dataset().X_val[:20].tolist()
    with TestClient(create_app(model_dir=bundle_dir, backend="sklearn")) as sk:
        a = sk.post("/predict_batch", json={"rows": X}).json()["predictions"]
        assert sk.get("/model_info").json()["serving"]["backend"] == "sklearn"
        edge = sk.post("/predict", content=b'{"features": [' + b"1e308," * 19 + b"1]}", headers=JSON)
        assert edge.status_code == 422, "scikit-learn would fail on values beyond float32: the contract refuses them"
    b = client.post("/predict_batch", json={"rows": X}).json()["predictions"]
    assert [p["prediction"] for p in a] == [p["prediction"] for p in b]
    assert [p["probabilities"]["1"] for p in a] == pytest.approx([p["probabilities"]["1"] for p in b], abs=1e-5)


def test_a_tied_vote_goes_to_class_0_as_in_scikit_learn(bundle_dir) -> None:
    import dataclasses

    from helpers.packaging import Predictor

    with TestClient(create_app(model_dir=bundle_dir)) as c:
        state = c.app.state.api
        tied = Predictor("onnx", state.model.card, backend=lambda X: np.tile(np.float32([0.5, 0.50000006]),
                                                                             (len(X), 1)))
        state.model = dataclasses.replace(state.model, predictor=tied)  # ONNX's float32 sum of a 50/50 vote
        assert c.post("/predict", json={"features": ROW}).json()["prediction"] == 0
        assert c.post("/predict_batch", json={"rows": [ROW] * 2}).json()["predictions"][1]["prediction"] == 0
