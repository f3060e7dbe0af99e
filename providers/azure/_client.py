"""azure-storage-blob client creation and the one boundary where Azure errors become `failover.errors`.

Why the client is configured as it is (measured; see docs/providers.md): the SDK's default
ExponentialRetry waits 15 s, then 18 s, then 24 s... and took 81 s to report a refused port;
its read timeout is 60 s.  Here it retries at most ``retry_total`` times (default 0) with
sub-second linear backoff and short socket timeouts; the failover layer moves the call to
another target instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from failover.providers._sdk import missing_sdk

try:
    from azure.core.exceptions import (
        AzureError,
        ClientAuthenticationError,
        DecodeError,
        HttpResponseError,
        ResourceExistsError,
        ResourceModifiedError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceRequestTimeoutError,
        ServiceResponseError,
        ServiceResponseTimeoutError,
    )
    from azure.storage.blob import BlobServiceClient, LinearRetry
except ImportError as exc:
    raise missing_sdk(__name__, "azure-blob", exc) from exc

from failover.errors import (
    AlreadyExists,
    ConfigError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ProviderError,
    Throttled,
    Timeout,
    Unavailable,
)
from failover.providers._common import parse_retry_after, redact

DEFAULT_RETRY_TOTAL = 0
# Between the SDK's own retries, if any are allowed: short, because every second spent
# here is a second the caller is not served by a healthy target.
RETRY_BACKOFF = 0.5

# BlobAlreadyExists is not here: it is the answer to a put's failed If-None-Match: *, so
# PreconditionFailed, as a failed If-Match is.
_ALREADY_EXISTS = frozenset({"ContainerAlreadyExists"})
_TIMED_OUT = frozenset({"OperationTimedOut"})


def make_service_client(
    account_url: str | None,
    *,
    credential: Any,
    connection_string: str | None,
    api_version: str | None,
    connect_timeout: float,
    read_timeout: float,
    retry_total: int,
) -> BlobServiceClient:
    kwargs: dict[str, Any] = {
        "connection_timeout": connect_timeout,
        "read_timeout": read_timeout,
        "retry_policy": LinearRetry(
            backoff=RETRY_BACKOFF,  # type: ignore[arg-type]  # typed int, used as float seconds
            random_jitter_range=RETRY_BACKOFF / 2,  # type: ignore[arg-type]
            retry_total=retry_total,
        ),
    }
    if api_version is not None:
        kwargs["api_version"] = api_version
    if connection_string is not None:
        if account_url is not None:
            raise ConfigError("give either account_url or connection_string, not both")
        try:
            return BlobServiceClient.from_connection_string(connection_string, credential=credential, **kwargs)
        except ValueError as exc:
            # The SDK's message may quote the string, account key included: do not repeat it.
            raise ConfigError("invalid Azure storage connection string") from exc
    if not account_url:
        raise ConfigError("BlobStore needs account_url (or connection_string)")
    if credential is None and "sig=" not in account_url.partition("?")[2].lower():
        # No credential and no SAS in the URL: Entra ID through the default chain.
        credential = default_credential()
    try:
        return BlobServiceClient(account_url, credential=credential, **kwargs)
    except ValueError as exc:
        raise ConfigError(f"invalid Azure account URL or credential: {redact(str(exc))}") from exc


def default_credential() -> Any:
    """DefaultAzureCredential: environment, workload identity, managed identity, Azure CLI..."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise missing_sdk("an Azure client without a credential", "azure", exc) from exc
    return DefaultAzureCredential()


def error_code(exc: BaseException) -> str:
    code = getattr(exc, "error_code", None)  # a StorageErrorCode (str enum) or a plain str
    return str(getattr(code, "value", code) or "")


def _summary(exc: HttpResponseError) -> str:
    # The SDK message is "<reason>\nRequestId:...\nErrorCode:...\nContent: <xml>": the first
    # line says enough.
    first = (exc.message or str(exc)).strip().splitlines()
    return redact(first[0]) if first else ""


def translate(exc: AzureError, operation: str, where: str) -> ProviderError:
    """The `failover.errors` equivalent of an azure-core exception."""
    if isinstance(exc, (ServiceRequestTimeoutError, ServiceResponseTimeoutError)):
        return Timeout(f"{operation} {where}: timed out: {redact(str(exc))}", operation=operation)
    if isinstance(exc, ServiceRequestError):
        # Refused, reset before sending, DNS resolution failure: the request never arrived.
        return Unavailable(f"{operation} {where}: cannot connect: {redact(str(exc))}", operation=operation)
    if isinstance(exc, (ServiceResponseError, DecodeError)):
        return Unavailable(f"{operation} {where}: response failed: {redact(str(exc))}", operation=operation)
    if not isinstance(exc, HttpResponseError):
        msg = f"{operation} {where}: {type(exc).__name__}: {redact(str(exc))}"
        return Unavailable(msg, operation=operation)

    status = int(exc.status_code or 0)
    code = error_code(exc)
    msg = f"{operation} {where}: {code or exc.reason or 'error'} (HTTP {status or '?'}): {_summary(exc)}"
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        return NotFound(msg, operation=operation)
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        return PermissionDenied(msg, operation=operation)
    if code in _ALREADY_EXISTS:
        return AlreadyExists(msg, operation=operation)
    if isinstance(exc, (ResourceModifiedError, ResourceExistsError)) or status in (409, 412):
        return PreconditionFailed(msg, operation=operation)
    if status in (429, 503):  # ServerBusy, IngressOverAccountLimit, TooManyRequests...
        headers = getattr(exc.response, "headers", None) or {}
        return Throttled(msg, operation=operation, retry_after=parse_retry_after(headers.get("Retry-After")))
    if code in _TIMED_OUT or status == 408:
        return Timeout(msg, operation=operation)
    if status >= 500 or status == 0:
        return Unavailable(msg, operation=operation)
    if code == "InvalidResourceName":
        msg += " (container names: 3-63 lowercase letters, digits and single hyphens)"
    return InvalidRequest(msg, operation=operation)


@contextmanager
def map_errors(operation: str, where: str) -> Iterator[None]:
    """Re-raise azure-core errors as `failover.errors` (``raise ... from exc``)."""
    try:
        yield
    except AzureError as exc:
        raise translate(exc, operation, where) from exc
