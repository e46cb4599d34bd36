"""What the routes need from a request: the app's state, the serving model, a body that keeps the contract,
a valid token."""

from __future__ import annotations

import hmac
from typing import TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from helpers.api.contract import problems
from helpers.api.errors import ApiError
from helpers.api.state import ApiState, ServingModel

Body = TypeVar("Body", bound=BaseModel)

MAX_BODY_BYTES = 1_000_000
bearer = HTTPBearer(auto_error=False, description="the server's RETRAIN_TOKEN")


def get_state(request: Request) -> ApiState:
    """Return the state of the app serving this request."""
    return request.app.state.api


def get_model(state: ApiState) -> ServingModel:
    """Return the serving model, or answer 503 while none is loaded (a plain call: cheaper than a dependency)."""
    model = state.model
    if model is None:
        raise ApiError(503, state.not_ready_reason or "not ready", [], "not_ready")
    return model


async def json_body(request: Request) -> bytes:
    """Return the raw body of a request, or raise ApiError 413 (over MAX_BODY_BYTES) or 415 (a body, not JSON)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"body of {int(declared):,} bytes exceeds the limit of {MAX_BODY_BYTES:,}",
                       kind="payload_too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, f"body exceeds the limit of {MAX_BODY_BYTES:,} bytes", kind="payload_too_large")
    content_type = request.headers.get("content-type", "")
    if (body or content_type) and content_type.split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, f"expected Content-Type application/json, got {content_type or 'none'}",
                       ["header", "content-type"], "unsupported_media_type")
    return bytes(body)


async def parsed_body(request: Request, model: type[Body], *, optional: bool = False) -> Body:
    """Return the request's JSON body validated by the pydantic `model` (its defaults for an absent body when
    `optional`), or raise ApiError with the contract's messages (4xx naming the field)."""
    return validated(await json_body(request), model, optional=optional)


def validated(body: bytes, model: type[Body], *, optional: bool = False) -> Body:
    """Return `body` validated by the pydantic `model`, or raise ApiError with the contract's messages."""
    if optional and not body.strip():
        return model()
    try:
        return model.model_validate_json(body)
    except ValidationError as err:
        status, detail = problems(err, model)
        raise ApiError(status, detail[0]["msg"], detail=detail) from None


def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
                  state: ApiState = Depends(get_state)) -> None:  # noqa: B008
    """Let the request through only with `Authorization: Bearer <RETRAIN_TOKEN>`; 403 when retraining is off."""
    expected = state.settings.retrain_token
    where, challenge = ["header", "authorization"], {"WWW-Authenticate": "Bearer"}
    if not expected:
        raise ApiError(403, "retraining is disabled on this server: start it with RETRAIN_TOKEN set", where,
                       "disabled")
    if credentials is None or not credentials.credentials:
        raise ApiError(401, "missing bearer token: send 'Authorization: Bearer <token>'", where, "unauthorized",
                       challenge)
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise ApiError(401, "invalid bearer token", where, "unauthorized", challenge)
