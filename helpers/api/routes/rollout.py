"""Rollout controls: which version of a model answers (stable, canary and its weight, shadow), and the shadow's log.

A canary controller (helpers.rollouts.canary) changes a model's route at every step with PUT /rollout/{name}; that
needs the server's ROLLOUT_TOKEN. Reading the route and the shadow log needs none.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from helpers.api.contract import Problem, body_doc
from helpers.api.deps import bearer, get_state, parsed_body
from helpers.api.errors import ApiError
from helpers.api.repository import ModelRepository, UnknownModel, repository_of
from helpers.common.schema import SEED
from helpers.rollouts.router import Route

router = APIRouter(tags=["rollouts"])
ERRORS = {401: "Missing or invalid bearer token", 403: "Routing is fixed on this server (no ROLLOUT_TOKEN)",
          404: "Unknown model or version", 400: "Malformed JSON", 413: "Body too large",
          415: "Content-Type is not application/json", 422: "Invalid route (the detail names the field)",
          429: "Rate limit exceeded (see Retry-After)", 503: "Not ready"}


def documented(*codes: int) -> dict:
    """Return OpenAPI docs for the given error answers."""
    return {code: {"model": Problem, "description": ERRORS[code]} for code in codes}


class RouteState(BaseModel):
    """A model's versions and its route."""

    model: str
    versions: list[str]
    stable: str
    canary: str | None
    weight: float
    shadow: str | None
    seed: int


class ShadowLog(BaseModel):
    """A model's mirrored requests: each one's id, the answer the client got, and the shadow's."""

    model: str
    entries: list[dict]


class RouteRequest(BaseModel):
    """PUT /rollout/{name}: the stable version, an optional canary and its weight (percent), an optional shadow."""

    model_config = ConfigDict(extra="forbid")
    stable: StrictStr
    canary: StrictStr | None = None
    weight: float = Field(default=0.0, ge=0, le=100)
    shadow: StrictStr | None = None
    seed: StrictInt = SEED


def require_rollout_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> None:
    """Let a routing change through only with `Authorization: Bearer <ROLLOUT_TOKEN>`."""
    expected = get_state(request).settings.rollout_token
    where = ["header", "authorization"]
    if not expected:
        raise ApiError(403, "routing is fixed on this server: start it with ROLLOUT_TOKEN set", where, "disabled")
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "missing or invalid bearer token", where, "unauthorized", {"WWW-Authenticate": "Bearer"})


def route_answer(repository: ModelRepository, name: str) -> JSONResponse:
    """Return a model's route and versions as JSON."""
    return JSONResponse({"model": name, "versions": repository.versions(name), **repository.routes[name].as_dict()})


@router.get("/rollout/{name}", response_model=RouteState, responses=documented(404, 429, 503))
async def get_route(request: Request, name: str) -> JSONResponse:
    """Which version answers a model's requests: stable, canary and its weight, shadow."""
    repository = repository_of(request)
    try:
        return route_answer(repository, name)
    except UnknownModel as err:
        raise ApiError(404, str(err), ["path", "name"], "not_found") from None


@router.put("/rollout/{name}", response_model=RouteState, openapi_extra=body_doc(RouteRequest),
            responses=documented(400, 401, 403, 404, 413, 415, 422, 429, 503))
async def put_route(request: Request, name: str,
                    credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> JSONResponse:  # noqa: B008
    """Change a model's route (what a canary controller does at every step); needs the rollout token."""
    require_rollout_token(request, credentials)
    body = await parsed_body(request, RouteRequest)
    repository = repository_of(request)
    try:
        repository.set_route(name, Route(**body.model_dump()))
    except UnknownModel as err:
        raise ApiError(404, str(err), ["body"], "not_found") from None
    except ValueError as err:
        raise ApiError(422, str(err), ["body"], "value_error") from None
    return route_answer(repository, name)


@router.get("/rollout/{name}/shadow", response_model=ShadowLog, responses=documented(404, 429, 503))
async def shadow_log(request: Request, name: str) -> JSONResponse:
    """The shadow's logged answers beside what the clients received, oldest first."""
    repository = repository_of(request)
    try:
        repository.known(name)
    except UnknownModel as err:
        raise ApiError(404, str(err), ["path", "name"], "not_found") from None
    return JSONResponse({"model": name, "entries": [e.as_dict() for e in repository.shadow_log[name]]})
