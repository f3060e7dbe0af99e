"""boto3 client creation and the one boundary where botocore errors become `failover.errors`.

Why the client is configured as it is (measured against moto on 127.0.0.1; see docs/providers.md):
botocore's defaults retry 3 times ("standard" mode) and wait up to 60 s per socket read,
so one dead endpoint holds a caller for minutes.  Here botocore makes exactly one attempt
with short timeouts; retrying on *another* target is the failover layer's job.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from failover.providers._sdk import missing_sdk

try:
    import boto3
    import botocore.exceptions as bce
    from boto3.exceptions import RetriesExceededError, S3UploadFailedError
    from botocore.config import Config
except ImportError as exc:
    raise missing_sdk(__name__, "aws", exc) from exc

from failover.errors import (
    AlreadyExists,
    ConfigError,
    FailoverError,
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
from failover.providers._common import parse_retry_after, redact

_NOT_FOUND = frozenset(
    {"NoSuchKey", "NoSuchBucket", "NoSuchUpload", "NotFound", "NoSuchVersion", "404", "InvalidInstanceID.NotFound"}
)
_DENIED = frozenset(
    {
        "AccessDenied",
        "Forbidden",
        "403",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccountProblem",
        "ExpiredToken",
        "InvalidToken",
        "InvalidSecurity",
        "UnauthorizedAccess",
        "UnauthorizedOperation",  # EC2: the IAM policy lacks the action
        "AuthFailure",  # EC2: bad or missing credentials
    }
)
_PRECONDITION = frozenset(
    {"PreconditionFailed", "412", "ConditionalRequestConflict", "OperationAborted", "409", "IncorrectInstanceState"}
)
# EC2 is out of capacity for that type in that zone: temporary, and another region may have it.
_NO_CAPACITY = frozenset({"InsufficientInstanceCapacity", "InsufficientHostCapacity", "InsufficientCapacity"})
_EXISTS = frozenset({"BucketAlreadyExists", "BucketAlreadyOwnedByYou"})
_THROTTLED = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded",
        "ServiceUnavailable",
        "503",
        "429",
    }
)
_TIMED_OUT = frozenset({"RequestTimeout", "RequestTimeoutException"})


def client_config(*, connect_timeout: float, read_timeout: float, addressing_style: str = "auto") -> Config:
    """One attempt, short timeouts; the failover layer retries on another target instead."""
    return Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # One attempt in all: the first failure is returned at once.  Careful: botocore's
        # ``max_attempts`` key counts *retries* (max_attempts=1 gave 2 requests and a
        # 0.3-1 s backoff sleep on a refused port, measured); ``total_max_attempts`` counts
        # requests.  The default, 3 attempts, triples the time a dead region holds a caller.
        retries={"mode": "standard", "total_max_attempts": 1},
        s3={"addressing_style": addressing_style},
        # Keep connections warm for the failover layer's parallel/hedged calls.
        max_pool_connections=32,
    )


def make_client(
    service: str,
    *,
    region: str | None,
    endpoint_url: str | None,
    session: boto3.session.Session | None,
    connect_timeout: float,
    read_timeout: float,
) -> Any:
    # Our own Session, never boto3's module-level default one: no shared global state, and
    # two stores for two regions never step on each other.  Credentials: the default chain.
    session = session if session is not None else boto3.session.Session()
    config = client_config(connect_timeout=connect_timeout, read_timeout=read_timeout)
    with map_errors("connect", f"{service} client"):
        try:
            return session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
        except ValueError:
            # botocore's message repeats the URL as given, credentials and all: not ours.
            raise ConfigError("endpoint_url is not a valid URL: scheme://host[:port] expected") from None


# boto3 takes its timeouts once, per client.  To cut a request to the attempt deadline,
# `DeadlineClients` keeps a few extra clients whose timeouts are the time left rounded *up*
# to a step: an attempt may overrun its deadline by up to one step.
TIMEOUT_STEP = 0.25
MAX_DEADLINE_CLIENTS = 4


class DeadlineClients:
    """The store's client, plus a small LRU of clients with shorter timeouts, made lazily
    from the same session and config under a lock (a boto3 Session is not thread-safe)."""

    def __init__(
        self,
        client: Any,
        *,
        service: str,
        region: str | None,
        endpoint_url: str | None,
        session: boto3.session.Session,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self.client = client
        self._service = service
        self._region = region
        self._endpoint_url = endpoint_url
        self._session = session
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._lock = threading.Lock()
        self._cut: OrderedDict[float, Any] = OrderedDict()

    def within(self, seconds: float) -> Any:
        """A client whose connect and read timeouts are at most ``seconds``, rounded up to a
        `TIMEOUT_STEP`; the store's own client when its timeouts are already that short."""
        step = max(1, math.ceil(seconds / TIMEOUT_STEP - 1e-9)) * TIMEOUT_STEP
        if step >= self._connect_timeout and step >= self._read_timeout:
            return self.client
        with self._lock:
            client = self._cut.get(step)
            if client is not None:
                self._cut.move_to_end(step)
                return client
            config = client_config(
                connect_timeout=min(self._connect_timeout, step), read_timeout=min(self._read_timeout, step)
            )
            with map_errors("connect", f"{self._service} client"):
                client = self._session.client(
                    self._service, region_name=self._region, endpoint_url=self._endpoint_url, config=config
                )
            self._cut[step] = client
            if len(self._cut) > MAX_DEADLINE_CLIENTS:
                # Dropped, not closed: a thread may still be using it; its pool goes with it.
                self._cut.popitem(last=False)
            return client


def error_code(exc: bce.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: bce.ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _from_client_error(exc: bce.ClientError, operation: str, where: str) -> ProviderError:
    code, status = error_code(exc), _status(exc)
    detail = redact(str(exc.response.get("Error", {}).get("Message", "") or ""))
    msg = f"{operation} {where}: {code or 'error'} (HTTP {status or '?'})" + (f": {detail}" if detail else "")
    if code in _NOT_FOUND or status == 404:
        return NotFound(msg, operation=operation)
    if code in _THROTTLED or status in (429, 503):
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return Throttled(msg, operation=operation, retry_after=parse_retry_after(headers.get("retry-after")))
    if code in _DENIED or status in (401, 403):
        return PermissionDenied(msg, operation=operation)
    if code in _EXISTS:
        return AlreadyExists(msg, operation=operation)
    if code in _PRECONDITION or status in (409, 412):
        return PreconditionFailed(msg, operation=operation)
    if code in _TIMED_OUT or status == 408:
        return Timeout(msg, operation=operation)
    if code in _NO_CAPACITY:
        return Unavailable(msg, operation=operation)
    if status >= 500 or status == 0:
        return Unavailable(msg, operation=operation)
    if code == "InvalidBucketName":
        msg += (
            " (bucket names: 3-63 characters of lowercase letters, digits, '.' and '-',"
            " starting and ending with a letter or digit)"
        )
    return InvalidRequest(msg, operation=operation)


def translate(exc: BaseException, operation: str, where: str) -> ProviderError | None:
    """The `failover.errors` equivalent of a boto3/botocore exception, or None if not one."""
    msg = f"{operation} {where}: {type(exc).__name__}: {redact(str(exc))}"
    if isinstance(exc, S3UploadFailedError):
        # boto3 re-raises ClientErrors from managed uploads as this, keeping only the text;
        # the original is still the implicit __context__.
        inner = exc.__cause__ or exc.__context__
        if inner is not None and inner is not exc:
            mapped = translate(inner, operation, where)
            if mapped is not None:
                return mapped
        return Unavailable(msg, operation=operation)
    if isinstance(exc, bce.ClientError):
        return _from_client_error(exc, operation, where)
    if isinstance(exc, (bce.ConnectTimeoutError, bce.ReadTimeoutError)):
        return Timeout(msg, operation=operation)
    if isinstance(exc, (bce.FlexibleChecksumError, bce.ChecksumError)):
        return IntegrityError(msg, operation=operation)
    if isinstance(exc, bce.ParamValidationError):
        return InvalidRequest(msg, operation=operation)
    if isinstance(exc, (bce.NoCredentialsError, bce.PartialCredentialsError)):
        # Permanent for this target until someone fixes its configuration.
        return PermissionDenied(msg, operation=operation)
    if isinstance(exc, (bce.CredentialRetrievalError, bce.TokenRetrievalError, bce.MetadataRetrievalError)):
        # The credential endpoint (IMDS, SSO, STS) failed to answer: that can pass.
        return Unavailable(msg, operation=operation)
    # EndpointConnectionError covers refused connections and DNS resolution failures.
    if isinstance(
        exc,
        (
            bce.EndpointConnectionError,
            bce.ConnectionError,
            bce.HTTPClientError,
            bce.IncompleteReadError,
            bce.ResponseStreamingError,
            RetriesExceededError,
        ),
    ):
        return Unavailable(msg, operation=operation)
    if isinstance(exc, (bce.NoRegionError, bce.UnknownEndpointError, bce.InvalidRegionError)):
        return InvalidRequest(msg, operation=operation)
    return None


@contextmanager
def map_errors(operation: str, where: str) -> Iterator[None]:
    """Re-raise SDK errors as `failover.errors` (``raise ... from exc``); others pass through.

    ``where`` names the bucket/key for the message; the target name is filled in by the
    router (`failover.errors.classify`), which knows it.
    """
    try:
        yield
    except (bce.BotoCoreError, bce.ClientError, S3UploadFailedError, RetriesExceededError) as exc:
        mapped = translate(exc, operation, where)
        if mapped is None:
            raise
        raise mapped from exc


# ---------------------------------------------------------------- Route 53
# Route 53 says "zone missing" and "busy" with codes S3 never uses; they are read first and
# everything else falls through to `translate`, so the S3 mapping above is unchanged.
_ROUTE53_THROTTLED = frozenset({"Throttling", "PriorRequestNotComplete"})
_ROUTE53_INVALID = frozenset({"InvalidChangeBatch", "InvalidInput", "InvalidDomainName"})


def translate_route53(exc: BaseException, operation: str, where: str) -> FailoverError | None:
    """Like `translate`, but a missing hosted zone is a `ConfigError` (the adapter was pointed
    at a zone that does not exist: no other attempt will find it), and Route 53's
    "a change is still in progress" is `Throttled` (it passes; the caller may try again)."""
    if isinstance(exc, bce.ClientError):
        code, status = error_code(exc), _status(exc)
        detail = redact(str(exc.response.get("Error", {}).get("Message", "") or ""))
        msg = f"{operation} {where}: {code} (HTTP {status or '?'})" + (f": {detail}" if detail else "")
        if code in ("NoSuchHostedZone", "HostedZoneNotFound"):
            return ConfigError(msg, operation=operation)
        if code in _ROUTE53_THROTTLED:
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            return Throttled(msg, operation=operation, retry_after=parse_retry_after(headers.get("retry-after")))
        if code in _ROUTE53_INVALID:
            return InvalidRequest(msg, operation=operation)
    return translate(exc, operation, where)


@contextmanager
def map_route53_errors(operation: str, where: str) -> Iterator[None]:
    """`map_errors` for Route 53 (see `translate_route53`)."""
    try:
        yield
    except (bce.BotoCoreError, bce.ClientError) as exc:
        mapped = translate_route53(exc, operation, where)
        if mapped is None:
            raise
        raise mapped from exc
