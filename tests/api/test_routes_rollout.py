"""The rollout controls in-process: reading a route, changing it only with the token, refusing unknown versions,
and the shadow: mirrored answers logged, never returned."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from helpers.api.app import create_app
from helpers.data import split_dataset
from helpers.packaging import METADATA_FILE

TOKEN = "rollout-token"
NAME = "course-classifier"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROW = split_dataset().X_val[0].tolist()


@pytest.fixture(scope="module")
def client(bundle_dir, tmp_path_factory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("repository")
    for version in ("1.0.0", "1.0.1", "2.0.0"):
        folder = root / NAME / version
        shutil.copytree(bundle_dir, folder)
        card = json.loads((folder / METADATA_FILE).read_text())
        (folder / METADATA_FILE).write_text(json.dumps({**card, "version": version}))
    (root / "repository.json").write_text(json.dumps({"models": {NAME: {"default": "1.0.0"}}}))
    with TestClient(create_app(model_dir=bundle_dir, models_dir=root, rollout_token=TOKEN)) as c:
        yield c


def infer(client: TestClient, request_id: str) -> dict:
    tensor = {"name": "features", "shape": [1, 20], "datatype": "FP64", "data": ROW}
    return client.post(f"/v2/models/{NAME}/infer", json={"id": request_id, "inputs": [tensor]}).json()


def test_the_route_starts_at_the_default_version(client) -> None:
    assert client.get(f"/rollout/{NAME}").json() == {"model": NAME, "versions": ["1.0.0", "1.0.1", "2.0.0"],
                                                     "stable": "1.0.0", "canary": None, "weight": 0.0,
                                                     "shadow": None, "seed": 42}
    assert client.get("/rollout/nope").status_code == 404


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"Authorization": "Bearer wrong"}, 401)])
def test_changing_a_route_needs_the_token(client, headers, status) -> None:
    r = client.put(f"/rollout/{NAME}", json={"stable": "1.0.1"}, headers=headers)
    assert r.status_code == status and "bearer token" in r.json()["detail"][0]["msg"]
    assert client.get(f"/rollout/{NAME}").json()["stable"] == "1.0.0"


def test_a_server_without_a_token_has_fixed_routing(bundle_dir) -> None:
    with TestClient(create_app(model_dir=bundle_dir)) as plain:
        r = plain.put(f"/rollout/{NAME}", json={"stable": "1.0.0"}, headers=AUTH)
        assert r.status_code == 403 and "ROLLOUT_TOKEN" in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize(("route", "status", "message"), [
    ({"stable": "9.9.9"}, 404, "no version '9.9.9'"),
    ({"stable": "1.0.0", "canary": "1.0.1", "weight": 101}, 422, "less than or equal to 100"),
    ({"stable": "1.0.0", "weight": 10}, 422, "a weight above 0 needs a canary version"),
    ({"stable": "1.0.0", "mirror": "2.0.0"}, 422, "unexpected field: mirror"),
])
def test_a_bad_route_is_refused_and_the_old_one_stays(client, route, status, message) -> None:
    r = client.put(f"/rollout/{NAME}", json=route, headers=AUTH)
    assert r.status_code == status and message in r.json()["detail"][0]["msg"], r.json()
    assert client.get(f"/rollout/{NAME}").json()["stable"] == "1.0.0"


def test_weights_split_requests_by_id_and_repeat_exactly(client) -> None:
    client.put(f"/rollout/{NAME}", json={"stable": "1.0.0", "canary": "1.0.1", "weight": 30}, headers=AUTH)
    try:
        first = [infer(client, f"req-{i}")["model_version"] for i in range(200)]
        again = [infer(client, f"req-{i}")["model_version"] for i in range(200)]
    finally:
        client.put(f"/rollout/{NAME}", json={"stable": "1.0.0"}, headers=AUTH)
    assert first == again, "the same request id always gets the same version"
    assert 0.2 < first.count("1.0.1") / len(first) < 0.4


def test_the_shadow_answers_every_routed_request_but_only_into_the_log(client) -> None:
    client.put(f"/rollout/{NAME}", json={"stable": "1.0.1", "shadow": "2.0.0"}, headers=AUTH)
    try:
        answers = [infer(client, f"shadow-{i}") for i in range(5)]
    finally:
        client.put(f"/rollout/{NAME}", json={"stable": "1.0.0"}, headers=AUTH)
    assert {a["model_version"] for a in answers} == {"1.0.1"}, "clients only ever see the primary"
    entries = [e for e in client.get(f"/rollout/{NAME}/shadow").json()["entries"] if e["id"].startswith("shadow-")]
    assert [e["id"] for e in entries] == [f"shadow-{i}" for i in range(5)]
    assert all(e["primary_version"] == "1.0.1" and e["shadow_version"] == "2.0.0" for e in entries)
    assert [e["primary"] for e in entries] == [a["outputs"][1]["data"] for a in answers]
    assert 'shadow_inferences_total{model="course-classifier",version="2.0.0"} 5.0' in client.get("/metrics").text
    assert client.get("/rollout/nope/shadow").status_code == 404
