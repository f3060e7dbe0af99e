"""Async puts of big files stream on the real local servers: through the async facade, a
file above each adapter's threshold for a streamed upload round-trips byte for byte with
its checksum, while at most a part of it is in memory; an S3 multipart upload that fails
or is cancelled midway is aborted, leaving no upload behind."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tracemalloc
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from failover import Target
from failover.aio import FailoverStorage
from failover.errors import NotFound
from failover.providers.aws import AsyncS3Store
from failover.providers.azure import AsyncBlobStore, blob_aio
from failover.providers.gcp import AsyncGCSStore
from failover.testing.servers import azurite_connection_string
from tests.integration.servers import LocalServer, alive, raw_blob_service, raw_gcs_client, raw_s3_client, unique

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("loopback_env"),
    # The aio Azure client sends a body up to its single-put size as bytes (docs/async.md).
    pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning"),
]

MiB = 1024 * 1024
# Above S3's 16 MiB multipart threshold (5 parts of 8 MiB), GCS's 8 MiB resumable one, and
# the 4 MiB single-put size the Azure test sets: 9 blocks of 4 MiB.
SIZE = 36 * MiB
# A streamed upload holds about a part (S3's 8 MiB) at once; reading the file whole, all of it.
MEMORY_BOUND = SIZE // 2
# Where a failing file fails: past S3's first part of 8 MiB (boto3's part size), and past
# the 8 MiB GCS sends in one request.
MIDWAY = 8 * MiB


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    data = os.urandom(SIZE)
    path = tmp_path_factory.mktemp("streamed") / "big.bin"
    path.write_bytes(data)
    return path, data


def s3_store(server: LocalServer) -> AsyncS3Store:
    bucket = unique("stream")
    with closing(raw_s3_client(server)) as s3:
        s3.create_bucket(Bucket=bucket)
    return AsyncS3Store(bucket, region="us-east-1", endpoint_url=server.endpoint)


def in_progress(server: LocalServer, bucket: str) -> list[dict[str, Any]]:
    """The bucket's multipart uploads that were neither completed nor aborted."""
    with closing(raw_s3_client(server)) as s3:
        uploads: list[dict[str, Any]] = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads


async def peak_memory(call: Callable[[], Awaitable[object]]) -> int:
    """The most bytes Python held at once while ``call`` ran, beyond what it held before."""
    tracemalloc.start()
    try:
        await call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def round_trip(store: Any, path: Path, data: bytes) -> tuple[int, Any]:
    """Put ``path`` through the async facade over ``store``; check what comes back."""
    storage = FailoverStorage([Target("only", store)])
    try:
        await store.probe()  # the client, opened (and the SDK's models loaded) before measuring
        with path.open("rb") as file:
            peak = await peak_memory(lambda: storage.put("big/file.bin", file, content_type="application/x-test"))
        head = await storage.head("big/file.bin")
        assert (head.size, head.checksum, head.content_type) == (len(data), sha256(data), "application/x-test")
        assert await storage.get("big/file.bin") == data  # the adapter verifies the stored checksum
        return peak, head
    finally:
        await store.close()


def test_a_big_file_goes_to_s3_as_a_multipart_upload_read_part_by_part(
    moto_east: LocalServer, big_file: tuple[Path, bytes]
) -> None:
    path, data = big_file
    server = alive(moto_east)
    store = s3_store(server)
    peak, head = asyncio.run(round_trip(store, path, data))
    assert head.etag.endswith('-5"')  # S3's ETag of an object uploaded in 5 parts
    assert peak < MEMORY_BOUND
    assert in_progress(server, store.bucket) == []


def test_a_big_conditional_put_to_s3_stays_one_put_object(moto_east: LocalServer, big_file: tuple[Path, bytes]) -> None:
    path, data = big_file
    store = s3_store(alive(moto_east))

    async def scenario() -> Any:
        try:
            with path.open("rb") as file:
                return await store.put("big/once.bin", file, if_absent=True)
        finally:
            await store.close()

    info = asyncio.run(scenario())
    assert info.etag == f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'  # one part: the MD5


class FailingMidway(io.BytesIO):
    """A file whose read fails (``OSError``, with ``fail``) once an upload reads past
    `MIDWAY`, after it has been read to its end once (the checksum's pass); ``reached``
    is set then."""

    def __init__(self, data: bytes, *, fail: bool) -> None:
        super().__init__(data)
        self.fail = fail
        self.hashed = False
        self.reached = asyncio.Event()

    def read(self, size: int | None = -1) -> bytes:
        if self.hashed and self.tell() >= MIDWAY:
            self.reached.set()
            if self.fail:
                raise OSError("the disk went away")
        chunk = super().read(size)
        if not chunk:
            self.hashed = True
        return chunk


async def fails_midway(store: Any, file: FailingMidway) -> None:
    """A put of ``file``, which fails as it is read: the error is the file's, no object is
    left, and the failure came midway (after the read that was to fail)."""
    try:
        with pytest.raises(OSError, match="the disk went away"):
            await store.put("big/failed.bin", file)
        with pytest.raises(NotFound):
            await store.head("big/failed.bin")
    finally:
        await store.close()
    assert file.reached.is_set()


def test_a_multipart_upload_whose_file_fails_midway_is_aborted(moto_east: LocalServer) -> None:
    server = alive(moto_east)
    store = s3_store(server)
    file = FailingMidway(os.urandom(SIZE), fail=True)

    asyncio.run(fails_midway(store, file))
    assert in_progress(server, store.bucket) == []


def test_a_multipart_upload_cancelled_midway_is_aborted(moto_east: LocalServer) -> None:
    server = alive(moto_east)
    store = s3_store(server)
    file = FailingMidway(os.urandom(SIZE), fail=False)
    seen: list[list[dict[str, Any]]] = []

    async def scenario() -> None:
        try:
            put = asyncio.create_task(store.put("big/cancelled.bin", file))
            reached = asyncio.create_task(file.reached.wait())
            await asyncio.wait({put, reached}, return_when=asyncio.FIRST_COMPLETED)
            assert file.reached.is_set(), "the put ended before reading its second part"
            seen.append(in_progress(server, store.bucket))  # the upload, created and not yet finished
            put.cancel()
            with pytest.raises(asyncio.CancelledError):
                await put
            with pytest.raises(NotFound):
                await store.head("big/cancelled.bin")
        finally:
            await store.close()

    asyncio.run(scenario())
    assert [upload["Key"] for upload in seen[0]] == ["big/cancelled.bin"]
    assert in_progress(server, store.bucket) == []


class SmallPuts(blob_aio.BlobServiceClient):  # type: ignore[misc]
    """The aio client with a single put of 4 MiB at most, in 4 MiB blocks above (the SDK's
    defaults are 64 MiB and 4 MiB), so a 20 MiB file is staged in blocks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, max_single_put_size=4 * MiB, max_block_size=4 * MiB, **kwargs)


def test_a_big_file_goes_to_azure_in_blocks(
    azurite: LocalServer, big_file: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = big_file
    server = alive(azurite)
    container = unique("stream")
    with raw_blob_service(server) as blob:
        blob.create_container(container)
    monkeypatch.setattr(blob_aio, "BlobServiceClient", SmallPuts)
    store = AsyncBlobStore(container=container, connection_string=azurite_connection_string(server))
    peak, _ = asyncio.run(round_trip(store, path, data))
    assert peak < MEMORY_BOUND
    with raw_blob_service(server) as blob:
        committed, _ = blob.get_blob_client(container, "big/file.bin").get_block_list("committed")
    assert len(committed) == 9


def test_a_big_file_goes_to_gcs_as_a_resumable_upload_streamed(
    fake_gcs: LocalServer, big_file: tuple[Path, bytes]
) -> None:
    path, data = big_file
    server = alive(fake_gcs)
    bucket = unique("stream")
    with closing(raw_gcs_client(server)) as gcs:
        gcs.create_bucket(bucket)
    store = AsyncGCSStore(bucket, api_root=server.endpoint)
    peak, _ = asyncio.run(round_trip(store, path, data))
    assert peak < MEMORY_BOUND


def test_a_resumable_upload_whose_file_fails_midway_leaves_no_object(fake_gcs: LocalServer) -> None:
    server = alive(fake_gcs)
    bucket = unique("stream")
    with closing(raw_gcs_client(server)) as gcs:
        gcs.create_bucket(bucket)
    store = AsyncGCSStore(bucket, api_root=server.endpoint)
    file = FailingMidway(os.urandom(SIZE), fail=True)

    asyncio.run(fails_midway(store, file))
