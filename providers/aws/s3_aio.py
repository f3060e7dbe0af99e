"""Amazon S3 (and S3-compatible endpoints) as an `AsyncObjectStore`, on aiobotocore.

The async twin of `failover.providers.aws.s3.S3Store`: the same requests, the same rules
(`failover.providers._objects`), the same error boundary (`failover.providers.aws._client.
map_errors`: aiobotocore raises botocore's exceptions) and the same client configuration
(`client_config`: one attempt, short timeouts, no wait for ``100 Continue``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
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
from failover.providers._aio import LoopClient, verified_chunks
from failover.providers._common import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_prefix,
    check_timeout,
    safe_url,
    timestamp,
)
from failover.providers._objects import prepare_write, stored_digest, verify
from failover.providers.aws._client import _no_continue_wait, client_config, error_code, map_errors
from failover.providers.aws.s3 import MAX_SINGLE_COPY, MAX_SINGLE_PUT, _etag, _info, validate_bucket_name


class AsyncS3Store:
    """Objects in one S3 bucket, for `failover.aio.FailoverStorage`.

    ``AsyncS3Store(bucket, region=..., endpoint_url=...)``; credentials come from
    ``session`` (default: a new aiobotocore ``AioSession``, i.e. the standard credential
    chain).  The client is made on the first call, inside the running loop, and closed by
    `close` (or ``async with store:``).  A put is one PutObject and a copy one CopyObject,
    so each takes at most 5 GiB (`Unsupported` above): aiobotocore has no managed transfer.
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
        """One PutObject: ``if_match`` → ``IfMatch``, ``if_absent`` → ``IfNoneMatch='*'``."""
        write = prepare_write(key, data, content_type, metadata, if_match, if_absent, limit=("S3", 2048))
        if write.body.size > MAX_SINGLE_PUT:
            raise Unsupported(
                f"put {self._where(key)}: the async adapter sends one PutObject, at most {MAX_SINGLE_PUT} bytes; "
                f"this body is {write.body.size}",
                operation="put",
            )
        extra: dict[str, Any] = {"Metadata": write.stored, "ContentType": write.content_type}
        if if_match is not None:
            extra["IfMatch"] = if_match
        if if_absent:
            extra["IfNoneMatch"] = "*"
        body = write.body.stream.read()
        client = await self._client.get()
        with map_errors("put", self._where(key), conditional=if_match is not None or if_absent):
            resp = await client.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)
        return write.info(key, _etag(resp.get("ETag")))

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
        """Close the client and its connections; a later call opens a new one."""
        await self._client.close()

    async def __aenter__(self) -> AsyncS3Store:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


__all__ = ["AsyncS3Store"]
