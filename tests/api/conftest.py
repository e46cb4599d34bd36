"""Fixtures for the API tests: an in-process app (FastAPI's TestClient) serving the session's bundle."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from helpers.api.app import create_app

TOKEN = "test-token"


@pytest.fixture(scope="module")
def client(bundle_dir, tmp_path_factory) -> Iterator[TestClient]:
    """Yield a client of an app serving the test bundle with retraining on; accepted bundles go to a temp folder."""
    app = create_app(model_dir=bundle_dir, retrain_token=TOKEN, retrain_dir=tmp_path_factory.mktemp("retrained"))
    with TestClient(app) as c:
        yield c


@pytest.fixture
def auth() -> dict[str, str]:
    """Return the Authorization header the test app accepts."""
    return {"Authorization": f"Bearer {TOKEN}"}


def job_record(client: TestClient, job_id: str, timeout: float = 120) -> dict:
    """Poll a retraining job until it ends; return its record."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/retrain/{job_id}").json()
        if job["status"] in ("accepted", "rejected", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture
def wait_for() -> Callable[[TestClient, str], dict]:
    """Return the function that waits for a retraining job to end and returns its record."""
    return job_record
