"""Blob service client creation, and the one boundary where every Azure adapter's errors
become `failover.errors` (`TABLE`, read as providers/_errors.py says).

Why the client is configured as it is (measured; see docs/providers.md): the SDK's default
ExponentialRetry waits 15 s, then 18 s, then 24 s... and took 81 s to report a refused port;
its read timeout is 60 s.  Here it retries at most ``retry_total`` times (default 0) with
sub-second linear backoff and short socket timeouts; the failover layer moves the call to
another target instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

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
except ImportError as exc:
    raise missing_sdk(__name__, "azure-blob", exc) from exc

from failover.errors import (
    AlreadyExists,
    ConfigError,
    FailoverError,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    Timeout,
    Unavailable,
)
from failover.providers._common import parse_retry_after, redact
from failover.providers._errors import Answer, ErrorTable, by_code

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

DEFAULT_RETRY_TOTAL = 0
# Between the SDK's own retries, if any are allowed: short, because every second spent
# here is a second the caller is not served by a healthy target.
RETRY_BACKOFF = 0.5

# Azure's codes: Blob Storage's x-ms-error-code and ARM's error.code (DNS, compute).
TABLE = ErrorTable(
    cloud="Azure",
    codes=by_code(
        {
            AlreadyExists: ("ContainerAlreadyExists",),
            # 409s that are a conflict with the resource's state, whatever the request.
            # BlobAlreadyExists is the refusal of a put's If-None-Match: *, a failed condition
            # as on S3 and GCS (their 412).
            PreconditionFailed: (
                "BlobAlreadyExists",
                "ContainerBeingDeleted",
                "LeaseIdMissing",
                "LeaseAlreadyPresent",
                "LeaseIdMismatchWithBlobOperation",
                "PendingCopyOperation",
            ),
            Timeout: ("OperationTimedOut",),  # a 500: the server gave up on its own work
        }
    ),
    # azure-core raises one class per meaning, sometimes with a status that says otherwise
    # (InvalidAuthenticationInfo is a 400) or none at all (azure-identity's
    # CredentialUnavailableError): the class decides where no code or create rule does.
    answers=(
        (ResourceNotFoundError, NotFound),
        (ClientAuthenticationError, PermissionDenied),
        ((ResourceModifiedError, ResourceExistsError), PreconditionFailed),
    ),
    exceptions=(
        ((ServiceRequestTimeoutError, ServiceResponseTimeoutError), Timeout),
        # Refused, reset before sending, DNS resolution failure: the request never arrived.
        (ServiceRequestError, Unavailable),
        ((ServiceResponseError, DecodeError), Unavailable),
    ),
    hints=MappingProxyType(
        {"InvalidResourceName": "container names: 3-63 lowercase letters, digits and single hyphens"}
    ),
)


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
    # Imported here: the DNS and compute adapters share this module, not the storage SDK.
    try:
        from azure.storage.blob import BlobServiceClient, LinearRetry
    except ImportError as exc:
        raise missing_sdk("failover.providers.azure.blob", "azure-blob", exc) from exc
    if needs_default_credential(account_url, credential, connection_string):
        credential = default_credential()
    client: BlobServiceClient = configured_client(
        BlobServiceClient,
        LinearRetry,
        account_url,
        credential=credential,
        connection_string=connection_string,
        api_version=api_version,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retry_total=retry_total,
    )
    return client


def needs_default_credential(account_url: str | None, credential: Any, connection_string: str | None) -> bool:
    """No credential and no SAS in the URL: Entra ID through the default chain."""
    return (
        connection_string is None
        and credential is None
        and bool(account_url)
        and "sig=" not in str(account_url).partition("?")[2].lower()
    )


def configured_client(
    client_class: Any,
    retry_class: Any,
    account_url: str | None,
    *,
    credential: Any,
    connection_string: str | None,
    api_version: str | None,
    connect_timeout: float,
    read_timeout: float,
    retry_total: int,
) -> Any:
    """A ``client_class`` (the sync or the aio ``BlobServiceClient``) with ``retry_class``
    (its ``LinearRetry``) and the timeouts, as the module docstring says."""
    kwargs: dict[str, Any] = {
        "connection_timeout": connect_timeout,
        "read_timeout": read_timeout,
        "retry_policy": retry_class(
            backoff=RETRY_BACKOFF, random_jitter_range=RETRY_BACKOFF / 2, retry_total=retry_total
        ),
    }
    if api_version is not None:
        kwargs["api_version"] = api_version
    if connection_string is not None:
        if account_url is not None:
            raise ConfigError("give either account_url or connection_string, not both")
        try:
            return client_class.from_connection_string(connection_string, credential=credential, **kwargs)
        except ValueError as exc:
            # The SDK's message may quote the string, account key included: do not repeat it.
            raise ConfigError("invalid Azure storage connection string") from exc
    if not account_url:
        raise ConfigError("BlobStore needs account_url (or connection_string)")
    try:
        return client_class(account_url, credential=credential, **kwargs)
    except ValueError as exc:
        raise ConfigError(f"invalid Azure account URL or credential: {redact(str(exc))}") from exc


def default_credential(extra: str = "azure") -> Any:
    """DefaultAzureCredential: environment, workload identity, managed identity, Azure CLI...
    ``extra`` is the one to name if azure-identity is missing (every Azure extra has it)."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise missing_sdk("an Azure client without a credential", extra, exc) from exc
    return DefaultAzureCredential()


def error_code(exc: BaseException) -> str:
    """Blob Storage's code (``error_code``, a StorageErrorCode str enum), else ARM's (``error.code``)."""
    code = getattr(exc, "error_code", None) or getattr(getattr(exc, "error", None), "code", None)
    return str(getattr(code, "value", code) or "")


def _answer(exc: HttpResponseError) -> Answer:
    code = error_code(exc)
    # The SDK message is "<reason>\nRequestId:...\nErrorCode:...\nContent: <xml>": the first
    # line says enough.
    first = (exc.message or str(exc)).strip().splitlines()
    headers = getattr(exc.response, "headers", None) or {}
    return Answer(
        int(exc.status_code or 0),
        code,
        label=code or exc.reason or "",
        detail=redact(first[0]) if first else "",
        retry_after=parse_retry_after(headers.get("Retry-After")),
    )


def translate(exc: AzureError, operation: str, where: str) -> FailoverError:
    """The `failover.errors` equivalent of an azure-core exception."""
    if isinstance(exc, HttpResponseError):
        return TABLE.from_answer(_answer(exc), operation, where, exc=exc)
    mapped = TABLE.from_exception(exc, operation, where)
    if mapped is None:  # any other AzureError: the call did not get through
        mapped = Unavailable(f"{operation} {where}: {type(exc).__name__}: {redact(str(exc))}", operation=operation)
    return mapped


@contextmanager
def map_errors(operation: str, where: str) -> Iterator[None]:
    """Re-raise azure-core errors as `failover.errors` (``raise ... from exc``): every Azure
    adapter's one boundary."""
    try:
        yield
    except AzureError as exc:
        raise translate(exc, operation, where) from exc
