"""google-cloud-storage client creation, and the one boundary where every Google Cloud adapter's
errors become `failover.errors` (`TABLE`, read as providers/_errors.py says).

Why per-call ``timeout`` and ``retry`` (measured; see docs/providers.md): google-cloud-storage
retries idempotent calls under an api-core Retry whose deadline is 120 s, so a refused port
took 105 s to surface and a silent one 120 s.  Every call made by the adapters passes an
explicit ``(connect, read)`` timeout and ``retry=None`` by default; the failover layer
retries on another target instead.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from failover.providers._sdk import missing_sdk

try:
    import google.api_core.exceptions as gexc
    import requests
    from google.auth import exceptions as auth_exc
except ImportError as exc:
    raise missing_sdk(__name__, "gcs", exc) from exc

from failover.errors import (
    ConfigError,
    FailoverError,
    IntegrityError,
    PermissionDenied,
    Timeout,
    Unavailable,
)
from failover.providers._common import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, parse_retry_after, redact
from failover.providers._errors import Answer, ErrorTable, build
from failover.providers.gcp._rules import REASONS

_GOOGLE_ERRORS: tuple[type[BaseException], ...] = (
    gexc.GoogleAPIError,
    requests.RequestException,
    auth_exc.GoogleAuthError,
)


def _storage_errors() -> tuple[type[BaseException], type[BaseException]] | None:
    """The storage SDK's (data corruption, invalid response) classes, if the storage SDK is
    loaded: asked only when an error is being mapped, so the DNS and compute adapters never
    load it (and where it is not loaded, nothing can have raised them)."""
    module = sys.modules.get("google.cloud.storage.exceptions")
    if module is None:
        return None
    return module.DataCorruption, module.InvalidResponse


def _mapped() -> tuple[type[BaseException], ...]:
    """What `map_errors` catches: every Google SDK error, the storage SDK's once loaded."""
    storage = _storage_errors()
    return _GOOGLE_ERRORS if storage is None else (*_GOOGLE_ERRORS, *storage)

DEFAULT_TIMEOUT = (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)

TABLE = ErrorTable(
    cloud="Google Cloud",
    codes=REASONS,  # Google's reasons (providers/gcp/_rules.py), shared with the async GCS adapter
    exceptions=(
        (gexc.RetryError, Timeout),  # a caller-supplied Retry ran out of time
        (requests.Timeout, Timeout),  # ConnectTimeout and ReadTimeout
        # Refused, reset, DNS resolution failure, token endpoint unreachable.
        ((requests.RequestException, auth_exc.TransportError), Unavailable),
        (auth_exc.RefreshError, PermissionDenied),
    ),
)


def _storage() -> Any:
    # Imported on use: the DNS and compute adapters share this module, not the storage SDK.
    try:
        import google.cloud.storage as storage
    except ImportError as exc:
        raise missing_sdk("failover.providers.gcp.gcs", "gcs", exc) from exc
    return storage


def make_client(project: str | None = None) -> Any:
    """A client with application default credentials (ADC)."""
    storage = _storage()
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

    return _storage().Client(
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


def _reason(exc: gexc.GoogleAPICallError) -> str:
    first = exc.errors[0] if exc.errors else None
    if isinstance(first, Mapping):
        return str(first.get("reason") or "")
    return str(getattr(exc, "reason", None) or "")  # the ErrorInfo of newer APIs


def _answer(exc: BaseException, reason: str, detail: str) -> Answer:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    return Answer(
        _status(exc),
        reason,
        label=type(exc).__name__,
        detail=redact(detail),
        retry_after=parse_retry_after(headers.get("Retry-After")),
    )


def translate(exc: BaseException, operation: str, where: str) -> FailoverError | None:
    """The `failover.errors` equivalent of a Google SDK exception, or None if not one."""
    if isinstance(exc, gexc.GoogleAPICallError):
        return TABLE.from_answer(_answer(exc, _reason(exc), str(exc.message)), operation, where)
    storage = _storage_errors()
    if storage is not None and isinstance(exc, storage[0]):  # the SDK's own crc32c/md5 check failed
        return build(IntegrityError, f"{operation} {where}: {type(exc).__name__}: {redact(str(exc))}", operation)
    if storage is not None and isinstance(exc, storage[1]):
        # A media request's answer that the SDK did not rewrap: its status means what it
        # means in any other answer.
        return TABLE.from_answer(_answer(exc, "", str(exc)), operation, where)
    return TABLE.from_exception(exc, operation, where)


@contextmanager
def map_errors(operation: str, where: str) -> Iterator[None]:
    """Re-raise Google SDK errors as `failover.errors` (``raise ... from exc``): every Google
    Cloud adapter's one boundary."""
    try:
        yield
    except _mapped() as exc:
        mapped = translate(exc, operation, where)
        if mapped is None:
            raise
        raise mapped from exc
