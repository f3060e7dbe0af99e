"""Google Cloud Storage as an `ObjectStore`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

from failover.providers._sdk import missing_sdk

try:
    import google.api_core.exceptions as gexc
    import google.cloud.storage  # noqa: F401  # the client is made in _client; fail here, naming the extra
except ImportError as exc:
    raise missing_sdk(__name__, "gcs", exc) from exc

from failover.capabilities import ObjectInfo, validate_chunk_size, validate_key, validate_range
from failover.errors import PreconditionFailed
from failover.providers._common import check_prefix, check_timeout_pair, remaining_timeout
from failover.providers._objects import prepare_write, stored_digest, stored_info, verified_chunks, verify
from failover.providers.gcp._client import DEFAULT_TIMEOUT, make_client, map_errors
from failover.providers.gcp._rules import generation_of, range_of, validate_bucket_name

# get() reads the metadata, then the bytes of that same generation; if the object is
# replaced in between, the pair is read again (a few times at most).
_GET_ATTEMPTS = 3
# get_stream downloads ranges of this size (or chunk_size, if larger), one at a time, each
# of the generation read when the stream was opened.
STREAM_WINDOW = 4 * 1024 * 1024


class GCSStore:
    """Objects in one GCS bucket.

    ``client``: a ``google.cloud.storage.Client`` (default: one built with application
    default credentials and ``project``).  ``timeout``: seconds, or ``(connect, read)``,
    applied to every request.  ``retry``: an api-core ``Retry`` for the SDK to use, or None
    (the default) for a single attempt.

    It reads the attempt deadline (`failover.deadline`): every request made before a
    method returns has its connect and read timeouts cut to the time left, and none is
    sent once it has passed (`Timeout`).  The range downloads of `get_stream` and the list
    pages, fetched as the caller iterates (after the attempt), keep the full ``timeout``.
    """

    reads_deadline = True

    def __init__(
        self,
        bucket: str,
        *,
        client: Any = None,
        project: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: Any = None,
    ) -> None:
        self.bucket_name = validate_bucket_name(bucket)
        self._timeout = check_timeout_pair(timeout)
        # For requests made as the caller iterates, outside any attempt: the full timeouts.
        self._call: dict[str, Any] = {"timeout": timeout, "retry": retry}
        self._client = client if client is not None else make_client(project)
        self._bucket = self._client.bucket(self.bucket_name)

    def __repr__(self) -> str:
        return f"GCSStore(bucket={self.bucket_name!r}, project={getattr(self._client, 'project', None)!r})"

    def _now(self, operation: str) -> dict[str, Any]:
        """Keyword arguments for a request made now: the timeouts cut to the attempt deadline."""
        connect, read = self._timeout
        return {
            "timeout": (remaining_timeout(connect, operation=operation), remaining_timeout(read, operation=operation)),
            "retry": self._call["retry"],
        }

    def _where(self, key: str | None = None) -> str:
        return f"gs://{self.bucket_name}/{key}" if key is not None else f"gs://{self.bucket_name}"

    # ------------------------------------------------------------------ ObjectStore

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_match: str | None = None,
        if_absent: bool = False,
    ) -> ObjectInfo:
        """``etag`` here is the object's generation, so ``if_match`` → ``ifGenerationMatch=<it>``
        and ``if_absent`` → ``ifGenerationMatch=0`` (412 when either fails)."""
        write = prepare_write(key, data, content_type, metadata, if_match, if_absent, limit=("GCS", 8192))
        condition: dict[str, Any] = {}
        if if_match is not None:
            condition["if_generation_match"] = generation_of(if_match)
        elif if_absent:
            condition["if_generation_match"] = 0
        blob = self._bucket.blob(key)
        blob.metadata = write.stored
        with map_errors("put", self._where(key)):
            # One multipart request up to 8 MiB, a resumable session above: streamed either way.
            blob.upload_from_file(
                write.body.stream,
                size=write.body.size,
                content_type=write.content_type,
                **condition,
                **self._now("put"),
            )
        return _info(blob)

    def get(self, key: str) -> bytes:
        validate_key(key)
        where = self._where(key)
        with map_errors("get", where):
            for attempt in range(_GET_ATTEMPTS):
                # The media download carries no custom metadata, so read it first and then
                # download exactly that generation.
                blob = self._bucket.blob(key)
                blob.reload(**self._now("get"))
                try:
                    data: bytes = blob.download_as_bytes(if_generation_match=blob.generation, **self._now("get"))
                except gexc.PreconditionFailed:
                    if attempt + 1 == _GET_ATTEMPTS:
                        raise
                    continue  # replaced between the two requests: read the new one
                return verify(data, stored_digest(blob.metadata), where=where)
        raise PreconditionFailed(f"get {where}: object kept changing while read", operation="get")

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Metadata now (`NotFound` here), then ranged downloads of that generation as the
        caller iterates: an object replaced midway raises `PreconditionFailed`.  Memory
        stays at about one window (``max(chunk_size, STREAM_WINDOW)``)."""
        validate_key(key)
        validate_chunk_size(chunk_size)
        where = self._where(key)
        blob = self._bucket.blob(key)
        with map_errors("get_stream", where):
            blob.reload(**self._now("get_stream"))
        return self._stream(blob, chunk_size, where)

    def _stream(self, blob: Any, chunk_size: int, where: str) -> Iterator[bytes]:
        with map_errors("get_stream", where):
            yield from verified_chunks(
                self._ranges(blob, max(chunk_size, STREAM_WINDOW)),
                stored_digest(blob.metadata),
                chunk_size=chunk_size,
                where=where,
            )

    def _ranges(self, blob: Any, window: int) -> Iterator[bytes]:
        size = int(blob.size or 0)
        generation = blob.generation
        for offset in range(0, size, window):
            # GCS ranges are inclusive at both ends.
            end = min(offset + window, size) - 1
            data: bytes = blob.download_as_bytes(start=offset, end=end, if_generation_match=generation, **self._call)
            yield data

    def get_range(self, key: str, start: int, end: int) -> bytes:
        validate_key(key)
        validate_range(start, end)
        if start == end:
            self._head(key, "get_range")  # an empty range of a missing object is still NotFound
            return b""
        where = self._where(key)
        with map_errors("get_range", where):
            blob = self._bucket.blob(key)
            status = _record_status(blob)
            try:
                # GCS ranges are inclusive at both ends.
                data: bytes = blob.download_as_bytes(start=start, end=end - 1, **self._now("get_range"))
            except gexc.RequestRangeNotSatisfiable:
                # Start at or past the end of the object.  fake-gcs-server closes the
                # connection after a 416 without saying so (measured: the next request on
                # it was reset ~1 time in 150), and with retries off that reset would count
                # against a healthy target: drop the idle pooled connections instead.
                self._discard_idle_connections()
                return b""
        return range_of(data, status, start, end, where)

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        return self._head(key, "head")

    def _head(self, key: str, operation: str) -> ObjectInfo:
        blob = self._bucket.blob(key)
        with map_errors(operation, self._where(key)):
            blob.reload(**self._now(operation))
        return _info(blob)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self._list(check_prefix(prefix))

    def _list(self, prefix: str) -> Iterator[ObjectInfo]:
        # Lexicographic order, pages of up to 1000 fetched as the caller iterates, with
        # metadata (so the checksum) included.
        with map_errors("list", f"{self._where()}/{prefix}*"):
            for blob in self._client.list_blobs(self.bucket_name, prefix=prefix or None, **self._call):
                yield _info(blob)

    def delete(self, key: str) -> None:
        validate_key(key)
        with map_errors("delete", self._where(key)):
            try:
                self._bucket.blob(key).delete(**self._now("delete"))
            except gexc.NotFound:
                # Idempotent.  GCS answers 404 alike for a missing object and a missing
                # bucket; either way the object is not there.
                return

    def copy(self, src: str, dst: str) -> ObjectInfo:
        validate_key(src)
        validate_key(dst)
        source = self._bucket.blob(src)
        target = self._bucket.blob(dst)
        with map_errors("copy", f"{self._where(src)} -> {dst}"):
            # rewrite, not copyTo: it works for any size and storage class, in as many
            # calls as the service asks for; metadata (our checksum) is copied along.
            token, _, _ = target.rewrite(source, **self._now("copy"))
            while token is not None:
                token, _, _ = target.rewrite(source, token=token, **self._now("copy"))
        return _info(target)

    def _discard_idle_connections(self) -> None:
        # Client._http is the requests session the client sends through; closing it only
        # empties the pools (new connections are made on demand, in-flight ones finish).
        session = getattr(self._client, "_http", None)
        close = getattr(session, "close", None)
        if callable(close):
            close()

    # ------------------------------------------------------------------ health

    def probe(self) -> None:
        """One list request for at most one object: needs only storage.objects.list."""
        with map_errors("probe", self._where()):
            pages = self._client.list_blobs(self.bucket_name, max_results=1, **self._now("probe")).pages
            next(iter(pages), None)


def _record_status(blob: Any) -> list[int]:
    """The HTTP status of ``blob``'s next download, appended to the returned list.

    The SDK hands each download's response to ``_extract_headers_from_download``; this
    wraps it on this one blob object, so no other blob or client is touched.
    """
    seen: list[int] = []
    extract = blob._extract_headers_from_download

    def record(response: Any) -> None:
        seen.append(int(getattr(response, "status_code", 0) or 0))
        extract(response)

    blob._extract_headers_from_download = record
    return seen


def _etag(blob: Any) -> str | None:
    # The generation, not GCS's own etag: uploads take only ifGenerationMatch, and the
    # generation changes with every write of the object (the etag also with metadata edits).
    generation = blob.generation
    return str(generation) if generation is not None else None


def _info(blob: Any) -> ObjectInfo:
    return stored_info(
        blob.name,
        size=int(blob.size or 0),
        etag=_etag(blob),
        content_type=blob.content_type,
        modified=blob.updated,
        metadata=blob.metadata,
    )


__all__ = ["GCSStore", "validate_bucket_name"]
