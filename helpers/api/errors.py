"""Every error the API answers is JSON with a status, a location and a message: never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from helpers.api.contract import Problem, explain

log = logging.getLogger("helpers.api")

STATUS_TEXT: dict[int, str] = {
    400: "Malformed JSON", 401: "Missing or invalid bearer token", 403: "Retraining is disabled",
    404: "Unknown job or request id", 409: "A retraining job is already running", 413: "Body too large",
    415: "Content-Type is not application/json", 422: "Invalid input (the detail names the field)",
    429: "Rate limit exceeded (see Retry-After)", 503: "Not ready",
}


class ApiError(Exception):
    """A client error with a status code and detail items (location, message, type); answered as JSON."""

    def __init__(self, status: int, msg: str, loc: list | None = None, kind: str = "value_error",
                 headers: dict[str, str] | None = None, detail: list[dict] | None = None) -> None:
        super().__init__(msg)
        self.status, self.headers = status, headers
        self.detail = detail or [{"loc": loc if loc is not None else ["body"], "msg": msg, "type": kind}]

    def response(self) -> JSONResponse:
        """Return the JSON error response."""
        return JSONResponse({"detail": self.detail}, status_code=self.status, headers=self.headers)


def problem_docs(*codes: int) -> dict:
    """Return OpenAPI response docs for the given error codes."""
    return {code: {"model": Problem, "description": STATUS_TEXT[code]} for code in codes}


def install_error_handlers(app: FastAPI) -> None:
    """Answer ApiError, validation errors, HTTP errors and crashes as JSON (a crash: 500, logged, no trace)."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, err: ApiError) -> JSONResponse:
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, err: RequestValidationError) -> JSONResponse:
        # Reworded, and never echoing the input: a NaN in it would make the error itself unserialisable (a 500).
        explained = [explain(e, loc=list(e.get("loc", ()))) for e in err.errors()]
        return JSONResponse({"detail": [item for _, item in explained]},
                            status_code=max((status for status, _ in explained), default=422))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": [{"loc": [], "msg": str(err.detail), "type": "http_error"}]},
                            status_code=err.status_code, headers=getattr(err, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, err: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse({"detail": [{"loc": [], "msg": "internal error (see the server log)",
                                         "type": "internal"}]}, status_code=500)
