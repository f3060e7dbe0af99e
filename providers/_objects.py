"""What every object-store adapter shares: the sha256 checksum scheme, bodies, writes and metadata.

The checksum scheme: on ``put`` the adapter computes the sha256 of the bytes it sends and
stores it as object metadata (``failover-sha256``; Azure spells it ``failover_sha256``
because its metadata names must be C# identifiers).  ``get`` recomputes it over the bytes
it received and raises `IntegrityError` on a mismatch, so a corrupt replica is treated as
a temporary failure of that target and the read moves on to another one.  ``head`` and
``list`` report it as ``"sha256:<hex>"`` and hide the internal key from user metadata.
Objects written by other tools carry no checksum and are returned unverified.

What a write may carry is the portable model (`failover.portable`): `check_put` runs its
rules before an adapter builds a request, so bad input is `InvalidInput`, never an SDK
exception or a request the service refuses.  The replication version is reported as
`ObjectInfo.version` and hidden from user metadata like the checksum.
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from failover.capabilities import ObjectInfo, check_condition
from failover.errors import IntegrityError, InvalidInput
from failover.portable import VERSION_KEY, check_write
from failover.providers._common import timestamp

CHECKSUM_PREFIX = "sha256:"


CHECKSUM_META_KEY = "failover-sha256"


CHUNK_SIZE = 1024 * 1024


# A non-seekable stream is copied while hashing (the checksum goes in a header, so it must be
# known before the first byte is sent); up to this size the copy stays in memory.
SPOOL_MEMORY_LIMIT = 8 * 1024 * 1024


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checksum_of(hex_digest: str | None) -> str | None:
    """``"sha256:<hex>"`` for a stored digest; None when absent or not one of ours."""
    if hex_digest is None:
        return None
    hex_digest = hex_digest.strip().lower()
    return CHECKSUM_PREFIX + hex_digest if _HEX64.match(hex_digest) else None


@dataclass(frozen=True)
class Body:
    """A request body ready to send: a stream positioned at its start, its size and sha256."""

    stream: BinaryIO
    size: int
    sha256: str


def prepare_body(data: bytes | bytearray | memoryview | BinaryIO) -> Body:
    """Hash ``data`` without reading a stream into memory twice.

    Bytes are wrapped as they are.  A seekable stream is hashed from its current position
    and rewound there, so the upload streams it once more from disk.  A non-seekable one
    (a pipe, a socket, an HTTP response) is copied into a spooled temporary file.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        return Body(io.BytesIO(raw), len(raw), sha256_hex(raw))
    if not hasattr(data, "read"):
        raise InvalidInput(f"data must be bytes or a binary file-like object, not {type(data).__name__}")
    digest = hashlib.sha256()
    size = 0
    if _seekable(data):
        start = data.tell()
        for chunk in iter_chunks(data):
            digest.update(chunk)
            size += len(chunk)
        data.seek(start)
        return Body(data, size, digest.hexdigest())
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_LIMIT)  # noqa: SIM115 - returned open
    for chunk in iter_chunks(data):
        digest.update(chunk)
        size += len(chunk)
        spool.write(chunk)
    spool.seek(0)
    return Body(spool, size, digest.hexdigest())  # type: ignore[arg-type]  # SpooledTemporaryFile is binary


def iter_chunks(stream: BinaryIO, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Read ``stream`` to its end in chunks of at most ``size`` bytes."""
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        if not isinstance(chunk, bytes):
            raise InvalidInput(f"stream returned {type(chunk).__name__}, not bytes: open it in binary mode")
        yield chunk


def _seekable(stream: BinaryIO) -> bool:
    try:
        if not stream.seekable():
            return False
        stream.tell()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def verify(data: bytes, expected_hex: str | None, *, where: str, operation: str = "get") -> bytes:
    """Return ``data`` if it matches the stored digest (or none was stored), else raise."""
    expected = checksum_of(expected_hex)
    if expected is None:
        return data
    actual = CHECKSUM_PREFIX + sha256_hex(data)
    if actual != expected:
        raise IntegrityError(
            f"checksum mismatch for {where}: stored {expected}, read {actual} ({len(data)} bytes)",
            operation=operation,
        )
    return data


def verified_chunks(
    pieces: Iterable[bytes],
    expected_hex: str | None,
    *,
    chunk_size: int,
    where: str,
    operation: str = "get_stream",
) -> Iterator[bytes]:
    """Re-cut ``pieces`` into non-empty chunks of at most ``chunk_size`` bytes, hashing as
    they pass; the last chunk is held back until the stored digest (if any) is checked.

    One chunk is read ahead, so the last one is known when it is reached: a mismatch
    raises `IntegrityError` instead of yielding it, and a caller that stops after the
    expected number of bytes has still been told.
    """
    expected = checksum_of(expected_hex)
    digest = hashlib.sha256() if expected is not None else None
    size = 0
    pending: bytes | None = None
    for piece in pieces:
        if not piece:
            continue
        if digest is not None:
            digest.update(piece)
        size += len(piece)
        view = memoryview(piece)
        for start in range(0, len(piece), chunk_size):
            chunk = piece if len(piece) <= chunk_size else bytes(view[start : start + chunk_size])
            if pending is not None:
                yield pending
            pending = chunk
    if digest is not None:
        actual = CHECKSUM_PREFIX + digest.hexdigest()
        if actual != expected:
            raise IntegrityError(
                f"checksum mismatch for {where}: stored {expected}, read {actual} ({size} bytes)",
                operation=operation,
            )
    if pending is not None:
        yield pending


def user_metadata(metadata: Mapping[str, str] | None, internal_key: str = CHECKSUM_META_KEY) -> dict[str, str]:
    """Metadata as the user wrote it: without our checksum and version keys (matched
    case-insensitively)."""
    if not metadata:
        return {}
    return {k: v for k, v in metadata.items() if k.lower() not in (internal_key, VERSION_KEY)}


def stored_version(metadata: Mapping[str, str] | None) -> str | None:
    """The replication version stored with an object (`failover.replication.versioning`), if any."""
    for k, v in (metadata or {}).items():
        if k.lower() == VERSION_KEY:
            return v
    return None


@dataclass(frozen=True)
class Put:
    """A write's checked arguments: the content type to send and the user metadata."""

    content_type: str
    metadata: dict[str, str]


def check_put(key: str, content_type: object, metadata: object) -> Put:
    """The portable rules (`failover.portable.check_write`), run before any request."""
    checked_type, checked_metadata = check_write(key, content_type, metadata)
    return Put(checked_type or DEFAULT_CONTENT_TYPE, checked_metadata)


@dataclass(frozen=True)
class Write:
    """A put ready to send: its content type, body, and the metadata to store with it
    (the user's, plus the checksum under ``internal_key``)."""

    content_type: str
    body: Body
    stored: dict[str, str]
    internal_key: str = CHECKSUM_META_KEY

    def info(self, key: str, etag: str | None, modified: object = None) -> ObjectInfo:
        """What a put of this write returns, from what was sent and what the service answered."""
        return stored_info(
            key,
            size=self.body.size,
            etag=etag,
            content_type=self.content_type,
            modified=modified,
            metadata=self.stored,
            internal_key=self.internal_key,
        )


def stored_info(
    key: str,
    *,
    size: int,
    etag: str | None,
    content_type: str | None,
    modified: object,
    metadata: Mapping[str, str] | None,
    internal_key: str = CHECKSUM_META_KEY,
) -> ObjectInfo:
    """An object as the adapters report it: checksum and version read from its stored
    metadata, the user's metadata without them, ``modified`` as an SDK gives it (`timestamp`)."""
    return ObjectInfo(
        key=key,
        size=size,
        etag=etag,
        checksum=checksum_of(stored_digest(metadata, internal_key)),
        content_type=content_type,
        metadata=user_metadata(metadata, internal_key),
        modified=timestamp(modified),
        version=stored_version(metadata),
    )


def prepare_write(
    key: str,
    data: bytes | BinaryIO,
    content_type: str | None,
    metadata: Mapping[str, str] | None,
    if_match: str | None,
    if_absent: bool,
    *,
    limit: tuple[str, int],
    internal_key: str = CHECKSUM_META_KEY,
) -> Write:
    """Every put's preamble: the portable rules and the condition checked, the body hashed,
    the checksum added to the metadata (``limit`` as in `metadata_to_store`)."""
    checked = check_put(key, content_type, metadata)
    check_condition(if_match, if_absent)
    body = prepare_body(data)
    stored = metadata_to_store(checked.metadata, body.sha256, internal_key, limit=limit)
    return Write(checked.content_type, body, stored, internal_key)


def stored_digest(metadata: Mapping[str, str] | None, internal_key: str = CHECKSUM_META_KEY) -> str | None:
    if not metadata:
        return None
    for k, v in metadata.items():
        if k.lower() == internal_key:
            return v
    return None


def metadata_to_store(
    metadata: Mapping[str, str] | None,
    digest: str,
    internal_key: str = CHECKSUM_META_KEY,
    *,
    limit: tuple[str, int] | None = None,
) -> dict[str, str]:
    """User metadata plus our checksum; a user key that collides with ours is refused.

    ``limit`` is ``(cloud, bytes)``: the cloud's cap on the UTF-8 size of all metadata
    names and values, checked here so an oversize write fails as bad input, naming the
    rule, before a request is made.
    """
    out: dict[str, str] = {}
    for k, v in (metadata or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise InvalidInput("metadata keys and values must be str")
        if k.lower() == internal_key:
            raise InvalidInput(f"metadata key {k!r} is reserved for the checksum")
        out[k] = v
    out[internal_key] = digest
    if limit is not None:
        cloud, most = limit
        size = sum(len(k.encode()) + len(v.encode()) for k, v in out.items())
        if size > most:
            raise InvalidInput(
                f"metadata is {size} bytes; {cloud} allows at most {most} bytes of metadata names and values "
                f"(including the {len(internal_key) + len(digest)}-byte checksum entry)"
            )
    return out


# Sent when a put names no content type: S3 would otherwise say ``binary/octet-stream``,
# the others ``application/octet-stream``; one default keeps replicas identical.
DEFAULT_CONTENT_TYPE = "application/octet-stream"
