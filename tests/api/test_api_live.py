"""The API over real HTTP: an OpenAPI-driven fuzz run, malformed requests, and an atomic swap under load."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from helpers.api.launch import start_api
from helpers.common.processes import port_is_free

pytestmark = pytest.mark.slow
TOKEN = "live-token"
ROW = [0.1 * i for i in range(20)]


@pytest.fixture(scope="module")
def live_api(bundle_dir, tmp_path_factory):
    retrained = tmp_path_factory.mktemp("live-retrained")
    with start_api(model_dir=bundle_dir, name="test-api", env={"RETRAIN_TOKEN": TOKEN, "RETRAIN_DIR": str(retrained)},
                   ) as api:
        yield api
    assert port_is_free(api.port)


FUZZ_CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_openapi_fuzz_finds_no_5xx_and_no_schema_violation(live_api, tmp_path) -> None:
    """schemathesis, fed only the OpenAPI schema, sends valid and invalid requests to every endpoint (bounded)."""
    st = Path(sys.executable).parent / "schemathesis"
    command = [str(st), "run", live_api.url + "/openapi.json", "--checks", FUZZ_CHECKS,
               "--phases", "examples,coverage,fuzzing", "--max-examples", "10", "--max-time", "10",
               "--generation-deterministic", "--workers", "1", "--warnings", "off", "--no-color"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-1000:]
    generated = re.search(r"(\d+) generated", result.stdout)
    assert generated and int(generated.group(1)) >= 200, "the fuzz run barely ran:\n" + result.stdout[-2000:]


MALFORMED = [
    (b"not json at all", "application/json", 400),
    (b'{"features": ', "application/json", 400),
    (b'{"features": {"a": 1}}', "application/json", 422),
    (b'{"features": [[[[[[[[]]]]]]]]}', "application/json", 422),
    (b'{"features": [' + b"NaN," * 19 + b"NaN]}", "application/json", 422),
    (b'{"features": [' + b"-Infinity," * 19 + b"1]}", "application/json", 422),
    (b'{"features": [' + b"9" * 400 + b"]}", "application/json", 422),
    (b'{"features": [' + b"true," * 19 + b"false]}", "application/json", 422),
    (b'"just a string"', "application/json", 422),
    (b"null", "application/json", 422),
    (b'{"features": [1,2,3]}', "application/x-www-form-urlencoded", 415),
    (b'{"features": [1,2,3]}', "", 415),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400),
    (b" " * 1_000_001, "application/json", 413),
]


@pytest.mark.parametrize(("body", "content_type", "status"), MALFORMED)
@pytest.mark.parametrize("path", ["/predict", "/predict_batch", "/feedback"])
def test_malformed_requests_get_a_json_4xx(live_api, path, body, content_type, status) -> None:
    headers = {"content-type": content_type} if content_type else {}
    r = httpx.post(live_api.url + path, content=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json" and r.json()["detail"][0]["msg"]


def test_atomic_swap_under_concurrent_load(live_api) -> None:
    versions: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=live_api.url, timeout=10) as client:
            while not stop.is_set():
                try:
                    r = client.post("/predict", json={"features": ROW})
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:100]}")
                    else:
                        versions.append(r.json()["model_version"])
                except httpx.HTTPError as err:
                    failures.append(repr(err))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        job_id = httpx.post(live_api.url + "/retrain", json={"extra_rows": 1000}, headers=headers).json()["job_id"]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            job = httpx.get(f"{live_api.url}/retrain/{job_id}").json()
            if job["status"] not in ("queued", "training", "validating", "packaging") and len(versions) >= 1500:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert job["status"] == "accepted", job["message"]
    assert (job["previous_version"], job["new_version"]) == ("1.0.0", "1.0.1")
    assert failures == []
    assert len(versions) >= 1000
    assert {"1.0.0", "1.0.1"} <= set(versions), "the swap happened during the load"
    assert set(versions) == {"1.0.0", "1.0.1"}
    first_new = versions.index("1.0.1")
    assert "1.0.0" not in versions[first_new + 400:], "old model still answering long after"
