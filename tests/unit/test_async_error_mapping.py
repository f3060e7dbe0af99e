"""The async adapters' error boundaries, clients and arguments, with no server.

The async GCS boundary reads aiohttp's exceptions with Google's reasons and the shared
status table: for the same answer it must name the same error as the sync boundary does for
google-cloud-storage's exception.  The async S3 and Azure adapters use their cloud's sync
boundary, which must know the exceptions aiobotocore adds.  `LoopClient` opens one client
per store, inside the running loop, and closes what it opened.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import botocore.exceptions as bce
import google.api_core.exceptions as gexc
import pytest
from aiobotocore.response import AioReadTimeoutError
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from failover.errors import ConfigError, FailoverError, PreconditionFailed, Throttled, Timeout, Unavailable
from failover.providers._aio import LoopClient
from failover.providers.aws import AsyncS3Store
from failover.providers.aws import map_errors as aws_errors
from failover.providers.azure import AsyncBlobStore
from failover.providers.gcp import AsyncGCSStore
from failover.providers.gcp import map_errors as gcp_errors
from failover.providers.gcp.gcs_aio import map_errors as gcs_aio_errors

REQUEST = aiohttp.RequestInfo(URL("http://127.0.0.1:1/storage/v1/b/b/o/k"), "GET", CIMultiDictProxy(CIMultiDict()))


def gcloud_error(status: int, reason: str = "", headers: dict[str, str] | None = None) -> aiohttp.ClientResponseError:
    """What gcloud-aio-storage raises for an error answer: ``"<phrase>: <Google's JSON error>"``."""
    body = json.dumps({"error": {"code": status, "message": f"the {reason or status} answer", "errors": [
        {"domain": "global", "reason": reason, "message": "m"}]}})  # fmt: skip
    return aiohttp.ClientResponseError(
        REQUEST, (), status=status, message=f"Phrase: {body}", headers=CIMultiDictProxy(CIMultiDict(headers or {}))
    )


def raised(boundary: Any, exc: BaseException, operation: str = "get") -> FailoverError:
    with pytest.raises(FailoverError) as caught, boundary(operation, "gs://b/k"):
        raise exc
    assert caught.value.__cause__ is exc
    return caught.value


ANSWERS = [(404, ""), (404, "notFound"), (412, "conditionNotMet"), (409, "conflict"), (403, "forbidden"),
           (403, "rateLimitExceeded"), (429, "rateLimitExceeded"), (401, "required"), (400, "invalid"), (416, ""),
           (408, ""), (500, "backendError"), (503, ""), (502, "")]  # fmt: skip


@pytest.mark.parametrize(("status", "reason"), ANSWERS, ids=[f"{s}-{r or 'none'}" for s, r in ANSWERS])
@pytest.mark.parametrize("operation", ["get", "put", "create"])
def test_the_async_gcs_boundary_names_an_answer_as_the_sync_one_does(status: int, reason: str, operation: str) -> None:
    sync_exc = gexc.from_http_status(status, f"the {reason or status} answer", errors=[{"reason": reason}])
    expected = raised(gcp_errors, sync_exc, operation)
    got = raised(gcs_aio_errors, gcloud_error(status, reason), operation)
    assert (type(got), got.temporary, got.operation) == (type(expected), expected.temporary, operation)
    assert f"{operation} gs://b/k" in str(got) and f"HTTP {status}" in str(got)


def test_a_throttled_gcs_answer_keeps_its_retry_after_and_the_message_is_redacted() -> None:
    error = raised(gcs_aio_errors, gcloud_error(429, "rateLimitExceeded", {"Retry-After": "7"}))
    assert isinstance(error, Throttled) and error.retry_after == 7.0
    leaky = aiohttp.ClientResponseError(REQUEST, (), status=403, message="Forbidden: see https://x/?sig=SECRET1")
    assert "SECRET1" not in str(raised(gcs_aio_errors, leaky))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (aiohttp.ServerTimeoutError("read"), Timeout),
        (aiohttp.ConnectionTimeoutError("connect"), Timeout),
        (asyncio.TimeoutError(), Timeout),
        (aiohttp.ClientConnectorError(aiohttp.client_reqrep.ConnectionKey(
            "127.0.0.1", 1, False, True, None, None, None), ConnectionRefusedError(111, "refused")), Unavailable),
        (aiohttp.ServerDisconnectedError(), Unavailable),
        (aiohttp.ClientPayloadError("body cut short"), Unavailable),
        (aiohttp.ClientOSError(104, "reset"), Unavailable),
        (json.JSONDecodeError("not JSON", "<html>", 0), Unavailable),
    ],
    ids=["read-timeout", "connect-timeout", "timeout", "refused", "disconnected", "payload", "reset", "not-json"],
)  # fmt: skip
def test_a_gcs_failure_with_no_answer_is_named_by_aiohttps_class(exc: BaseException, expected: type) -> None:
    error = raised(gcs_aio_errors, exc)
    assert type(error) is expected and error.temporary


@pytest.mark.parametrize("exc", [KeyError("bug"), ValueError("bug"), asyncio.CancelledError()])
def test_what_is_not_the_sdks_passes_the_gcs_boundary_unchanged(exc: BaseException) -> None:
    with pytest.raises(type(exc)) as caught, gcs_aio_errors("get", "gs://b/k"):
        raise exc
    assert caught.value is exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (AioReadTimeoutError(endpoint_url="http://127.0.0.1:1"), Timeout),
        (bce.ResponseStreamingError(error=aiohttp.ClientPayloadError("cut")), Unavailable),
        (bce.ConnectionClosedError(endpoint_url="http://127.0.0.1:1"), Unavailable),
        (bce.HTTPClientError(error=aiohttp.ServerDisconnectedError()), Unavailable),
    ],
    ids=["aio-read-timeout", "body-cut", "closed", "client-error"],
)
def test_the_s3_boundary_knows_what_aiobotocore_raises(exc: BaseException, expected: type) -> None:
    assert type(raised(aws_errors, exc)) is expected


def test_the_s3_boundary_reads_a_conditional_no_such_key_as_a_failed_condition() -> None:
    answer = {"Error": {"Code": "NoSuchKey", "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": 404}}
    with pytest.raises(PreconditionFailed), aws_errors("put", "s3://b/k", conditional=True):
        raise bce.ClientError(answer, "PutObject")  # type: ignore[arg-type]


# ---------------------------------------------------------------- one client per store, per loop


class Opened:
    """A fake SDK client: counts openings, records closings in order."""

    def __init__(self) -> None:
        self.opened = 0
        self.closed: list[str] = []

    async def open(self, stack: AsyncExitStack) -> str:
        self.opened += 1
        await asyncio.sleep(0)  # a real opener awaits: a second first call comes in meanwhile
        stack.push_async_callback(self._close, "session")
        stack.push_async_callback(self._close, "client")
        return f"client-{self.opened}"

    async def _close(self, what: str) -> None:
        self.closed.append(what)


def test_concurrent_first_calls_open_one_client_and_close_closes_in_reverse() -> None:
    fake = Opened()
    client = LoopClient(fake.open, owner="store")

    async def main() -> list[str]:
        got = await asyncio.gather(*(client.get() for _ in range(5)))
        await client.close()
        await client.close()  # a no-op once closed
        return got

    assert asyncio.run(main()) == ["client-1"] * 5
    assert (fake.opened, fake.closed) == (1, ["client", "session"])
    assert not client.is_open


def test_a_failed_opening_closes_what_it_had_opened_and_the_next_call_tries_again() -> None:
    closed: list[str] = []

    async def failing(stack: AsyncExitStack) -> str:
        stack.push_async_callback(lambda: asyncio.sleep(0, closed.append("half-open")))
        raise ConfigError("no such endpoint")

    client = LoopClient(failing, owner="store")
    for _ in range(2):
        with pytest.raises(ConfigError):
            asyncio.run(client.get())
    assert closed == ["half-open", "half-open"]


def test_a_client_whose_loop_has_closed_is_dropped_and_a_new_one_opened() -> None:
    fake = Opened()
    client = LoopClient(fake.open, owner="store")
    assert asyncio.run(client.get()) == "client-1"  # its loop closes unclosed: the client goes with it
    assert asyncio.run(client.get()) == "client-2"
    asyncio.run(client.close())
    assert fake.closed == []  # the second client's loop had closed too: nothing left to close on


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: AsyncS3Store("Bad_Bucket"), "invalid bucket name"),
        (lambda: AsyncS3Store("bucket", read_timeout=0), "read_timeout"),
        (lambda: AsyncS3Store("bucket", session=object()), "session"),
        (lambda: AsyncBlobStore(container="ab"), "container"),
        (lambda: AsyncBlobStore(container="box", retry_total=-1), "retry_total"),
        (lambda: AsyncBlobStore(container="box"), "account_url"),
        (lambda: AsyncBlobStore("https://a.blob.core.windows.net", container="box", connection_string="x"), "either"),
        (lambda: AsyncGCSStore("goog-bucket"), "invalid bucket name"),
        (lambda: AsyncGCSStore("bucket", timeout=(1.0, -1.0)), "read timeout"),
        (lambda: AsyncGCSStore("bucket", api_root="127.0.0.1:4443"), "api_root"),
    ],
)
def test_bad_arguments_are_config_errors_naming_the_argument(make: Any, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        make()


def test_a_store_opens_nothing_until_its_first_call_and_its_repr_hides_credentials() -> None:
    store = AsyncS3Store("bucket", endpoint_url="http://user:secret@127.0.0.1:9/")
    assert not store._client.is_open
    assert "secret" not in repr(store)
    gcs = AsyncGCSStore("bucket", api_root="http://127.0.0.1:9")
    assert not gcs._client.is_open and "127.0.0.1:9" in repr(gcs)
