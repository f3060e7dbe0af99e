"""Azure Blob Storage as an `AsyncObjectStore`, on ``azure.storage.blob.aio`` (aiohttp).

The async twin of `failover.providers.azure.blob.BlobStore`: the same requests, the same
rules, the same error boundary (`failover.providers.azure._client.map_errors`: the aio
client raises azure-core's exceptions) and the same client configuration
(`configured_client`: ``retry_total`` retries, 0 by default, and short socket timeouts).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, BinaryIO

from failover.providers._sdk import missing_sdk

try:
    import aiohttp  # noqa: F401  # azure-core's aio transport needs it: fail here, naming the extra
    from azure.core import MatchConditions
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
    from azure.storage.blob import ContentSettings
    from azure.storage.blob.aio import BlobServiceClient, ContainerClient, LinearRetry
except ImportError as exc:
    raise missing_sdk(__name__, "azure-blob-aio", exc) from exc

from failover.capabilities import ObjectInfo, validate_chunk_size, validate_key, validate_range
from failover.errors import ConfigError, Timeout
from failover.providers._aio import LoopClient, prepared_write, verified_chunks
from failover.providers._common import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_prefix,
    check_timeout,
    safe_url,
)
from failover.providers._objects import stored_digest, verify
from failover.providers.azure._client import (
    DEFAULT_RETRY_TOTAL,
    configured_client,
    error_code,
    map_errors,
    needs_default_credential,
)
from failover.providers.azure.blob import (
    CHECKSUM_KEY,
    COPY_WAIT,
    METADATA_LIMIT,
    STREAM_WINDOW,
    _check_plain_http,
    _info,
    validate_container_name,
)


class AsyncBlobStore:
    """Blobs in one container, for `failover.aio.FailoverStorage`.

    Authentication as for `BlobStore`: ``connection_string``; else ``account_url`` with
    ``credential`` (an account key, a SAS, or an *async* TokenCredential from
    ``azure.identity.aio``) or a SAS in the URL; with neither,
    ``azure.identity.aio.DefaultAzureCredential``, which `close` closes too.  The client
    is made on the first call, inside the running loop, and closed by `close` (or
    ``async with store:``).
    """

    def __init__(
        self,
        account_url: str | None = None,
        *,
        container: str,
        credential: Any = None,
        connection_string: str | None = None,
        api_version: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retry_total: int = DEFAULT_RETRY_TOTAL,
    ) -> None:
        self.container = validate_container_name(container)
        check_timeout("connect_timeout", connect_timeout)
        check_timeout("read_timeout", read_timeout)
        if isinstance(retry_total, bool) or not isinstance(retry_total, int) or retry_total < 0:
            raise ConfigError(f"retry_total must be an int >= 0, not {retry_total!r}")
        _check_plain_http(account_url, credential, connection_string)
        if connection_string is not None and account_url is not None:
            raise ConfigError("give either account_url or connection_string, not both")
        if connection_string is None and not account_url:
            raise ConfigError("AsyncBlobStore needs account_url (or connection_string)")
        self._settings: dict[str, Any] = {
            "credential": credential,
            "connection_string": connection_string,
            "api_version": api_version,
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "retry_total": retry_total,
        }
        self._account_url = account_url
        # Every request names the timeouts too: a per-request value is what azure-core's
        # aiohttp transport reads first.
        self._call: dict[str, Any] = {"connection_timeout": float(connect_timeout), "read_timeout": float(read_timeout)}
        self.account_url = safe_url(account_url)
        self._account_name: str | None = None
        self._client: LoopClient[ContainerClient] = LoopClient(self._open, owner=repr(self))

    def __repr__(self) -> str:
        return f"AsyncBlobStore(account_url={self.account_url!r}, container={self.container!r})"

    async def _open(self, stack: AsyncExitStack) -> ContainerClient:
        settings = dict(self._settings)
        if needs_default_credential(self._account_url, settings["credential"], settings["connection_string"]):
            settings["credential"] = await stack.enter_async_context(_default_credential())
        service: BlobServiceClient = configured_client(BlobServiceClient, LinearRetry, self._account_url, **settings)
        await stack.enter_async_context(service)
        self.account_url = safe_url(service.url)
        self._account_name = service.account_name
        return service.get_container_client(self.container)

    def _where(self, key: str | None = None) -> str:
        base = f"azure://{self._account_name or '?'}/{self.container}"
        return f"{base}/{key}" if key is not None else base

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
        """``if_match`` → ``If-Match`` (412 ConditionNotMet), ``if_absent`` → ``If-None-Match: *``
        (409 BlobAlreadyExists)."""
        write = await prepared_write(
            key, data, content_type, metadata, if_match, if_absent, limit=METADATA_LIMIT, internal_key=CHECKSUM_KEY
        )
        condition: dict[str, Any] = {}
        if if_match is not None:
            condition = {"etag": if_match, "match_condition": MatchConditions.IfNotModified}
        container = await self._client.get()
        with map_errors("put", self._where(key)):
            resp = await container.get_blob_client(key).upload_blob(
                # A stream, not bytes: aiohttp warns that a large bytes body blocks the loop.
                write.body.stream,
                length=write.body.size,
                overwrite=not if_absent,  # overwrite=False is how the SDK sends If-None-Match: *
                metadata=write.stored,
                content_settings=ContentSettings(content_type=write.content_type),
                **condition,
                **self._call,
            )
        return write.info(key, resp.get("etag"), resp.get("last_modified"))

    async def get(self, key: str) -> bytes:
        validate_key(key)
        where = self._where(key)
        container = await self._client.get()
        with map_errors("get", where):
            # The downloader pins the blob's etag across its chunk requests, and its
            # properties (metadata included) come with the first response: no race.
            downloader = await container.download_blob(key, **self._call)
            data = await downloader.readall()
        return verify(data, stored_digest(downloader.properties.metadata, CHECKSUM_KEY), where=where)

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Properties on the first ``__anext__`` (`NotFound` there), then ranged downloads of
        that same version as the caller iterates: a blob replaced midway raises
        `PreconditionFailed`.  Memory stays about one window (``max(chunk_size,
        STREAM_WINDOW)``) whatever the blob's size, as in `BlobStore.get_stream`."""
        validate_key(key)
        validate_chunk_size(chunk_size)
        return self._stream(key, chunk_size)

    async def _stream(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        where = self._where(key)
        container = await self._client.get()
        with map_errors("get_stream", where):
            props = await container.get_blob_client(key).get_blob_properties(**self._call)
            window = max(chunk_size, STREAM_WINDOW)
            ranges = self._ranges(container, key, int(props.size or 0), props.etag, window)
            chunks = verified_chunks(
                ranges, stored_digest(props.metadata, CHECKSUM_KEY), chunk_size=chunk_size, where=where
            )
            async for chunk in chunks:
                yield chunk

    async def _ranges(self, container: Any, key: str, size: int, etag: str, window: int) -> AsyncIterator[bytes]:
        for offset in range(0, size, window):
            downloader = await container.download_blob(
                key,
                offset=offset,
                length=min(window, size - offset),
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
                **self._call,
            )
            yield await downloader.readall()

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        validate_key(key)
        validate_range(start, end)
        if start == end:
            await self._head(key, "get_range")  # an empty range of a missing blob is still NotFound
            return b""
        container = await self._client.get()
        with map_errors("get_range", self._where(key)):
            try:
                downloader = await container.download_blob(key, offset=start, length=end - start, **self._call)
                data: bytes = await downloader.readall()
                return data
            except HttpResponseError as exc:
                if error_code(exc) == "InvalidRange" or exc.status_code == 416:
                    return b""  # start at or past the end of the blob
                raise

    async def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        return await self._head(key, "head")

    async def _head(self, key: str, operation: str) -> ObjectInfo:
        container = await self._client.get()
        with map_errors(operation, self._where(key)):
            props = await container.get_blob_client(key).get_blob_properties(**self._call)
        return _info(props)

    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        return self._list(check_prefix(prefix))

    async def _list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        # Pages of up to 5000, fetched as the caller iterates, metadata included.
        container = await self._client.get()
        with map_errors("list", f"{self._where()}/{prefix}*"):
            async for props in container.list_blobs(name_starts_with=prefix or None, include=["metadata"]):
                yield _info(props)

    async def delete(self, key: str) -> None:
        validate_key(key)
        container = await self._client.get()
        with map_errors("delete", self._where(key)):
            try:
                await container.delete_blob(key, delete_snapshots="include", **self._call)
            except ResourceNotFoundError as exc:
                # Idempotent for a missing blob; a missing container is still an error.
                if error_code(exc) != "BlobNotFound":
                    raise

    async def copy(self, src: str, dst: str) -> ObjectInfo:
        validate_key(src)
        validate_key(dst)
        where = f"{self._where(src)} -> {dst}"
        container = await self._client.get()
        target = container.get_blob_client(dst)
        with map_errors("copy", where):
            # Server-side; metadata (our checksum included) is copied with the blob.
            result = await target.start_copy_from_url(container.get_blob_client(src).url, **self._call)
            status = result.get("copy_status")
            # A pending copy is polled until COPY_WAIT; the facade's attempt timeout, if
            # shorter, cancels the wait (and leaves the copy to finish or fail by itself).
            waited = time.monotonic()
            delay = 0.05
            while status == "pending":
                if time.monotonic() - waited >= COPY_WAIT:
                    await target.abort_copy(str(result["copy_id"]))
                    raise Timeout(f"copy {where}: still pending after {COPY_WAIT:.0f} s", operation="copy")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                status = (await target.get_blob_properties(**self._call)).copy.status
            if status not in (None, "success"):
                raise Timeout(f"copy {where}: copy ended with status {status!r}", operation="copy")
        return await self._head(dst, "copy")

    # ------------------------------------------------------------------ health and lifecycle

    async def probe(self) -> None:
        """One list request for at most one blob: needs only list permission on the container."""
        container = await self._client.get()
        with map_errors("probe", self._where()):
            pages = container.list_blobs(results_per_page=1, **self._call).by_page()
            async for page in pages:
                async for _ in page:
                    break
                break

    async def close(self) -> None:
        """Close the client, its connections and a credential it made; a later call opens new ones."""
        await self._client.close()

    async def __aenter__(self) -> AsyncBlobStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def _default_credential() -> Any:
    """azure-identity's async DefaultAzureCredential (an async context manager)."""
    try:
        from azure.identity.aio import DefaultAzureCredential
    except ImportError as exc:
        raise missing_sdk("an async Azure client without a credential", "azure-blob-aio", exc) from exc
    return DefaultAzureCredential()


__all__ = ["AsyncBlobStore"]
