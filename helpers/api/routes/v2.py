"""The Open Inference Protocol v2 (KServe, Triton, MLServer) beside the course's routes, and the rollout controls.

OIP: GET /v2, /v2/health/live, /v2/health/ready, /v2/models/{name}[/versions/{v}][/ready] and
POST /v2/models/{name}[/versions/{v}]/infer. Errors answer the protocol's {"error": message}: 404 for an unknown
model or version, 400 for a body that breaks the protocol (the message names the field), never a 500 for input.
An infer request without a version is routed (stable, canary by weight or by the X-Canary header; a shadow gets a
copy after the answer is sent). Course routes: GET and PUT /rollout/{name} (PUT needs ROLLOUT_TOKEN), and
GET /rollout/{name}/shadow, the shadow's logged answers.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator
from starlette.background import BackgroundTask

from helpers.api.contract import EXAMPLE_ROW, FLOAT32_MAX, Number, Problem, body_doc, message
from helpers.api.deps import get_state, json_body
from helpers.api.errors import ApiError
from helpers.api.repository import ModelRepository, ShadowEntry, UnknownModel, repository_of
from helpers.api.routes.predict import score
from helpers.common.schema import MAX_BATCH_ROWS, N_FEATURES
from helpers.packaging import ONNX_INPUT, winning_class
from helpers.rollouts.router import CANARY_HEADER

log = logging.getLogger("helpers.api")
router = APIRouter(tags=["open inference protocol v2"])
OUTPUTS = {"probabilities": ("FP32", 2), "label": ("INT64", None)}
DATATYPES = ("FP32", "FP64")
PLATFORMS = {"onnx": "onnxruntime_onnx", "sklearn": "sklearn"}


class OipError(Exception):
    """A request the protocol refuses: answered as {"error": message} with `status`."""

    def __init__(self, status: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status


class InferInput(BaseModel):
    """One input tensor: its name, shape, datatype and data (row-major, flat or one row per list)."""

    model_config = ConfigDict(extra="forbid")
    name: StrictStr
    shape: list[StrictInt]
    datatype: StrictStr
    data: list[Number]
    parameters: dict[str, Any] | None = None

    @field_validator("data", mode="before")
    @classmethod
    def flatten(cls, value: Any) -> Any:
        """Accept rows as nested lists too (the protocol allows both) by flattening them, row-major."""
        if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
            return [x for row in value for x in row]
        return value


class RequestedOutput(BaseModel):
    """An output the client asks for, by name."""

    model_config = ConfigDict(extra="forbid")
    name: StrictStr
    parameters: dict[str, Any] | None = None


class InferRequest(BaseModel):
    """The protocol's inference request: an optional id and parameters, one input, optional outputs."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"id": "42", "inputs": [
        {"name": ONNX_INPUT, "shape": [1, N_FEATURES], "datatype": "FP32", "data": EXAMPLE_ROW}]}]})
    id: StrictStr | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[InferInput] = Field(min_length=1, max_length=1)
    outputs: list[RequestedOutput] | None = None


class Tensor(BaseModel):
    """An output tensor of an inference response (data flattened row-major)."""

    name: str
    shape: list[int]
    datatype: str
    data: list[float] | list[int]


class InferResponse(BaseModel):
    """The protocol's inference response: which model and version answered, the request id, the outputs."""

    model_name: str
    model_version: str
    id: str
    outputs: list[Tensor]


class TensorMetadata(BaseModel):
    """A tensor a model takes or gives: name, datatype, shape (-1: any size)."""

    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    """A model's metadata: its versions, platform, input and output tensors."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ModelReady(BaseModel):
    """Whether a model (or one version) can answer."""

    name: str
    ready: bool


class OipErrorBody(BaseModel):
    """The protocol's error: one message (it names the field, or the models and versions that exist)."""

    error: str


def documented(*codes: int) -> dict:
    """Return OpenAPI docs for the protocol's error answers."""
    text = {400: "The body breaks the protocol (the message names the field)", 404: "Unknown model or version",
            413: "Body too large", 415: "Content-Type is not application/json", 429: "Rate limit exceeded",
            503: "Not ready"}
    return {code: {"model": OipErrorBody if code != 429 else Problem, "description": text[code]} for code in codes}


def field_path(loc: tuple) -> str:
    """Return a pydantic location as a JSON path: ('inputs', 0, 'data', 3) -> inputs[0].data[3]."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def parse_infer(body: bytes) -> tuple[InferRequest, np.ndarray, list[str]]:
    """Return the request, its rows as an (n, 20) float array and the outputs to send; OipError 400 otherwise."""
    try:
        request = InferRequest.model_validate_json(body or b"null")
    except ValidationError as err:
        error = err.errors(include_url=False)[0]
        if error["type"] == "json_invalid":
            raise OipError(400, f"malformed JSON: {error['msg'].removeprefix('Invalid JSON: ')}") from None
        loc = tuple(error["loc"]) or ("body",)
        if loc == ("inputs",) and error["type"] in ("too_short", "too_long"):
            raise OipError(400, f"inputs: expected exactly one input tensor, got {len(error['input'])}") from None
        text = message(error, loc, tuple(InferRequest.model_fields))
        if error["type"] in ("less_than_equal", "greater_than_equal"):
            text = f"expected a number between -{FLOAT32_MAX:.1e} and {FLOAT32_MAX:.1e} (32-bit floats), " \
                   f"got {error['input']:.1e}"
        raise OipError(400, f"{field_path(loc)}: {text}") from None
    item = request.inputs[0]
    if item.name != ONNX_INPUT:
        raise OipError(400, f"inputs[0].name: this model's input is {ONNX_INPUT!r}, got {item.name[:40]!r}")
    if item.datatype not in DATATYPES:
        raise OipError(400, f"inputs[0].datatype: expected FP32 or FP64, got {item.datatype[:16]!r}")
    shape = item.shape
    if len(shape) != 2 or shape[1] != N_FEATURES or not 1 <= shape[0] <= MAX_BATCH_ROWS:
        raise OipError(400, f"inputs[0].shape: expected [n, {N_FEATURES}] with n from 1 to {MAX_BATCH_ROWS:,}, "
                            f"got {shape[:4]}")
    if len(item.data) != shape[0] * N_FEATURES:
        raise OipError(400, f"inputs[0].data: expected {shape[0] * N_FEATURES:,} numbers for shape {shape}, "
                            f"got {len(item.data):,}")
    wanted = [o.name for o in request.outputs] if request.outputs else list(OUTPUTS)
    for i, name in enumerate(wanted):
        if name not in OUTPUTS:
            raise OipError(400, f"outputs[{i}].name: unknown output {name[:40]!r}; this model has "
                                f"{', '.join(repr(o) for o in OUTPUTS)}")
    return request, np.asarray(item.data, dtype=np.float64).reshape(shape), wanted


def oip(endpoint: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    """Answer an endpoint's refusals in the protocol's shape, {"error": message}."""

    @functools.wraps(endpoint)
    async def answered(*args: Any, **kwargs: Any) -> Response:
        try:
            return await endpoint(*args, **kwargs)
        except UnknownModel as err:
            return JSONResponse({"error": str(err)}, status_code=404)
        except OipError as err:
            return JSONResponse({"error": str(err)}, status_code=err.status)
        except ApiError as err:  # 413 and 415 from reading the body, 503 before the model is loaded
            return JSONResponse({"error": err.detail[0]["msg"]}, status_code=err.status, headers=err.headers)

    return answered


@router.get("/v2", response_model=dict[str, Any])
async def server_metadata(request: Request) -> JSONResponse:
    """Server metadata: name, version, protocol extensions."""
    return JSONResponse({"name": request.app.title, "version": request.app.version, "extensions": []})


@router.get("/v2/health/live", response_model=dict[str, bool])
async def server_live() -> JSONResponse:
    """Liveness, as the protocol asks it."""
    return JSONResponse({"live": True})


@router.get("/v2/health/ready", response_model=dict[str, bool], responses={503: {"description": "Not ready"}})
async def server_ready(request: Request) -> JSONResponse:
    """Readiness: 200 once the models are loaded, else 503."""
    ready = get_state(request).model is not None
    return JSONResponse({"ready": ready}, status_code=200 if ready else 503)


@router.get("/v2/models/{name}", response_model=ModelMetadata, responses=documented(404, 429, 503))
@router.get("/v2/models/{name}/versions/{version}", response_model=ModelMetadata, responses=documented(404, 429, 503))
@oip
async def model_metadata(request: Request, name: str, version: str | None = None) -> JSONResponse:
    """A model's metadata: its versions, platform, input and output tensors."""
    repository = repository_of(request)
    model = repository.model(name, version)
    return JSONResponse({
        "name": name, "versions": [version] if version else repository.versions(name),
        "platform": PLATFORMS.get(model.backend, model.backend),
        "inputs": [{"name": ONNX_INPUT, "datatype": "FP32", "shape": [-1, N_FEATURES]}],
        "outputs": [{"name": o, "datatype": t, "shape": [-1, n] if n else [-1]} for o, (t, n) in OUTPUTS.items()]})


@router.get("/v2/models/{name}/ready", response_model=ModelReady, responses=documented(404, 429, 503))
@router.get("/v2/models/{name}/versions/{version}/ready", response_model=ModelReady,
            responses=documented(404, 429, 503))
@oip
async def model_ready(request: Request, name: str, version: str | None = None) -> JSONResponse:
    """A model's (or one version's) readiness: loaded and warmed up."""
    repository_of(request).model(name, version)
    return JSONResponse({"name": name, "ready": True})


INFER_DOCS = {"response_model": InferResponse, "responses": documented(400, 404, 413, 415, 429, 503),
              "openapi_extra": body_doc(InferRequest)}


@router.post("/v2/models/{name}/infer", **INFER_DOCS)
@router.post("/v2/models/{name}/versions/{version}/infer", **INFER_DOCS)
@oip
async def infer(request: Request, name: str, version: str | None = None) -> Response:
    """Score the input tensor with one version: the one in the path, else the one the model's route chooses."""
    started = time.perf_counter()
    repository = repository_of(request)
    repository.model(name, version)  # an unknown model or version is a 404 before the body is read
    body, X, wanted = parse_infer(await json_body(request))
    request_id = body.id or str(uuid.uuid4())
    route = repository.routes[name]
    chosen = version or route.choose(request_id, request.headers.get(CANARY_HEADER))
    model = repository.model(name, chosen)
    try:
        proba = await score(model, X)
    except Exception:
        log.exception("model %s version %s failed", name, chosen)
        repository.metrics.observe(name, chosen, 500, time.perf_counter() - started, [])
        return JSONResponse({"error": f"model {name} version {chosen} failed (see the server log)"}, status_code=500)
    labels = winning_class(proba)
    tensors = {"probabilities": np.round(proba.astype(np.float64), 6).ravel().tolist(), "label": labels.tolist()}
    outputs = [{"name": o, "datatype": OUTPUTS[o][0], "shape": [len(X), OUTPUTS[o][1]] if OUTPUTS[o][1] else
                [len(X)], "data": tensors[o]} for o in wanted]
    content = orjson.dumps({"model_name": name, "model_version": chosen, "id": request_id, "outputs": outputs})
    repository.metrics.observe(name, chosen, 200, time.perf_counter() - started, tensors["label"])
    mirror = None
    if version is None and route.shadow is not None and route.shadow != chosen:
        mirror = BackgroundTask(shadow_score, repository, name, route.shadow, request_id, chosen, X, tensors["label"])
    return Response(content, media_type="application/json", background=mirror)


async def shadow_score(repository: ModelRepository, name: str, version: str, request_id: str, primary: str,
                       X: np.ndarray, answered: list[int]) -> None:
    """Score a mirrored request with the shadow after the client has its answer; log both answers."""
    try:
        labels = winning_class(await score(repository.model(name, version), X)).tolist()
    except Exception:
        log.exception("shadow %s version %s failed", name, version)
        return
    repository.log_shadow(name, ShadowEntry(request_id, primary, answered, version, labels))
