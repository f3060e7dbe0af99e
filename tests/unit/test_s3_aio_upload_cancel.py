"""An async S3 multipart upload cancelled while S3 is still creating it leaves no upload
behind: the put waits for the upload's id, then aborts it (cancelled again, it stops
waiting and the abort follows the id when it comes), and `close` lets that abort end.

The SDK client is a stand-in that answers when the test says so: what is under test is
the order of the adapter's requests around a cancellation, which no server can time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from failover.providers.aws import AsyncS3Store
from failover.providers.aws.s3 import MULTIPART_THRESHOLD

BODY = b"x" * (MULTIPART_THRESHOLD + 1)


class SlowToCreate:
    """An aiobotocore S3 client whose ``create_multipart_upload`` reaches S3 (``asked``)
    and answers only once ``answer`` is set; it records every request by name."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.answer = asyncio.Event()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def create_multipart_upload(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("create_multipart_upload", request))
        self.asked.set()
        await self.answer.wait()
        return {"UploadId": "upload-1"}

    async def abort_multipart_upload(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("abort_multipart_upload", request))
        return {}

    async def upload_part(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("upload_part", request))
        return {"ETag": '"part"'}


class Handed:
    """Stands in for the store's `LoopClient`: hands out ``client``."""

    def __init__(self, client: SlowToCreate) -> None:
        self.client = client
        self.closed = False

    async def get(self) -> SlowToCreate:
        return self.client

    async def close(self) -> None:
        self.closed = True


def store_with(client: SlowToCreate) -> AsyncS3Store:
    store = AsyncS3Store("bucket", region="us-east-1", endpoint_url="http://127.0.0.1:9")
    store._client = Handed(client)  # type: ignore[assignment]
    return store


def aborted(client: SlowToCreate) -> list[dict[str, Any]]:
    return [request for name, request in client.calls if name == "abort_multipart_upload"]


async def put_cancelled_during_create(store: AsyncS3Store, client: SlowToCreate) -> asyncio.Task[Any]:
    """A put of `BODY`, cancelled once while S3 creates its upload; the cancellation delivered."""
    put = asyncio.create_task(store.put("big/file.bin", BODY))
    await client.asked.wait()
    put.cancel()
    await asyncio.sleep(0)  # a yield, no wait: the put hears of it while S3 has not answered
    return put


def test_a_put_cancelled_while_its_upload_is_created_aborts_the_upload_once_created() -> None:
    client = SlowToCreate()
    store = store_with(client)

    async def scenario() -> None:
        put = await put_cancelled_during_create(store, client)
        assert not put.done(), "the put gave up before it knew which upload to abort"
        client.answer.set()
        with pytest.raises(asyncio.CancelledError):
            await put

    asyncio.run(scenario())
    assert aborted(client) == [{"Bucket": "bucket", "Key": "big/file.bin", "UploadId": "upload-1"}]
    assert [name for name, _ in client.calls].count("upload_part") == 0


def test_a_put_cancelled_twice_stops_waiting_and_close_lets_the_abort_end() -> None:
    client = SlowToCreate()
    store = store_with(client)

    async def scenario() -> None:
        put = await put_cancelled_during_create(store, client)
        put.cancel()  # the caller will not wait for S3's answer
        with pytest.raises(asyncio.CancelledError):
            await put
        assert aborted(client) == []  # no id yet: nothing could be aborted
        client.answer.set()
        await store.close()  # waits for the abort that follows the id

    asyncio.run(scenario())
    assert aborted(client) == [{"Bucket": "bucket", "Key": "big/file.bin", "UploadId": "upload-1"}]
