"""boto3 client creation, and the one boundary where every AWS adapter's errors become
`failover.errors` (`TABLE`, read as providers/_errors.py says).

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
from types import MappingProxyType
from typing import Any

from failover.providers._sdk import missing_sdk

try:
    import boto3
    import botocore.exceptions as bce
    from boto3.exceptions import RetriesExceededError, S3UploadFailedError
    from botocore.config import Config
    from botocore.handlers import add_expect_header
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
    Throttled,
    Timeout,
    Unavailable,
)
from failover.providers._common import parse_retry_after, redact
from failover.providers._errors import Answer, ErrorTable, by_code

# AWS's error codes (S3, EC2 and Route 53 share one namespace: none uses another's codes
# for something else).  A bodiless answer (HEAD) has its status as its code: see `_answer`.
CODES = by_code(
    {
        NotFound: (
            "NoSuchKey",
            "NoSuchBucket",
            "NoSuchUpload",
            "NotFound",
            "NoSuchVersion",
            "InvalidInstanceID.NotFound",
        ),
        PermissionDenied: (
            "AccessDenied",
            "Forbidden",
            "AllAccessDisabled",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccountProblem",
            "ExpiredToken",  # a 400
            "InvalidToken",  # a 400
            "InvalidSecurity",
            "UnauthorizedAccess",
            "UnauthorizedOperation",  # EC2: the IAM policy lacks the action
            "AuthFailure",  # EC2: bad or missing credentials
        ),
        # S3's 409s are taken bucket names (AlreadyExists) or a conflicting operation in
        # progress (PreconditionFailed), whatever the request.
        AlreadyExists: ("BucketAlreadyExists", "BucketAlreadyOwnedByYou", "HostedZoneAlreadyExists"),
        PreconditionFailed: (
            "PreconditionFailed",
            "ConditionalRequestConflict",  # 409: a concurrent conditional write
            "OperationAborted",  # 409: a conflicting conditional operation is in progress
            "IncorrectInstanceState",  # EC2, a 400
        ),
        Throttled: (
            "SlowDown",
            "Throttling",  # EC2 and Route 53: a 400
            "ThrottlingException",
            "ThrottledException",
            "RequestThrottled",
            "RequestThrottledException",
            "TooManyRequestsException",
            "RequestLimitExceeded",
            "ProvisionedThroughputExceededException",
            "BandwidthLimitExceeded",
            "ServiceUnavailable",
            "PriorRequestNotComplete",  # Route 53: a change is still in progress; it passes
        ),
        Timeout: ("RequestTimeout", "RequestTimeoutException"),  # S3's RequestTimeout is a 400
        # EC2 is out of capacity for that type in that zone: temporary, another region may have it.
        Unavailable: ("InsufficientInstanceCapacity", "InsufficientHostCapacity", "InsufficientCapacity"),
        # Route 53: the adapter names a zone that does not exist; no other attempt will find it.
        ConfigError: ("NoSuchHostedZone", "HostedZoneNotFound"),
        InvalidRequest: ("InvalidChangeBatch", "InvalidInput", "InvalidDomainName"),
    }
)

TABLE = ErrorTable(
    cloud="AWS",
    codes=CODES,
    # S3 answers If-Match on a missing key with NoSuchKey: the condition failed.
    conditional=by_code({PreconditionFailed: ("NoSuchKey",)}),
    exceptions=(
        ((bce.ConnectTimeoutError, bce.ReadTimeoutError), Timeout),
        ((bce.FlexibleChecksumError, bce.ChecksumError), IntegrityError),
        (bce.ParamValidationError, InvalidRequest),
        # Missing credentials: this target's failure until someone fixes its configuration.
        ((bce.NoCredentialsError, bce.PartialCredentialsError), PermissionDenied),
        # The credential endpoint (IMDS, SSO, STS) failed to answer: that can pass.
        ((bce.CredentialRetrievalError, bce.TokenRetrievalError, bce.MetadataRetrievalError), Unavailable),
        # EndpointConnectionError covers refused connections and DNS resolution failures.
        (
            (
                bce.EndpointConnectionError,
                bce.ConnectionError,
                bce.HTTPClientError,
                bce.IncompleteReadError,
                bce.ResponseStreamingError,
                RetriesExceededError,
            ),
            Unavailable,
        ),
        ((bce.NoRegionError, bce.UnknownEndpointError, bce.InvalidRegionError), InvalidRequest),
    ),
    hints=MappingProxyType(
        {
            "InvalidBucketName": "bucket names: 3-63 characters of lowercase letters, digits, '.' and '-',"
            " starting and ending with a letter or digit",
        }
    ),
)


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
            client = session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
            return _no_continue_wait(client)
        except ValueError:
            # botocore's message repeats the URL as given, credentials and all: not ours.
            raise ConfigError("endpoint_url is not a valid URL: scheme://host[:port] expected") from None


def _no_continue_wait(client: Any) -> Any:
    """``client`` without botocore's ``Expect: 100-continue`` on S3 uploads.

    botocore waits for the "100 Continue" a fixed second, outside its read timeout, so an
    upload to a region that accepts connections and never answers took the attempt
    timeout plus a second (measured: 1.51 s for a 0.5 s attempt).  Without the header the
    body follows the headers at once and the read timeout bounds the whole request; the
    price is uploading a body the server may then refuse, which for an object store's
    own errors (a missing bucket, a failed precondition) is the exception."""
    if client.meta.service_model.service_name == "s3":
        client.meta.events.unregister("before-call.s3", add_expect_header)
    return client


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
                client = _no_continue_wait(
                    self._session.client(
                        self._service, region_name=self._region, endpoint_url=self._endpoint_url, config=config
                    )
                )
            self._cut[step] = client
            if len(self._cut) > MAX_DEADLINE_CLIENTS:
                # Dropped, not closed: a thread may still be using it; its pool goes with it.
                self._cut.popitem(last=False)
            return client


def error_code(exc: bce.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _answer(exc: bce.ClientError) -> Answer:
    meta = exc.response.get("ResponseMetadata", {})
    code = error_code(exc)
    # botocore names a bodiless answer (a HEAD's) by its status: "404".
    status = int(meta.get("HTTPStatusCode", 0) or 0) or (int(code) if code.isdigit() else 0)
    return Answer(
        status,
        code,
        label=code,
        detail=redact(str(exc.response.get("Error", {}).get("Message", "") or "")),
        retry_after=parse_retry_after(meta.get("HTTPHeaders", {}).get("retry-after")),
    )


def translate(exc: BaseException, operation: str, where: str, *, conditional: bool = False) -> FailoverError | None:
    """The `failover.errors` equivalent of a boto3/botocore exception, or None if not one.
    ``conditional``: the call was a conditional write (see `TABLE`)."""
    if isinstance(exc, S3UploadFailedError):
        # boto3 re-raises ClientErrors from managed uploads as this, keeping only the text;
        # the original is still the implicit __context__.
        inner = exc.__cause__ or exc.__context__
        mapped = None if inner is None or inner is exc else translate(inner, operation, where, conditional=conditional)
        if mapped is not None:
            return mapped
        return Unavailable(f"{operation} {where}: {type(exc).__name__}: {redact(str(exc))}", operation=operation)
    if isinstance(exc, bce.ClientError):
        return TABLE.from_answer(_answer(exc), operation, where, conditional=conditional)
    return TABLE.from_exception(exc, operation, where)


@contextmanager
def map_errors(operation: str, where: str, *, conditional: bool = False) -> Iterator[None]:
    """Re-raise SDK errors as `failover.errors` (``raise ... from exc``); others pass through.

    Every AWS adapter's one boundary.  ``where`` names the bucket/key, zone or instance for
    the message; the target name is filled in by the router (`failover.errors.classify`),
    which knows it.
    """
    try:
        yield
    except (bce.BotoCoreError, bce.ClientError, S3UploadFailedError, RetriesExceededError) as exc:
        mapped = translate(exc, operation, where, conditional=conditional)
        if mapped is None:
            raise
        raise mapped from exc
