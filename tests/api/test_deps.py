"""What routes take from a request: the state, the serving model (or 503), a JSON body within limits, a token."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from helpers.api import deps
from helpers.api.errors import install_error_handlers
from helpers.api.schemas import RetrainRequest
from helpers.api.state import ApiSettings, ApiState


@pytest.fixture(scope="module")
def mini() -> TestClient:
    """Return a client of a small app whose routes only use the dependencies under test (no model loaded)."""
    app = FastAPI()
    app.state.api = ApiState(ApiSettings(retrain_token="s3cret"))
    install_error_handlers(app)

    @app.post("/body")
    async def body(request: Request) -> dict:
        return (await deps.parsed_body(request, RetrainRequest, optional=True)).model_dump()

    @app.post("/raw")
    async def raw(request: Request) -> dict:
        return {"bytes": len(await deps.json_body(request))}

    @app.post("/secret", dependencies=[Depends(deps.require_token)])
    async def secret() -> dict:
        return {"ok": True}

    @app.get("/model")
    async def model(request: Request) -> dict:
        return {"version": deps.get_model(deps.get_state(request)).version}

    return TestClient(app)


def test_an_absent_optional_body_means_the_defaults(mini) -> None:
    assert mini.post("/body").json() == RetrainRequest().model_dump()
    assert mini.post("/body", content=b"  ", headers={"content-type": "application/json"}).status_code == 200
    assert mini.post("/body", json={"extra_rows": 7}).json()["extra_rows"] == 7


def test_a_body_breaking_the_contract_is_a_4xx_naming_the_field(mini) -> None:
    r = mini.post("/body", json={"extra_rows": -1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "extra_rows"]
    r = mini.post("/body", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["detail"][0]["msg"].startswith("malformed JSON")


def test_json_body_checks_the_content_type_and_the_size(mini) -> None:
    assert mini.post("/raw", content=b"{}", headers={"content-type": "text/plain"}).status_code == 415
    assert mini.post("/raw", content=b"{}").status_code == 415, "a body with no content type"
    assert mini.post("/raw").json() == {"bytes": 0}, "no body, no content type: nothing to judge"
    r = mini.post("/raw", content=b"1" * (deps.MAX_BODY_BYTES + 1), headers={"content-type": "application/json"})
    assert r.status_code == 413
    ok = mini.post("/raw", content=b"1" * deps.MAX_BODY_BYTES, headers={"content-type": "application/json"})
    assert ok.json() == {"bytes": deps.MAX_BODY_BYTES}


@pytest.mark.parametrize(("header", "status"), [
    (None, 401), ("Bearer wrong", 401), ("Bearer ", 401), ("Basic czNjcmV0", 401), ("Bearer s3cret", 200),
])
def test_require_token(mini, header, status) -> None:
    r = mini.post("/secret", headers={"Authorization": header} if header else {})
    assert r.status_code == status
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["detail"][0]["loc"] == ["header", "authorization"]


def test_get_model_is_503_with_the_reason_until_a_model_is_installed(mini) -> None:
    r = mini.get("/model")
    assert r.status_code == 503 and r.json()["detail"][0]["msg"] == "the model is loading"
