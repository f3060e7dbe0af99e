"""The async GCS adapter's one error boundary: gcloud-aio-storage raises aiohttp's
exceptions, read here with Google's reasons (`failover.providers.gcp._rules.REASONS`)
and the shared status table (`failover.providers._errors`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import aiohttp

from failover.errors import FailoverError, Timeout, Unavailable
from failover.providers._common import parse_retry_after, redact
from failover.providers._errors import Answer, ErrorTable
from failover.providers.gcp._rules import REASONS

# Google's reasons, then the shared status table (providers/_errors.py); what is no answer
# is named by aiohttp's exception class, the first row that matches deciding.
TABLE = ErrorTable(
    cloud="Google Cloud",
    codes=REASONS,
    exceptions=(
        # ServerTimeoutError is a ClientError too, so it comes first.  TimeoutError is a
        # ``sock_connect`` or ``sock_read`` timeout (asyncio's own class before Python 3.11).
        ((aiohttp.ServerTimeoutError, asyncio.TimeoutError, TimeoutError), Timeout),
        # Refused, reset, DNS resolution failure, a body cut short; a JSON answer that is not.
        ((aiohttp.ClientError, json.JSONDecodeError), Unavailable),
    ),
)
_MAPPED = (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, json.JSONDecodeError)


def _answer(exc: aiohttp.ClientResponseError) -> Answer:
    """gcloud-aio's message is ``"<reason phrase>: <body>"``; the body is Google's JSON error."""
    phrase, _, body = str(exc.message).partition(": ")
    reason, detail = "", phrase
    try:
        error = json.loads(body).get("error", {})
    except (ValueError, AttributeError):
        error = {}
    if isinstance(error, Mapping):
        errors = error.get("errors") or [{}]
        reason = str(errors[0].get("reason") or "") if isinstance(errors[0], Mapping) else ""
        detail = str(error.get("message") or phrase)
    headers: Mapping[str, str] = exc.headers or {}
    return Answer(
        int(exc.status or 0),
        reason,
        label=phrase or "HTTP error",
        detail=redact(detail),
        retry_after=parse_retry_after(headers.get("Retry-After")),
    )


def translate(exc: BaseException, operation: str, where: str) -> FailoverError | None:
    """The `failover.errors` equivalent of a gcloud-aio/aiohttp exception, or None if not one."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return TABLE.from_answer(_answer(exc), operation, where)
    return TABLE.from_exception(exc, operation, where)


@contextmanager
def map_errors(operation: str, where: str) -> Iterator[None]:
    """Re-raise gcloud-aio-storage's (aiohttp's) errors as `failover.errors`
    (``raise ... from exc``): the async GCS adapter's one boundary."""
    try:
        yield
    except _MAPPED as exc:
        mapped = translate(exc, operation, where)
        if mapped is None:
            raise
        raise mapped from exc


async def raise_for_status(response: aiohttp.ClientResponse) -> None:
    """An error answer raised as gcloud-aio-storage raises it (``"<reason>: <body>"``), so
    `map_errors` reads Google's reason from it the same way."""
    if response.status >= 400:
        body = await response.text(errors="replace")
        raise aiohttp.ClientResponseError(
            response.request_info,
            response.history,
            status=response.status,
            message=f"{response.reason}: {body}",
            headers=response.headers,
        )


__all__ = ["TABLE", "map_errors", "raise_for_status", "translate"]
