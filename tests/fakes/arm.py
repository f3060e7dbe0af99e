"""What the Azure fakes share: an azure-core transport that answers from a function.

The real SDK builds each request and parses each response; only the network is
replaced.  ``respond(request)`` returns ``(status, headers, json_payload)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.utils import case_insensitive_dict

Reply = tuple[int, dict[str, str], Any]

_JSON = "application/json; charset=utf-8"
_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
            412: "Precondition Failed", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}


def arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """An error in Azure Resource Manager's documented shape."""
    return status, dict(headers or {}), {"error": {"code": code, "message": message}}


class _Body:
    def close(self) -> None:
        pass


class ArmTransport(HttpTransport):  # type: ignore[type-arg]
    def __init__(self, respond: Callable[[Any], Reply]) -> None:
        self.respond = respond

    def __enter__(self) -> ArmTransport:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, request: Any, **kwargs: Any) -> Any:
        status, headers, payload = self.respond(request)
        response = HttpResponseImpl(
            request=request,
            internal_response=_Body(),
            status_code=status,
            reason=_REASONS.get(status, "Error"),
            content_type=_JSON,
            stream_download_generator=None,
            headers=case_insensitive_dict({"Content-Type": _JSON, **headers}),
        )
        response._content = b"" if payload is None else json.dumps(payload).encode()  # as if read whole
        return response


def json_body(request: Any) -> Any:
    raw = request.content
    return json.loads(raw) if raw else None
