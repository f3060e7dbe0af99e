"""Amazon S3 (and S3-compatible endpoints) as an `ObjectStore`."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

from failover.providers._sdk import missing_sdk

try:
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import ClientError
except ImportError as exc:
    raise missing_sdk(__name__, "s3", exc) from exc

from failover.capabilities import ObjectInfo, validate_chunk_size, validate_key, validate_range
from failover.errors import ConfigError, Unsupported
from failover.portable import VERSION_KEY
from failover.providers._common import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_prefix,
    check_timeout,
    remaining_timeout,
    safe_url,
    timestamp,
)
from failover.providers._objects import (
    CHECKSUM_META_KEY,
    prepare_write,
    stored_digest,
    stored_info,
    verified_chunks,
    verify,
)
from failover.providers.aws._client import DeadlineClients, error_code, make_client, map_errors

# Above this size a put goes through boto3's managed (multipart, parallel) upload.
MULTIPART_THRESHOLD = 16 * 1024 * 1024
# copy_object copies at most 5 GiB in one request; larger objects need a multipart copy.
MAX_SINGLE_COPY = 5 * 1024**3
# PutObject takes at most 5 GiB in one request.
MAX_SINGLE_PUT = 5 * 1024**3

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4 = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def validate_bucket_name(bucket: str) -> str:
    """S3's naming rules, checked before any request so a typo fails as configuration."""
    rule = (
        "S3 bucket names are 3-63 characters of lowercase letters, digits, '.' and '-', "
        "start and end with a letter or digit, have no '..' and are not IP addresses"
    )
    if not isinstance(bucket, str) or not _BUCKET.match(bucket) or ".." in bucket or _IPV4.match(bucket):
        raise ConfigError(f"invalid bucket name {bucket!r}: {rule}")
    return bucket


class S3Store:
    """Objects in one S3 bucket.  ``region``/``endpoint_url`` pick the endpoint; credentials
    come from ``session`` (default: a new boto3 Session, i.e. the standard credential chain).
    ``client`` replaces the whole client (tests, custom signers).

    It reads the attempt deadline (`failover.deadline`).  boto3 has no per-request
    timeout, so a request made before a method returns goes through a client whose
    timeouts are the time left rounded up to `TIMEOUT_STEP` (a few such clients are kept,
    made from the same session), and none is sent once the deadline has passed
    (`Timeout`).  `get_stream` (whose body is read as the caller iterates) and `list` use
    the store's own client; so does every call when ``client`` is given.
    """

    reads_deadline = True

    def __init__(
        self,
        bucket: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        session: boto3.session.Session | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        client: Any = None,
    ) -> None:
        self.bucket = validate_bucket_name(bucket)
        check_timeout("connect_timeout", connect_timeout)
        check_timeout("read_timeout", read_timeout)
        self.endpoint_url = endpoint_url
        self._clients: DeadlineClients | None = None
        self._longest = float(max(connect_timeout, read_timeout))
        if client is None:
            session = session if session is not None else boto3.session.Session()
            client = make_client(
                "s3",
                region=region,
                endpoint_url=endpoint_url,
                session=session,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            )
            self._clients = DeadlineClients(
                client,
                service="s3",
                region=region,
                endpoint_url=endpoint_url,
                session=session,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            )
        self._client = client
        self.region: str | None = region or getattr(getattr(client, "meta", None), "region_name", None)
        self._transfer = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, max_concurrency=4)

    def __repr__(self) -> str:
        endpoint = safe_url(self.endpoint_url)
        return f"S3Store(bucket={self.bucket!r}, region={self.region!r}, endpoint_url={endpoint!r})"

    def _now(self, operation: str) -> Any:
        """The client for a request made now: one whose timeouts fit the attempt deadline."""
        left = remaining_timeout(self._longest, operation=operation)
        if self._clients is None or left >= self._longest:
            return self._client
        return self._clients.within(left)

    def _where(self, key: str | None = None) -> str:
        return f"s3://{self.bucket}/{key}" if key is not None else f"s3://{self.bucket}"

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
        """A conditional put (``if_match`` → ``IfMatch``, ``if_absent`` → ``IfNoneMatch='*'``)
        is always one PutObject, so at most `MAX_SINGLE_PUT` bytes: boto3's managed upload
        does not pass the conditions on to CompleteMultipartUpload."""
        write = prepare_write(key, data, content_type, metadata, if_match, if_absent, limit=("S3", 2048))
        body = write.body
        extra: dict[str, Any] = {"Metadata": write.stored, "ContentType": write.content_type}
        if if_match is not None:
            extra["IfMatch"] = if_match
        if if_absent:
            extra["IfNoneMatch"] = "*"
        conditional = if_match is not None or if_absent
        if conditional and body.size > MAX_SINGLE_PUT:
            raise Unsupported(
                f"put {self._where(key)}: a conditional put (if_match / if_absent) is one PutObject, "
                f"at most {MAX_SINGLE_PUT} bytes; this body is {body.size}",
                operation="put",
            )
        client = self._now("put")
        etag: str | None = None
        with map_errors("put", self._where(key), conditional=conditional):
            if body.size <= MULTIPART_THRESHOLD or conditional:
                etag = _etag(client.put_object(Bucket=self.bucket, Key=key, Body=body.stream, **extra).get("ETag"))
            else:
                # Multipart, parallel, streamed from the (seekable) body; the ETag of a
                # multipart object is not an MD5, so it is read back with a head.
                client.upload_fileobj(body.stream, self.bucket, key, ExtraArgs=extra, Config=self._transfer)
        return write.info(key, etag) if etag is not None else self._head(key, "put")

    def get(self, key: str) -> bytes:
        validate_key(key)
        where = self._where(key)
        client = self._now("get")
        with map_errors("get", where):
            resp = client.get_object(Bucket=self.bucket, Key=key)
            with resp["Body"] as stream:
                data: bytes = stream.read()
        return verify(data, stored_digest(resp.get("Metadata")), where=where)

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """One GetObject, opened now (`NotFound` here) and read as the caller iterates."""
        validate_key(key)
        validate_chunk_size(chunk_size)
        where = self._where(key)
        with map_errors("get_stream", where):
            resp = self._client.get_object(Bucket=self.bucket, Key=key)
        return _stream(resp, chunk_size, where)

    def get_range(self, key: str, start: int, end: int) -> bytes:
        validate_key(key)
        validate_range(start, end)
        if start == end:
            self._head(key, "get_range")  # an empty range of a missing object is still NotFound
            return b""
        client = self._now("get_range")
        with map_errors("get_range", self._where(key)):
            try:
                resp = client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}")
            except ClientError as exc:
                if error_code(exc) == "InvalidRange":  # start at or past the end of the object
                    return b""
                raise
            with resp["Body"] as stream:
                data: bytes = stream.read()
        return data

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        return self._head(key, "head")

    def _head(self, key: str, operation: str) -> ObjectInfo:
        with map_errors(operation, self._where(key)):
            resp = self._now(operation).head_object(Bucket=self.bucket, Key=key)
        return _info(key, resp)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self._list(check_prefix(prefix))

    def _list(self, prefix: str) -> Iterator[ObjectInfo]:
        # ListObjectsV2 returns keys in UTF-8 binary order, 1000 a page; pages are fetched
        # only as the caller iterates.  It carries no user metadata, so no checksum either.
        with map_errors("list", f"{self._where()}/{prefix}*"):
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for obj in page.get("Contents", ()):
                    yield ObjectInfo(
                        key=obj["Key"],
                        size=int(obj.get("Size", 0)),
                        etag=_etag(obj.get("ETag")),
                        modified=timestamp(obj.get("LastModified")),
                    )

    def delete(self, key: str) -> None:
        validate_key(key)
        # S3 answers 204 for a missing key, so this is idempotent as it is.  A missing
        # bucket is still an error (NoSuchBucket → NotFound).
        with map_errors("delete", self._where(key)):
            self._now("delete").delete_object(Bucket=self.bucket, Key=key)

    def copy(self, src: str, dst: str) -> ObjectInfo:
        validate_key(src)
        validate_key(dst)
        source = self._head(src, "copy")
        where = f"{self._where(src)} -> {dst}"
        copy_source = {"Bucket": self.bucket, "Key": src}
        with map_errors("copy", where):
            if source.size <= MAX_SINGLE_COPY:
                # Server-side; MetadataDirective COPY carries the checksum metadata along.
                resp = self._now("copy").copy_object(
                    Bucket=self.bucket, Key=dst, CopySource=copy_source, MetadataDirective="COPY"
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
            # A multipart copy does not carry metadata by itself: pass it explicitly.
            meta = dict(source.metadata)
            if source.checksum:
                meta[CHECKSUM_META_KEY] = source.checksum.removeprefix("sha256:")
            if source.version:
                meta[VERSION_KEY] = source.version
            extra: dict[str, Any] = {"Metadata": meta}
            if source.content_type:
                extra["ContentType"] = source.content_type
            self._now("copy").copy(copy_source, self.bucket, dst, ExtraArgs=extra, Config=self._transfer)
        return self._head(dst, "copy")

    # ------------------------------------------------------------------ health

    def probe(self) -> None:
        """Raise a mapped error unless the bucket answers (HeadBucket: needs s3:ListBucket)."""
        with map_errors("probe", self._where()):
            self._now("probe").head_bucket(Bucket=self.bucket)


def _stream(resp: Mapping[str, Any], chunk_size: int, where: str) -> Iterator[bytes]:
    # Errors while reading the body (a reset, a read timeout) are mapped here too; closing
    # the iterator early closes the body and so releases the connection.  The body is read
    # through botocore's StreamingBody (``with body as ...`` would give the raw urllib3
    # response), which checks the content length and wraps urllib3's errors.
    body = resp["Body"]
    with map_errors("get_stream", where), contextlib.closing(body):
        yield from verified_chunks(
            body.iter_chunks(chunk_size), stored_digest(resp.get("Metadata")), chunk_size=chunk_size, where=where
        )


def _etag(value: object) -> str | None:
    # As S3 sends it, quotes included: ready for an If-Match header.
    return str(value) if value else None


def _info(key: str, resp: Mapping[str, Any]) -> ObjectInfo:
    return stored_info(
        key,
        size=int(resp.get("ContentLength", 0)),
        etag=_etag(resp.get("ETag")),
        content_type=resp.get("ContentType"),
        modified=resp.get("LastModified"),
        metadata=resp.get("Metadata"),
    )


__all__ = ["MAX_SINGLE_COPY", "MAX_SINGLE_PUT", "MULTIPART_THRESHOLD", "S3Store", "validate_bucket_name"]
