"""Amazon S3 (and S3-compatible endpoints) as an `AsyncObjectStore`, on aiobotocore.

The async twin of `failover.providers.aws.s3.S3Store`: the same requests, the same rules
(`failover.providers._objects`), the same error boundary (`failover.providers.aws._client.
map_errors`: aiobotocore raises botocore's exceptions) and the same client configuration
(`client_config`: one attempt, short timeouts, no wait for ``100 Continue``).

A put above `MULTIPART_THRESHOLD` (the sync adapter's) is a multipart upload: aiobotocore
has no managed transfer, so the adapter makes one itself, reading its parts from the body
one at a time (`part_size`) and sending them in turn, so at most one part is in memory.
An upload that fails or is cancelled midway is aborted.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, BinaryIO

from failover.providers._sdk import missing_sdk

try:
    from aiobotocore.session import AioSession
    from botocore.exceptions import ClientError
except ImportError as exc:
    raise missing_sdk(__name__, "s3-aio", exc) from exc

from failover.capabilities import ObjectInfo, validate_chunk_size, validate_key, validate_range
from failover.errors import ConfigError, Unsupported
from failover.providers._aio import LoopClient, body_parts, created, prepared_write, shielded, verified_chunks
from failover.providers._common import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_prefix,
    check_timeout,
    safe_url,
    timestamp,
)
from failover.providers._objects import CHUNK_SIZE, Body, Write, stored_digest, verify
from failover.providers.aws._client import _no_continue_wait, client_config, error_code, map_errors
from failover.providers.aws.s3 import (
    MAX_SINGLE_COPY,
    MAX_SINGLE_PUT,
    MULTIPART_THRESHOLD,
    _etag,
    _info,
    validate_bucket_name,
)

# The part size of a multipart upload: boto3's default (``TransferConfig.multipart_chunksize``),
# which the sync adapter's managed upload uses.  S3 takes parts of 5 MiB to 5 GiB (the last
# one smaller), at most `MAX_PARTS` of them.
PART_SIZE = 8 * 1024 * 1024
# Parts are read from the body in pieces of this size, into a buffer of the part's size.
PIECE_SIZE = CHUNK_SIZE
MAX_PARTS = 10_000
MAX_PART_SIZE = 5 * 1024**3


def part_size(size: int) -> int:
    """The part size for a body of ``size`` bytes: `PART_SIZE`, doubled until the body fits
    in `MAX_PARTS` parts, as boto3 adjusts it."""
    chosen = PART_SIZE
    while chosen * MAX_PARTS < size and chosen < MAX_PART_SIZE:
        chosen = min(chosen * 2, MAX_PART_SIZE)
    return chosen


class AsyncS3Store:
    """Objects in one S3 bucket, for `failover.aio.FailoverStorage`.

    ``AsyncS3Store(bucket, region=..., endpoint_url=...)``; credentials come from
    ``session`` (default: a new aiobotocore ``AioSession``, i.e. the standard credential
    chain).  The client is made on the first call, inside the running loop, and closed by
    `close` (or ``async with store:``).  A put above `MULTIPART_THRESHOLD` is a multipart
    upload, streamed from the body; a conditional put is one PutObject and a copy one
    CopyObject, so each takes at most 5 GiB (`Unsupported` above).
    """

    def __init__(
        self,
        bucket: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        session: AioSession | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.bucket = validate_bucket_name(bucket)
        check_timeout("connect_timeout", connect_timeout)
        check_timeout("read_timeout", read_timeout)
        if session is not None and not isinstance(session, AioSession):
            raise ConfigError(f"session must be an aiobotocore AioSession, not {type(session).__name__}")
        self.region = region
        self.endpoint_url = endpoint_url
        self._session = session
        self._timeouts = (float(connect_timeout), float(read_timeout))
        self._client: LoopClient[Any] = LoopClient(self._open, owner=repr(self))
        self._aborting: set[asyncio.Task[Any]] = set()  # aborts outliving a cancelled put

    def __repr__(self) -> str:
        endpoint = safe_url(self.endpoint_url)
        return f"AsyncS3Store(bucket={self.bucket!r}, region={self.region!r}, endpoint_url={endpoint!r})"

    async def _open(self, stack: AsyncExitStack) -> Any:
        # Our own session, never a shared default one, as in the sync adapter.
        session = self._session if self._session is not None else AioSession()
        connect, read = self._timeouts
        config = client_config(connect_timeout=connect, read_timeout=read)
        with map_errors("connect", "s3 client"):
            try:
                creating = session.create_client(
                    "s3", region_name=self.region, endpoint_url=self.endpoint_url, config=config
                )
                client = await stack.enter_async_context(creating)
            except ValueError:
                # botocore's message repeats the URL as given, credentials and all: not ours.
                raise ConfigError("endpoint_url is not a valid URL: scheme://host[:port] expected") from None
        return _no_continue_wait(client)

    def _where(self, key: str | None = None) -> str:
        return f"s3://{self.bucket}/{key}" if key is not None else f"s3://{self.bucket}"

    # ------------------------------------------------------------------ AsyncObjectStore

    async def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_match: str | None = None,
        if_absent: bool = False,
    ) -> ObjectInfo:
        """``if_match`` → ``IfMatch``, ``if_absent`` → ``IfNoneMatch='*'``; a conditional put is
        always one PutObject, so at most `MAX_SINGLE_PUT` bytes, as in `S3Store`.  An
        unconditional body above `MULTIPART_THRESHOLD` is a multipart upload (`_multipart`)."""
        write = await prepared_write(key, data, content_type, metadata, if_match, if_absent, limit=("S3", 2048))
        body = write.body
        conditional = if_match is not None or if_absent
        if conditional and body.size > MAX_SINGLE_PUT:
            raise Unsupported(
                f"put {self._where(key)}: a conditional put (if_match / if_absent) is one PutObject, "
                f"at most {MAX_SINGLE_PUT} bytes; this body is {body.size}",
                operation="put",
            )
        extra: dict[str, Any] = {"Metadata": write.stored, "ContentType": write.content_type}
        if if_match is not None:
            extra["IfMatch"] = if_match
        if if_absent:
            extra["IfNoneMatch"] = "*"
        client = await self._client.get()
        if conditional or body.size <= MULTIPART_THRESHOLD:
            # One request, its body read into memory first (a conditional one's too).
            where = self._where(key)
            sending = _buffer(_pieces(body, where), body.size)
            with map_errors("put", where, conditional=conditional):
                resp = await client.put_object(Bucket=self.bucket, Key=key, Body=sending, **extra)
            return write.info(key, _etag(resp.get("ETag")))
        await self._multipart(client, key, write, extra)
        # The ETag of a multipart object is not an MD5: read it back with a head, as S3Store does.
        return await self._head(key, "put")

    async def _multipart(self, client: Any, key: str, write: Write, extra: Mapping[str, Any]) -> None:
        """Create the upload, send the body's parts one after the other, complete it; on any
        error or a cancellation, abort it (`shielded`: to its end, whatever the caller
        does), so no upload is left holding the parts sent.  An upload whose creation is
        cancelled is aborted once S3 has said which it is (`created`)."""
        where = self._where(key)

        def abort(made: Mapping[str, Any]) -> Coroutine[Any, Any, object]:
            return client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=made["UploadId"])  # type: ignore[no-any-return]

        with map_errors("put", where):
            creating = client.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
            made = await created(creating, abort, self._aborting)
        upload = {"Bucket": self.bucket, "Key": key, "UploadId": made["UploadId"]}
        try:
            parts: list[dict[str, Any]] = []
            size, left = part_size(write.body.size), write.body.size
            pieces = _pieces(write.body, where)
            while left > 0:
                part = _buffer(pieces, min(size, left))
                left -= min(size, left)
                with map_errors("put", where):
                    sent = await client.upload_part(PartNumber=len(parts) + 1, Body=part, **upload)
                parts.append({"PartNumber": len(parts) + 1, "ETag": sent["ETag"]})
                del part  # one part in memory at a time
            with map_errors("put", where):
                await client.complete_multipart_upload(MultipartUpload={"Parts": parts}, **upload)
        except BaseException:
            await shielded(abort(made), self._aborting)
            raise

    async def get(self, key: str) -> bytes:
        validate_key(key)
        where = self._where(key)
        client = await self._client.get()
        with map_errors("get", where):
            resp = await client.get_object(Bucket=self.bucket, Key=key)
            async with resp["Body"] as stream:
                data: bytes = await stream.read()
        return verify(data, stored_digest(resp.get("Metadata")), where=where)

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """One GetObject, sent on the first ``__anext__`` (`NotFound` there) and read as the
        caller iterates; closing the iterator early closes the body and its connection."""
        validate_key(key)
        validate_chunk_size(chunk_size)
        return self._stream(key, chunk_size)

    async def _stream(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        where = self._where(key)
        client = await self._client.get()
        with map_errors("get_stream", where):
            resp = await client.get_object(Bucket=self.bucket, Key=key)
            async with resp["Body"] as body:
                chunks = verified_chunks(
                    body.iter_chunks(chunk_size),
                    stored_digest(resp.get("Metadata")),
                    chunk_size=chunk_size,
                    where=where,
                )
                async for chunk in chunks:
                    yield chunk

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        validate_key(key)
        validate_range(start, end)
        if start == end:
            await self._head(key, "get_range")  # an empty range of a missing object is still NotFound
            return b""
        client = await self._client.get()
        with map_errors("get_range", self._where(key)):
            try:
                resp = await client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}")
            except ClientError as exc:
                if error_code(exc) == "InvalidRange":  # start at or past the end of the object
                    return b""
                raise
            async with resp["Body"] as stream:
                data: bytes = await stream.read()
        return data

    async def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        return await self._head(key, "head")

    async def _head(self, key: str, operation: str) -> ObjectInfo:
        client = await self._client.get()
        with map_errors(operation, self._where(key)):
            resp = await client.head_object(Bucket=self.bucket, Key=key)
        return _info(key, resp)

    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        return self._list(check_prefix(prefix))

    async def _list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        # ListObjectsV2: UTF-8 binary order, 1000 a page, each page fetched as the caller
        # iterates; it carries no user metadata, so no checksum either (as in S3Store).
        client = await self._client.get()
        with map_errors("list", f"{self._where()}/{prefix}*"):
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            async for page in pages:
                for obj in page.get("Contents", ()):
                    yield ObjectInfo(
                        key=obj["Key"],
                        size=int(obj.get("Size", 0)),
                        etag=_etag(obj.get("ETag")),
                        modified=timestamp(obj.get("LastModified")),
                    )

    async def delete(self, key: str) -> None:
        validate_key(key)
        client = await self._client.get()
        # S3 answers 204 for a missing key; a missing bucket is still NotFound.
        with map_errors("delete", self._where(key)):
            await client.delete_object(Bucket=self.bucket, Key=key)

    async def copy(self, src: str, dst: str) -> ObjectInfo:
        validate_key(src)
        validate_key(dst)
        source = await self._head(src, "copy")
        where = f"{self._where(src)} -> {dst}"
        if source.size > MAX_SINGLE_COPY:
            raise Unsupported(
                f"copy {where}: the async adapter sends one CopyObject, at most {MAX_SINGLE_COPY} bytes; "
                f"this object is {source.size}",
                operation="copy",
            )
        client = await self._client.get()
        with map_errors("copy", where):
            # Server-side; MetadataDirective COPY carries the checksum metadata along.
            resp = await client.copy_object(
                Bucket=self.bucket, Key=dst, CopySource={"Bucket": self.bucket, "Key": src}, MetadataDirective="COPY"
            )
        result = resp.get("CopyObjectResult", {})
        return ObjectInfo(
            key=dst,
            size=source.size,
            etag=_etag(result.get("ETag")),
            checksum=source.checksum,
            content_type=source.content_type,
            metadata=source.metadata,
            modified=timestamp(result.get("LastModified")),
            version=source.version,
        )

    # ------------------------------------------------------------------ health and lifecycle

    async def probe(self) -> None:
        """Raise a mapped error unless the bucket answers (HeadBucket: needs s3:ListBucket)."""
        client = await self._client.get()
        with map_errors("probe", self._where()):
            await client.head_bucket(Bucket=self.bucket)

    async def close(self) -> None:
        """Close the client and its connections, once the aborts of cancelled uploads
        still running on this loop have ended; a later call opens a new one."""
        loop = asyncio.get_running_loop()
        aborting = [task for task in self._aborting if task.get_loop() is loop]
        if aborting:
            await asyncio.wait(aborting)
        await self._client.close()

    async def __aenter__(self) -> AsyncS3Store:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def _pieces(body: Body, where: str) -> Iterator[bytes]:
    # Parts are multiples of PIECE_SIZE (but the last), so no piece straddles two parts.
    return body_parts(body, PIECE_SIZE, where=where)


def _buffer(pieces: Iterator[bytes], size: int) -> io.BytesIO:
    """The next ``size`` bytes of ``pieces`` in a BytesIO that owns its buffer, sized once:
    aiohttp sends a BytesIO without copying it, but copies one made over a bytes object
    (and warns that a large bytes body may hold the loop)."""
    buffer = io.BytesIO()
    if size:
        buffer.seek(size - 1)
        buffer.write(b"\0")
        buffer.seek(0)
    filled = 0
    while filled < size:
        # `body_parts` gives every byte of the body or raises: it never runs out first.
        piece = next(pieces)
        buffer.write(piece)
        filled += len(piece)
    buffer.seek(0)
    return buffer


__all__ = ["MAX_PARTS", "PART_SIZE", "AsyncS3Store", "part_size"]
