"""Azure Blob Storage as an `ObjectStore`."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

from failover.providers._sdk import missing_sdk

try:
    from azure.core import MatchConditions
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
    from azure.storage.blob import BlobProperties, BlobServiceClient, ContentSettings
except ImportError as exc:
    raise missing_sdk(__name__, "azure-blob", exc) from exc

from failover.capabilities import ObjectInfo, validate_chunk_size, validate_key, validate_range
from failover.deadline import time_left
from failover.errors import ConfigError, Timeout
from failover.providers._common import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_prefix,
    check_timeout,
    remaining_timeout,
    safe_url,
)
from failover.providers._objects import prepare_write, stored_digest, stored_info, verified_chunks, verify
from failover.providers.azure._client import DEFAULT_RETRY_TOTAL, error_code, make_service_client, map_errors

# Azure metadata names must be C# identifiers: no '-', so the shared key is spelled with '_'.
CHECKSUM_KEY = "failover_sha256"
# Azure's cap on the UTF-8 bytes of all metadata names and values.
METADATA_LIMIT = ("Azure Blob", 8192)
# A same-account copy is normally done when start_copy_from_url returns; a pending one is
# polled this long before giving up.
COPY_WAIT = 60.0
# get_stream downloads ranges of this size (or chunk_size, if larger), one at a time, each
# pinned to the etag read when the stream was opened.
STREAM_WINDOW = 4 * 1024 * 1024

_CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def validate_container_name(container: str) -> str:
    if isinstance(container, str) and (_CONTAINER.match(container) or container in ("$root", "$web")):
        return container
    raise ConfigError(
        f"invalid container name {container!r}: Azure container names are 3-63 characters of "
        "lowercase letters, digits and '-', start and end with a letter or digit, and have no '--'"
    )


def _check_plain_http(account_url: str | None, credential: Any, connection_string: str | None) -> None:
    """An ``http://`` account URL (an emulator such as Azurite) cannot take an Entra ID
    credential: the SDK sends tokens over HTTPS only, and refuses the client with a message
    that names neither the argument nor the fix.  With no credential at all the adapter
    would pick DefaultAzureCredential, so that case is caught here too, before it is made."""
    if connection_string is not None or not isinstance(account_url, str):
        return
    if not account_url.lower().startswith("http://") or "sig=" in account_url.partition("?")[2].lower():
        return  # HTTPS, or a SAS in the URL's query (its own credential)
    if credential is None or callable(getattr(credential, "get_token", None)):
        given = type(credential).__name__ if credential is not None else "none (DefaultAzureCredential)"
        # Worded without "credential: value", which failover.redact would mask.
        raise ConfigError(
            f"the credential argument does not work with an http:// account_url, given {given}: Azure sends "
            "Entra ID tokens over HTTPS only. For an emulator such as Azurite, pass the account key as the "
            "credential argument (or a dict with account_name and account_key), or pass connection_string"
        )


class BlobStore:
    """Blobs in one container.

    Authentication, in order: ``connection_string`` (account key or SAS inside); else
    ``account_url`` with ``credential`` (account key, SAS token, AzureNamedKeyCredential,
    AzureSasCredential or a TokenCredential), or a SAS in the URL's query; with neither,
    azure-identity's DefaultAzureCredential.  ``service_client`` replaces the whole client.

    It reads the attempt deadline (`failover.deadline`): every request made before a
    method returns gets ``connection_timeout``/``read_timeout`` cut to the time left (the
    requests transport takes them per request), and none is sent once it has passed
    (`Timeout`).  The range downloads of `get_stream` and the list pages, fetched as the
    caller iterates (after the attempt), keep the client's timeouts.
    """

    reads_deadline = True

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
        service_client: BlobServiceClient | None = None,
    ) -> None:
        self.container = validate_container_name(container)
        check_timeout("connect_timeout", connect_timeout)
        check_timeout("read_timeout", read_timeout)
        if isinstance(retry_total, bool) or not isinstance(retry_total, int) or retry_total < 0:
            raise ConfigError(f"retry_total must be an int >= 0, not {retry_total!r}")
        if service_client is None:
            _check_plain_http(account_url, credential, connection_string)
            service_client = make_service_client(
                account_url,
                credential=credential,
                connection_string=connection_string,
                api_version=api_version,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retry_total=retry_total,
            )
        self._service = service_client
        self._connect_timeout = float(connect_timeout)
        self._read_timeout = float(read_timeout)
        self._container = service_client.get_container_client(self.container)
        self.account_url = safe_url(service_client.url)

    def __repr__(self) -> str:
        return f"BlobStore(account_url={self.account_url!r}, container={self.container!r})"

    def _now(self, operation: str) -> dict[str, Any]:
        """Keyword arguments for a request made now: the socket timeouts cut to the attempt
        deadline.  With ``service_client=`` given, the defaults are this store's, not that
        client's."""
        return {
            "connection_timeout": remaining_timeout(self._connect_timeout, operation=operation),
            "read_timeout": remaining_timeout(self._read_timeout, operation=operation),
        }

    def _where(self, key: str | None = None) -> str:
        base = f"azure://{self._service.account_name}/{self.container}"
        return f"{base}/{key}" if key is not None else base

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
        """``if_match`` → ``If-Match`` (412 ConditionNotMet), ``if_absent`` → ``If-None-Match: *``
        (409 BlobAlreadyExists); on a block upload they go with the Put Block List."""
        write = prepare_write(
            key, data, content_type, metadata, if_match, if_absent, limit=METADATA_LIMIT, internal_key=CHECKSUM_KEY
        )
        condition: dict[str, Any] = {}
        if if_match is not None:
            condition = {"etag": if_match, "match_condition": MatchConditions.IfNotModified}
        with map_errors("put", self._where(key)):
            # Streams in blocks above the SDK's single-put size (64 MiB by default).
            # overwrite=False is how the SDK sends If-None-Match: *.
            resp = self._container.get_blob_client(key).upload_blob(
                write.body.stream,
                length=write.body.size,
                overwrite=not if_absent,
                metadata=write.stored,
                content_settings=ContentSettings(content_type=write.content_type),
                **condition,
                **self._now("put"),
            )
        return write.info(key, resp.get("etag"), resp.get("last_modified"))

    def get(self, key: str) -> bytes:
        validate_key(key)
        where = self._where(key)
        with map_errors("get", where):
            # The downloader pins the blob's etag across its chunk requests, and its
            # properties (metadata included) come with the first response: no race.
            downloader = self._container.download_blob(key, **self._now("get"))
            data = downloader.readall()
        return verify(data, stored_digest(downloader.properties.metadata, CHECKSUM_KEY), where=where)

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Properties now (`NotFound` here), then ranged downloads of that same version as
        the caller iterates: a blob replaced midway raises `PreconditionFailed`.

        The SDK's downloader would fetch its first 32 MiB on the call; ranges keep memory
        to about one window (``max(chunk_size, STREAM_WINDOW)``) whatever the blob's size.
        """
        validate_key(key)
        validate_chunk_size(chunk_size)
        where = self._where(key)
        with map_errors("get_stream", where):
            props = self._container.get_blob_client(key).get_blob_properties(**self._now("get_stream"))
        return self._stream(key, props, chunk_size, where)

    def _stream(self, key: str, props: BlobProperties, chunk_size: int, where: str) -> Iterator[bytes]:
        with map_errors("get_stream", where):
            yield from verified_chunks(
                self._ranges(key, int(props.size or 0), props.etag, max(chunk_size, STREAM_WINDOW)),
                stored_digest(props.metadata, CHECKSUM_KEY),
                chunk_size=chunk_size,
                where=where,
            )

    def _ranges(self, key: str, size: int, etag: str, window: int) -> Iterator[bytes]:
        for offset in range(0, size, window):
            downloader = self._container.download_blob(
                key,
                offset=offset,
                length=min(window, size - offset),
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            )
            yield downloader.readall()

    def get_range(self, key: str, start: int, end: int) -> bytes:
        validate_key(key)
        validate_range(start, end)
        if start == end:
            self._head(key, "get_range")  # an empty range of a missing blob is still NotFound
            return b""
        with map_errors("get_range", self._where(key)):
            try:
                downloader = self._container.download_blob(
                    key, offset=start, length=end - start, **self._now("get_range")
                )
                data: bytes = downloader.readall()
                return data
            except HttpResponseError as exc:
                if error_code(exc) == "InvalidRange" or exc.status_code == 416:
                    return b""  # start at or past the end of the blob
                raise

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        return self._head(key, "head")

    def _head(self, key: str, operation: str) -> ObjectInfo:
        with map_errors(operation, self._where(key)):
            props = self._container.get_blob_client(key).get_blob_properties(**self._now(operation))
        return _info(props)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self._list(check_prefix(prefix))

    def _list(self, prefix: str) -> Iterator[ObjectInfo]:
        # Pages of up to 5000 are fetched as the caller iterates; metadata rides along, so
        # the checksum is known without a head per blob.
        with map_errors("list", f"{self._where()}/{prefix}*"):
            for props in self._container.list_blobs(name_starts_with=prefix or None, include=["metadata"]):
                yield _info(props)

    def delete(self, key: str) -> None:
        validate_key(key)
        with map_errors("delete", self._where(key)):
            try:
                self._container.delete_blob(key, delete_snapshots="include", **self._now("delete"))
            except ResourceNotFoundError as exc:
                # Idempotent for a missing blob; a missing container is still an error.
                if error_code(exc) != "BlobNotFound":
                    raise

    def copy(self, src: str, dst: str) -> ObjectInfo:
        validate_key(src)
        validate_key(dst)
        where = f"{self._where(src)} -> {dst}"
        source = self._container.get_blob_client(src)
        target = self._container.get_blob_client(dst)
        with map_errors("copy", where):
            # Server-side; metadata (our checksum included) is copied with the blob.
            result = target.start_copy_from_url(source.url, **self._now("copy"))
            status = result.get("copy_status")
            # Polled until COPY_WAIT or the attempt deadline, whichever comes first.
            waited = time.monotonic()
            left = time_left()
            deadline = min(waited + COPY_WAIT, waited + left if left is not None else math.inf)
            delay = 0.05
            while status == "pending":
                if time.monotonic() >= deadline:
                    # Not cut to the attempt deadline: the abort must be sent even after it.
                    target.abort_copy(str(result["copy_id"]))
                    took = time.monotonic() - waited
                    raise Timeout(f"copy {where}: still pending after {took:.1f} s", operation="copy")
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                status = target.get_blob_properties(**self._now("copy")).copy.status
            if status not in (None, "success"):
                raise Timeout(f"copy {where}: copy ended with status {status!r}", operation="copy")
        return self._head(dst, "copy")

    # ------------------------------------------------------------------ health

    def probe(self) -> None:
        """One list request for at most one blob: needs only list permission on the container."""
        with map_errors("probe", self._where()):
            pages = self._container.list_blobs(results_per_page=1, **self._now("probe")).by_page()
            next(iter(pages), None)


def _quoted(etag: str | None) -> str | None:
    # Get Blob Properties sends the ETag quoted, List Blobs does not: one form, as in HTTP.
    if not etag:
        return None
    return etag if etag.startswith('"') else f'"{etag}"'


def _info(props: BlobProperties) -> ObjectInfo:
    settings = props.content_settings
    return stored_info(
        props.name,
        size=int(props.size or 0),
        etag=_quoted(props.etag),
        content_type=settings.content_type if settings is not None else None,
        modified=props.last_modified,
        metadata=props.metadata,
        internal_key=CHECKSUM_KEY,
    )


__all__ = ["CHECKSUM_KEY", "BlobStore", "validate_container_name"]
