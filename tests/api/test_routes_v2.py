"""The Open Inference Protocol v2 routes in-process: the documented request and response shapes, answers equal
to the bundle's, routing by the model's route, clear 404s and 400s naming the field (never a 500 for input)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from helpers.api.app import create_app
from helpers.api.deps import MAX_BODY_BYTES
from helpers.data import split_dataset
from helpers.packaging import METADATA_FILE, load_model, winning_class

TOKEN = "v2-token"
NAME = "course-classifier"
X = split_dataset().X_val[:3]


def add_version(bundle_dir: Path, root: Path, name: str, version: str) -> None:
    folder = root / name / version
    shutil.copytree(bundle_dir, folder)
    card = json.loads((folder / METADATA_FILE).read_text())
    (folder / METADATA_FILE).write_text(json.dumps({**card, "version": version}))


@pytest.fixture(scope="module")
def client(bundle_dir, tmp_path_factory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("repository")
    for name, version in ((NAME, "1.0.0"), (NAME, "1.0.1"), ("other", "2.0.0")):
        add_version(bundle_dir, root, name, version)
    (root / "repository.json").write_text(json.dumps({"models": {NAME: {"default": "1.0.0"}}}))
    with TestClient(create_app(model_dir=bundle_dir, models_dir=root, rollout_token=TOKEN)) as c:
        yield c


def body(rows: np.ndarray, **changes) -> dict:
    tensor = {"name": "features", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}
    return {"id": "42", "inputs": [{**tensor, **changes}]}


def test_server_metadata_and_health(client) -> None:
    assert client.get("/v2").json() == {"name": "Course model API", "version": "1.0.0", "extensions": []}
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}


def test_model_metadata_lists_versions_and_tensors(client) -> None:
    meta = client.get(f"/v2/models/{NAME}").json()
    assert meta == {"name": NAME, "versions": ["1.0.0", "1.0.1"], "platform": "onnxruntime_onnx",
                    "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 20]}],
                    "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]},
                                {"name": "label", "datatype": "INT64", "shape": [-1]}]}
    assert client.get(f"/v2/models/{NAME}/versions/1.0.1").json()["versions"] == ["1.0.1"]
    assert client.get("/v2/models/other").json()["versions"] == ["2.0.0"]


def test_readiness_per_model_and_version(client) -> None:
    assert client.get(f"/v2/models/{NAME}/ready").json() == {"name": NAME, "ready": True}
    assert client.get(f"/v2/models/{NAME}/versions/1.0.1/ready").status_code == 200
    for path, named in ((f"/v2/models/{NAME}/versions/9.9.9/ready", "no version '9.9.9'"),
                        ("/v2/models/nope/ready", "unknown model 'nope'"), ("/v2/models/nope", "serves")):
        r = client.get(path)
        assert r.status_code == 404 and named in r.json()["error"], path


def test_infer_answers_the_documented_shape_with_the_bundles_numbers(client, bundle_dir) -> None:
    r = client.post(f"/v2/models/{NAME}/versions/1.0.1/infer", json=body(X))
    assert r.status_code == 200
    answer = r.json()
    assert {k: answer[k] for k in ("model_name", "model_version", "id")} == {
        "model_name": NAME, "model_version": "1.0.1", "id": "42"}
    probabilities, label = answer["outputs"]
    expected = load_model(bundle_dir).predict_proba(X)
    assert [probabilities[k] for k in ("name", "datatype", "shape")] == ["probabilities", "FP32", [3, 2]]
    assert np.allclose(probabilities["data"], expected.ravel(), atol=1e-6)
    assert (label["name"], label["datatype"], label["shape"]) == ("label", "INT64", [3])
    assert label["data"] == winning_class(expected).tolist()


def test_nested_rows_chosen_outputs_and_a_generated_id(client) -> None:
    flat = client.post(f"/v2/models/{NAME}/infer", json=body(X)).json()
    nested = body(X)
    nested["inputs"][0]["data"] = X.tolist()
    del nested["id"]
    nested["outputs"] = [{"name": "label"}]
    answer = client.post(f"/v2/models/{NAME}/infer", json=nested).json()
    assert [o["name"] for o in answer["outputs"]] == ["label"]
    assert answer["outputs"][0]["data"] == flat["outputs"][1]["data"]
    assert uuid.UUID(answer["id"]).version == 4


BAD = [
    ({"inputs": []}, "inputs: expected exactly one input tensor, got 0"),
    ({"inputs": [{"name": "features"}]}, "inputs[0].shape: field required: 'shape'"),
    (body(X[:1], name="input0"), "inputs[0].name: this model's input is 'features', got 'input0'"),
    (body(X[:1], datatype="INT8"), "inputs[0].datatype: expected FP32 or FP64, got 'INT8'"),
    (body(X[:1], shape=[20]), "inputs[0].shape: expected [n, 20]"),
    (body(X[:1], shape=[1001, 20]), "inputs[0].shape: expected [n, 20] with n from 1 to 1,000"),
    (body(X[:1], data=[0.5] * 19), "inputs[0].data: expected 20 numbers for shape [1, 20], got 19"),
    (body(X[:1], data=["a"] * 20), "inputs[0].data[0]: expected a number, got string"),
    (body(X[:1], data=[True] * 20), "inputs[0].data[0]: expected a number, got boolean"),
    (body(X[:1], data=[1e39] * 20), "inputs[0].data[0]: expected a number between"),
    (body(X[:1], extra=1), "inputs[0].extra: unexpected field: extra"),
    ({**body(X[:1]), "outputs": [{"name": "logits"}]}, "outputs[0].name: unknown output 'logits'"),
    ({**body(X[:1]), "id": 7}, "id: "),
    ([1, 2], "body: expected a JSON object"),
]


@pytest.mark.parametrize(("payload", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_a_bad_body_is_a_400_naming_the_field(client, payload, message) -> None:
    r = client.post(f"/v2/models/{NAME}/infer", json=payload)
    assert r.status_code == 400 and r.json()["error"].startswith(message), r.json()


@pytest.mark.parametrize(("raw", "content_type", "status", "message"), [
    (b'{"inputs": [', "application/json", 400, "malformed JSON"),
    (b'{"inputs": [{"name": "features", "shape": [1, 20], "datatype": "FP32", "data": [' + b"NaN," * 19 + b"NaN]}]}",
     "application/json", 400, "inputs[0].data[0]: expected a finite number"),
    (b"{}", "text/plain", 415, "expected Content-Type application/json"),
    (b" " * (MAX_BODY_BYTES + 1), "application/json", 413, "exceeds the limit"),
])
def test_malformed_bodies_never_crash(client, raw, content_type, status, message) -> None:
    r = client.post(f"/v2/models/{NAME}/infer", content=raw, headers={"content-type": content_type})
    assert r.status_code == status and message in r.json()["error"]


def test_unknown_model_or_version_is_a_404_before_the_body_is_read(client) -> None:
    for path in ("/v2/models/nope/infer", f"/v2/models/{NAME}/versions/3.0.0/infer"):
        r = client.post(path, content=b"not json", headers={"content-type": "application/json"})
        assert r.status_code == 404 and "error" in r.json(), path


def test_unversioned_requests_follow_the_route_and_the_header(client) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post(f"/v2/models/{NAME}/infer", json=body(X[:1])).json()["model_version"] == "1.0.0"
    client.put(f"/rollout/{NAME}", json={"stable": "1.0.0", "canary": "1.0.1", "weight": 100}, headers=auth)
    try:
        assert client.post(f"/v2/models/{NAME}/infer", json=body(X[:1])).json()["model_version"] == "1.0.1"
        never = client.post(f"/v2/models/{NAME}/infer", json=body(X[:1]), headers={"X-Canary": "never"})
        assert never.json()["model_version"] == "1.0.0"
        pinned = client.post(f"/v2/models/{NAME}/versions/1.0.0/infer", json=body(X[:1]),
                             headers={"X-Canary": "always"})
        assert pinned.json()["model_version"] == "1.0.0", "a version in the path is never re-routed"
    finally:
        client.put(f"/rollout/{NAME}", json={"stable": "1.0.0"}, headers=auth)


def test_per_model_metrics_count_each_version(client) -> None:
    before = client.get("/metrics").text.count('inference_requests_total{code="200",model="other",version="2.0.0"}')
    client.post("/v2/models/other/infer", json=body(X[:1]))
    text = client.get("/metrics").text
    assert before == 0 and 'inference_requests_total{code="200",model="other",version="2.0.0"} 1.0' in text
    assert 'inference_duration_seconds_count{model="other",version="2.0.0"} 1.0' in text


def test_a_server_without_a_repository_serves_its_one_model_on_v2(bundle_dir) -> None:
    with TestClient(create_app(model_dir=bundle_dir)) as plain:
        assert plain.get(f"/v2/models/{NAME}").json()["versions"] == ["1.0.0"]
        answer = plain.post(f"/v2/models/{NAME}/infer", json=body(X[:1])).json()
        assert answer["model_version"] == "1.0.0"
        assert plain.get("/v2/models/other").status_code == 404
