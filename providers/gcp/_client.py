"""google-cloud-storage client creation and the one boundary where its errors become `failover.errors`.

Why per-call ``timeout`` and ``retry`` (measured; see docs/providers.md): google-cloud-storage
retries idempotent calls under an api-core Retry whose deadline is 120 s, so a refused port
took 105 s to surface and a silent one 120 s.  Every call made by the adapters passes an
explicit ``(connect, read)`` timeout and ``retry=None`` by default; the failover layer
retries on another target instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from failover.providers._sdk import missing_sdk

try:
    import google.api_core.exceptions as gexc
    import google.cloud.storage as storage
    import requests
    from google.auth import exceptions as auth_exc
    from google.cloud.storage.exceptions import DataCorruption, InvalidResponse
except ImportError as exc:
    raise missing_sdk(__name__, "gcs", exc) from exc

from failover.errors import (
    ConfigError,
    IntegrityError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ProviderError,
    Throttled,
    Timeout,
    Unavailable,
)
from failover.providers._common import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, parse_retry_after, redact

DEFAULT_TIMEOUT = (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)


def make_client(project: str | None = None) -> Any:
    """A client with application default credentials (ADC)."""
    try:
        return storage.Client(project=project)
    except auth_exc.DefaultCredentialsError as exc:
        raise ConfigError(
            "no Google application default credentials: set GOOGLE_APPLICATION_CREDENTIALS, run "
            "'gcloud auth application-default login', or pass client="
        ) from exc


def emulator_client(endpoint: str, project: str = "test") -> Any:
    """A client for a local emulator such as fake-gcs-server: anonymous, endpoint set on the
    client itself (not through the process-wide STORAGE_EMULATOR_HOST variable)."""
    from google.auth.credentials import AnonymousCredentials

    return storage.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": endpoint},
    )


def _status(exc: BaseException) -> int:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    response = getattr(exc, "response", None)
    return int(getattr(response, "status_code", 0) or 0)


def _from_api_error(exc: gexc.GoogleAPICallError, operation: str, where: str) -> ProviderError:
    status = _status(exc)
    msg = f"{operation} {where}: {type(exc).__name__} (HTTP {status or '?'}): {redact(str(exc.message))}"
    if isinstance(exc, gexc.NotFound) or status == 404:
        return NotFound(msg, operation=operation)
    if isinstance(exc, (gexc.Forbidden, gexc.Unauthorized)) or status in (401, 403):
        return PermissionDenied(msg, operation=operation)
    if isinstance(exc, (gexc.PreconditionFailed, gexc.Conflict)) or status in (409, 412):
        return PreconditionFailed(msg, operation=operation)
    # 503 is Google's "back off" as much as 429 is (as on S3 and Azure): same class, same hint.
    if isinstance(exc, (gexc.TooManyRequests, gexc.ServiceUnavailable)) or status in (429, 503):
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        return Throttled(msg, operation=operation, retry_after=parse_retry_after(headers.get("Retry-After")))
    if status == 408:
        return Timeout(msg, operation=operation)
    if status >= 500 or status == 0:
        return Unavailable(msg, operation=operation)
    return InvalidRequest(msg, operation=operation)


def translate(exc: BaseException, operation: str, where: str) -> ProviderError | None:
    """The `failover.errors` equivalent of a google-cloud-storage exception, or None."""
    if isinstance(exc, gexc.GoogleAPICallError):
        return _from_api_error(exc, operation, where)
    msg = f"{operation} {where}: {type(exc).__name__}: {redact(str(exc))}"
    if isinstance(exc, DataCorruption):  # the SDK's own crc32c/md5 check failed
        return IntegrityError(msg, operation=operation)
    if isinstance(exc, gexc.RetryError):  # a caller-supplied Retry ran out of time
        return Timeout(msg, operation=operation)
    if isinstance(exc, requests.Timeout):  # ConnectTimeout and ReadTimeout
        return Timeout(msg, operation=operation)
    if isinstance(exc, (requests.ConnectionError, requests.RequestException, auth_exc.TransportError)):
        # Refused, reset, DNS resolution failure, token endpoint unreachable.
        return Unavailable(msg, operation=operation)
    if isinstance(exc, auth_exc.RefreshError):
        return PermissionDenied(msg, operation=operation)
    if isinstance(exc, InvalidResponse):
        status = _status(exc)
        if status == 404:
            return NotFound(msg, operation=operation)
        if status == 416:
            return InvalidRequest(msg, operation=operation)
        return Unavailable(msg, operation=operation)
    return None


@contextmanager
def map_errors(operation: str, where: str) -> Iterator[None]:
    """Re-raise google-cloud-storage errors as `failover.errors` (``raise ... from exc``)."""
    try:
        yield
    except (
        gexc.GoogleAPIError,
        requests.RequestException,
        auth_exc.GoogleAuthError,
        DataCorruption,
        InvalidResponse,
    ) as exc:
        mapped = translate(exc, operation, where)
        if mapped is None:
            raise
        raise mapped from exc
