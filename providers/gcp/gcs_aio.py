"""Google Cloud Storage as an `AsyncObjectStore`, on gcloud-aio-storage (aiohttp).

The async twin of `failover.providers.gcp.gcs.GCSStore`: the same JSON API requests, the
same rules (`failover.providers._objects`, `failover.providers.gcp._rules`) and Google's
error reasons read with the shared status table.  gcloud-aio-storage raises aiohttp's
exceptions, mapped at one boundary (`map_errors`, in `failover.providers.gcp._aio_errors`).

A put up to `RESUMABLE_THRESHOLD` is one multipart upload through gcloud-aio-storage,
which builds the request in memory.  A larger one is a resumable upload made here on the
SDK's aiohttp session (`AsyncGCSStore._resumable`), its body streamed from the put's
stream: the SDK's own resumable upload retries the body up to 5 times with backoff and
closes the stream it is given when done.  No request is repeated, and every request
carries its own connect and read timeouts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any, BinaryIO
from urllib.parse import quote

from failover.providers._sdk import missing_sdk

try:
    import aiohttp
    from gcloud.aio.storage import Storage
except ImportError as exc:
    raise missing_sdk(__name__, "gcs-aio", exc) from exc

from failover.capabilities import ObjectInfo, validate_chunk_size, validate_key, validate_range
from failover.errors import ConfigError, PreconditionFailed
from failover.providers._aio import BodyFeed, LoopClient, body_parts, prepared_write, verified_chunks
from failover.providers._common import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_prefix,
    check_timeout_pair,
    safe_url,
)
from failover.providers._objects import Write, stored_digest, stored_info, verify
from failover.providers.gcp._aio_errors import TABLE, map_errors, raise_for_status, translate
from failover.providers.gcp._rules import generation_of, range_of, validate_bucket_name

# Google's own endpoint; an explicit ``api_root`` (an emulator) replaces it.  Always
# passed, so that gcloud-aio-storage never reads the process-wide STORAGE_EMULATOR_HOST.
GOOGLE_API_ROOT = "https://www.googleapis.com"
DEFAULT_TIMEOUT = (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)
# get() reads the metadata, then the bytes; if the object is replaced in between (the
# download names another generation), the pair is read again (a few times at most).
_GET_ATTEMPTS = 3
# Bytes per ranged download of a streamed read (at least the caller's chunk size).
STREAM_WINDOW = 4 * 1024 * 1024
# Above this size a put is a resumable upload, streamed; up to it, one multipart request.
# The sync adapter's rule: google-cloud-storage switches to a resumable upload above 8 MiB.
RESUMABLE_THRESHOLD = 8 * 1024 * 1024
# A resumable upload's body is read from its stream and written in pieces of this size.
UPLOAD_PIECE = 1024 * 1024

class AsyncGCSStore:
    """Objects in one GCS bucket, for `failover.aio.FailoverStorage`.

    ``api_root``: an emulator such as fake-gcs-server (``"http://127.0.0.1:PORT"``),
    reached anonymously unless ``anonymous=False``; without it, Google's endpoint with
    ``token`` (a ``gcloud.aio.auth.Token``) or one made from ``service_file`` (default:
    application default credentials).  ``timeout``: seconds, or ``(connect, read)``, for
    every request.  The aiohttp session is made on the first call, inside the running
    loop, and closed by `close` (or ``async with store:``).
    """

    def __init__(
        self,
        bucket: str,
        *,
        api_root: str | None = None,
        anonymous: bool | None = None,
        service_file: str | None = None,
        token: Any = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.bucket_name = validate_bucket_name(bucket)
        connect, read = check_timeout_pair(timeout)
        if api_root is not None and (not isinstance(api_root, str) or not api_root.startswith(("http://", "https://"))):
            raise ConfigError(f"api_root must be an http:// or https:// URL, not {safe_url(str(api_root))!r}")
        self.api_root = api_root
        self._anonymous = api_root is not None if anonymous is None else bool(anonymous)
        self._service_file = service_file
        self._token = token
        # sock_connect/sock_read, as the sync adapter's (connect, read); no total: a large
        # body may take longer than either, as long as it keeps moving.
        self._call: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(sock_connect=connect, sock_read=read)}
        self._client: LoopClient[_Clients] = LoopClient(self._open, owner=repr(self))

    def __repr__(self) -> str:
        return f"AsyncGCSStore(bucket={self.bucket_name!r}, api_root={safe_url(self.api_root)!r})"

    async def _open(self, stack: AsyncExitStack) -> _Clients:
        session = await stack.enter_async_context(aiohttp.ClientSession())  # the SDK's, and resumable uploads
        # Ranged reads have connections of their own.  fake-gcs-server closes the
        # connection after a 416 without saying so: aiohttp resends an idempotent request
        # that meets such a connection, but not a put (measured: a put right after a 416
        # on one session failed 300 times in 300; a get never did).
        ranged = await stack.enter_async_context(aiohttp.ClientSession())
        storage = Storage(
            api_root=self.api_root or GOOGLE_API_ROOT,
            api_is_dev=self._anonymous,
            service_file=self._service_file,
            token=self._token,
            # gcloud-aio types it as requests' Session (its sync build's), whatever the build.
            session=session,  # type: ignore[arg-type]
        )
        stack.push_async_callback(storage.close)  # leaves our sessions to the stack
        return _Clients(storage, ranged, session)

    def _where(self, key: str | None = None) -> str:
        return f"gs://{self.bucket_name}/{key}" if key is not None else f"gs://{self.bucket_name}"

    async def _media(self, clients: _Clients, key: str, byte_range: str | None = None) -> _Media:
        request: dict[str, Any] = dict(self._call)
        if byte_range is not None:
            request.update(headers={"Range": byte_range}, session=clients.ranged)
        stream = await clients.storage.download_stream(self.bucket_name, key, **request)
        async with stream as response:
            return _Media(response.status, response.headers.get("x-goog-generation"), await response.read())

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
        """``etag`` is the object's generation: ``if_match`` → ``ifGenerationMatch=<it>``,
        ``if_absent`` → ``ifGenerationMatch=0`` (412 when either fails).  Above
        `RESUMABLE_THRESHOLD` bytes, a resumable upload streamed from ``data``."""
        write = await prepared_write(key, data, content_type, metadata, if_match, if_absent, limit=("GCS", 8192))
        parameters: dict[str, str] = {}
        if if_match is not None:
            parameters["ifGenerationMatch"] = str(generation_of(if_match))
        elif if_absent:
            parameters["ifGenerationMatch"] = "0"
        clients = await self._client.get()
        with map_errors("put", self._where(key)):
            if write.body.size > RESUMABLE_THRESHOLD:
                return _info(await self._resumable(clients, key, write, parameters))
            resource = await clients.storage.upload(
                self.bucket_name,
                key,
                write.body.stream.read(),
                content_type=write.content_type,
                metadata={"metadata": write.stored},
                parameters=parameters,
                force_resumable_upload=False,  # one request: a resumable body is retried by the SDK
                **self._call,
            )
        return _info(resource)

    async def _resumable(
        self, clients: _Clients, key: str, write: Write, parameters: Mapping[str, str]
    ) -> Mapping[str, Any]:
        """A resumable upload in one streamed PUT (the JSON API's protocol, as the SDK speaks
        it): a POST opens the session with the object's metadata and the condition, then
        the body follows in `UPLOAD_PIECE` pieces read from the stream as the connection
        takes them.  A failed or cancelled upload leaves a session that holds no object
        (GCS drops it after a week)."""
        body = write.body
        where = self._where(key)
        auth = await self._auth(clients.storage)
        opening = clients.session.post(
            f"{self.api_root or GOOGLE_API_ROOT}/upload/storage/v1/b/{quote(self.bucket_name, safe='')}/o",
            params={"uploadType": "resumable", **parameters},
            json={"name": key, "contentType": write.content_type, "metadata": write.stored},
            headers={**auth, "X-Upload-Content-Type": write.content_type, "X-Upload-Content-Length": str(body.size)},
            **self._call,
        )
        async with opening as opened:
            await raise_for_status(opened)
            session_uri = opened.headers["Location"]
        feed = BodyFeed(body_parts(body, UPLOAD_PIECE, where=where))
        headers = {**auth, "Content-Type": write.content_type, "Content-Length": str(body.size)}
        try:
            async with clients.session.put(session_uri, data=feed.pieces(), headers=headers, **self._call) as sent:
                await raise_for_status(sent)
                resource: Mapping[str, Any] = await sent.json(content_type=None)
        except aiohttp.ClientError:
            feed.raise_own()
            raise
        return resource

    async def _auth(self, storage: Storage) -> dict[str, str]:
        """The headers that authenticate a request as the SDK's do: none for an emulator."""
        if self._anonymous:
            return {}
        return {"Authorization": f"Bearer {await storage.token.get()}"}

    async def get(self, key: str) -> bytes:
        validate_key(key)
        where = self._where(key)
        clients = await self._client.get()
        with map_errors("get", where):
            for _ in range(_GET_ATTEMPTS):
                # The media download carries no metadata the JSON API promises, so read it
                # first; the download names its generation, which must be the same one.
                resource = await clients.storage.download_metadata(self.bucket_name, key, **self._call)
                media = await self._media(clients, key)
                if media.generation is not None and media.generation != str(resource.get("generation")):
                    continue  # replaced between the two requests: read the new one
                return verify(media.data, stored_digest(resource.get("metadata")), where=where)
        raise PreconditionFailed(f"get {where}: object kept changing while read", operation="get")

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """The metadata on the first ``__anext__`` (`NotFound` there), then ranged downloads
        as the caller iterates, each checked to name the generation the metadata did: an
        object replaced midway raises `PreconditionFailed`.  Memory stays about one window
        (``max(chunk_size, STREAM_WINDOW)``) whatever the object's size."""
        validate_key(key)
        validate_chunk_size(chunk_size)
        return self._stream(key, chunk_size)

    async def _stream(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        where = self._where(key)
        clients = await self._client.get()
        with map_errors("get_stream", where):
            resource = await clients.storage.download_metadata(self.bucket_name, key, **self._call)
            size, generation = int(resource.get("size") or 0), str(resource.get("generation"))
            window = max(chunk_size, STREAM_WINDOW)
            ranges = self._ranges(clients, key, size, generation, window, where)
            chunks = verified_chunks(
                ranges, stored_digest(resource.get("metadata")), chunk_size=chunk_size, where=where
            )
            async for chunk in chunks:
                yield chunk

    async def _ranges(
        self, clients: _Clients, key: str, size: int, generation: str, window: int, where: str
    ) -> AsyncIterator[bytes]:
        for offset in range(0, size, window):
            end = min(size, offset + window)
            media = await self._media(clients, key, f"bytes={offset}-{end - 1}")
            if media.generation is not None and media.generation != generation:
                raise PreconditionFailed(f"get_stream {where}: object replaced while read", operation="get_stream")
            yield range_of(media.data, [media.status], offset, end, where)

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        validate_key(key)
        validate_range(start, end)
        if start == end:
            await self._head(key, "get_range")  # an empty range of a missing object is still NotFound
            return b""
        where = self._where(key)
        clients = await self._client.get()
        with map_errors("get_range", where):
            try:
                # GCS ranges are inclusive at both ends.
                media = await self._media(clients, key, f"bytes={start}-{end - 1}")
            except aiohttp.ClientResponseError as exc:
                if exc.status == 416:  # start at or past the end of the object
                    return b""
                raise
        return range_of(media.data, [media.status], start, end, where)

    async def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        return await self._head(key, "head")

    async def _head(self, key: str, operation: str) -> ObjectInfo:
        storage = (await self._client.get()).storage
        with map_errors(operation, self._where(key)):
            return _info(await storage.download_metadata(self.bucket_name, key, **self._call))

    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        return self._list(check_prefix(prefix))

    async def _list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        # Lexicographic order, pages of up to 1000 fetched as the caller iterates, with
        # metadata (so the checksum) included.
        storage = (await self._client.get()).storage
        params = {"prefix": prefix} if prefix else {}
        with map_errors("list", f"{self._where()}/{prefix}*"):
            while True:
                page = await storage.list_objects(self.bucket_name, params=dict(params), **self._call)
                for resource in page.get("items", ()):
                    yield _info(resource)
                token = page.get("nextPageToken")
                if not token:
                    return
                params["pageToken"] = str(token)

    async def delete(self, key: str) -> None:
        validate_key(key)
        storage = (await self._client.get()).storage
        with map_errors("delete", self._where(key)):
            try:
                await storage.delete(self.bucket_name, key, **self._call)
            except aiohttp.ClientResponseError as exc:
                # Idempotent.  GCS answers 404 alike for a missing object and a missing
                # bucket; either way the object is not there.
                if exc.status != 404:
                    raise

    async def copy(self, src: str, dst: str) -> ObjectInfo:
        validate_key(src)
        validate_key(dst)
        storage = (await self._client.get()).storage
        with map_errors("copy", f"{self._where(src)} -> {dst}"):
            # rewrite (in as many calls as the service asks for); metadata is copied along.
            done = await storage.copy(self.bucket_name, src, self.bucket_name, new_name=dst, **self._call)
        resource = done.get("resource")
        return _info(resource) if isinstance(resource, Mapping) else await self._head(dst, "copy")

    # ------------------------------------------------------------------ health and lifecycle

    async def probe(self) -> None:
        """One list request for at most one object: needs only storage.objects.list."""
        storage = (await self._client.get()).storage
        with map_errors("probe", self._where()):
            await storage.list_objects(self.bucket_name, params={"maxResults": "1"}, **self._call)

    async def close(self) -> None:
        """Close the aiohttp session and its connections; a later call opens a new one."""
        await self._client.close()

    async def __aenter__(self) -> AsyncGCSStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


@dataclass(frozen=True)
class _Clients:
    """The SDK's client, the aiohttp session ranged reads go through, and the SDK's own
    session (resumable uploads go through it)."""

    storage: Storage
    ranged: aiohttp.ClientSession
    session: aiohttp.ClientSession


@dataclass(frozen=True)
class _Media:
    """A media download's answer: its status, the generation it names, its bytes."""

    status: int
    generation: str | None
    data: bytes


def _info(resource: Mapping[str, Any]) -> ObjectInfo:
    # ``etag`` is the generation, as in GCSStore: uploads take only ifGenerationMatch.
    generation = resource.get("generation")
    return stored_info(
        str(resource["name"]),
        size=int(resource.get("size") or 0),
        etag=str(generation) if generation is not None else None,
        content_type=resource.get("contentType"),
        modified=resource.get("updated"),
        metadata=resource.get("metadata"),
    )


__all__ = ["GOOGLE_API_ROOT", "TABLE", "AsyncGCSStore", "map_errors", "translate"]
