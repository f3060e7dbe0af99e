"""Library errors as HTTP answers: one table, and a JSON body that names the error's kind.

``NotFound`` is a 404 only because a target that would hold the object said so; when one
that may hold it cannot be asked, the library raises `NotFoundUnconfirmed` and the
service answers 503 ``not_found_unconfirmed``: a 404 then would be a lie a client might
act on (create a default, say, over an object that exists on the cloud that is down).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from examples.object_service.ranges import RangeNotSatisfiable
from failover.errors import (
    AllTargetsFailed,
    AlreadyExists,
    CircuitOpen,
    FailoverError,
    InvalidInput,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    Throttled,
    Unsupported,
)

# Permanent answers, first match wins; anything else that fails over (temporary or
# persistent: every target was tried) is a 503, and any other permanent error a 502.
STATUS_OF: tuple[tuple[type[FailoverError], int], ...] = (
    (RangeNotSatisfiable, 416),
    (InvalidInput, 400),
    (InvalidRequest, 400),
    (NotFound, 404),
    (PreconditionFailed, 412),
    (AlreadyExists, 409),
    (Unsupported, 501),
)
UNAVAILABLE = 503
RETRY_AFTER = 1  # seconds, when the error does not say: breakers and probes act within seconds


def status_of(error: FailoverError) -> int:
    for cls, status in STATUS_OF:
        if isinstance(error, cls):
            return status
    return UNAVAILABLE if error.fails_over else 502


def body_of(error: FailoverError) -> dict[str, Any]:
    """What the client reads: the kind to branch on, the message, and each target's part."""
    body: dict[str, Any] = {"error": error.kind, "status": error.status, "message": str(error)}
    if isinstance(error, AllTargetsFailed):
        body["attempts"] = [{"target": a.target, "error": a.kind} for a in error.attempts]
        body["skipped"] = list(error.skipped)
    return body


def headers_of(error: FailoverError) -> dict[str, str]:
    if isinstance(error, RangeNotSatisfiable):
        return {"Content-Range": f"bytes */{error.size}"}
    if status_of(error) != UNAVAILABLE:
        return {}
    wait = error.retry_after if isinstance(error, Throttled) else None
    if isinstance(error, CircuitOpen):
        wait = error.retry_in
    return {"Retry-After": str(max(1, round(wait if wait is not None else RETRY_AFTER)))}


def failover_error(request: Request, error: Exception) -> JSONResponse:
    """The handler of every `FailoverError` a route lets out."""
    assert isinstance(error, FailoverError)  # registered for that class only
    return JSONResponse(body_of(error), status_code=status_of(error), headers=headers_of(error))


def invalid_request(request: Request, error: Exception) -> JSONResponse:
    """A bad query or header (``limit=abc``) is bad input like any other: 400, not FastAPI's 422."""
    assert isinstance(error, RequestValidationError)  # registered for that class only
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
    return JSONResponse({"error": "invalid_input", "status": "permanent", "message": problems}, status_code=400)


def http_error(request: Request, error: Exception) -> JSONResponse:
    """A route the service lacks (404) or a method it does not take there (405, with
    ``Allow``), in the same JSON shape as every other error; the kind is the status's name."""
    assert isinstance(error, HTTPException)  # registered for that class only
    kind = HTTPStatus(error.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    message = f"{error.detail}: {request.method} {request.url.path}"
    body = {"error": kind, "status": "permanent", "message": message}
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


__all__ = ["STATUS_OF", "body_of", "failover_error", "headers_of", "http_error", "invalid_request", "status_of"]
