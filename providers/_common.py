"""Code every cloud adapter shares: the sha256 checksum scheme, body preparation, redaction.

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

import email.utils
import hashlib
import io
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO
from urllib.parse import urlsplit, urlunsplit

from failover.capabilities import ObjectInfo, check_condition, validate_range
from failover.deadline import time_left
from failover.errors import ConfigError, IntegrityError, InvalidInput, Timeout
from failover.portable import VERSION_KEY, check_write
from failover.redact import redact as redact_secrets

CHECKSUM_PREFIX = "sha256:"
CHECKSUM_META_KEY = "failover-sha256"
CHUNK_SIZE = 1024 * 1024
# Every adapter's SDK defaults: a 2 s connect allows one lost SYN (Linux resends after
# 1 s); a 5 s read is a judgement (docs/providers.md).  Cross-target retries are ours.
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_READ_TIMEOUT = 5.0
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


def check_range(start: int, end: int) -> None:
    # A float, bool or str offset is a caller bug, not something to round or parse.
    validate_range(start, end)


def check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str):
        raise InvalidInput(f"prefix must be a str, not {type(prefix).__name__}")
    return prefix


def check_timeout(name: str, value: float | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{name} must be a positive number of seconds, not {value!r}")


def check_timeout_pair(
    timeout: float | tuple[float, float], check: Callable[[str, float], None] = check_timeout
) -> tuple[float, float]:
    """``(connect, read)`` seconds from seconds or a pair, each checked by ``check``."""
    if not isinstance(timeout, tuple):
        check("timeout", timeout)
        return (timeout, timeout)
    if len(timeout) != 2:
        raise ConfigError(f"timeout must be seconds or (connect, read), not {timeout!r}")
    check("connect timeout", timeout[0])
    check("read timeout", timeout[1])
    return timeout


def check_instance_id(instance_id: str) -> None:
    if not isinstance(instance_id, str) or not instance_id:
        raise InvalidInput(f"instance id must be a non-empty str, not {instance_id!r}")


def copy_tags(tags: Mapping[str, str] | None, what: str = "tags") -> dict[str, str]:
    """A private copy of ``tags`` (empty for None); `InvalidInput` unless it is a mapping.
    Each cloud then checks the names and values it accepts."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidInput(f"{what} must be a mapping of str to str, not {type(tags).__name__}")
    return dict(tags)


def timestamp(value: object) -> float | None:
    """Seconds since the epoch from an SDK's datetime or ISO 8601 string (or seconds already);
    None if absent or unreadable."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


# The shortest socket timeout `remaining_timeout` hands to an SDK: below this a request
# could not even connect, and a zero or negative timeout means "no timeout" to some SDKs.
MIN_TIMEOUT = 0.05


def remaining_timeout(default: float, *, operation: str | None = None) -> float:
    """``default`` cut to the time left before the running attempt's deadline.

    The deadline is the one the executor publishes to providers with ``reads_deadline =
    True`` (`failover.deadline`); with none set, ``default`` is returned as it is.  It is
    an absolute time on the executor's clock.  The
    result is never below `MIN_TIMEOUT`.  If the deadline has already passed, `Timeout`
    is raised instead, so no request is sent.  The time left is measured on the clock the
    deadline was set on (`failover.deadline.time_left`), so an executor on a fake clock
    still gets real timeouts.

    It bounds one request's socket waits, not the request as a whole: connect and read
    are each cut to what is left, and a read timeout bounds each silence between bytes.
    """
    left = time_left()
    if left is None:
        return default
    if left <= 0:
        raise Timeout("attempt deadline passed before the request", operation=operation)
    return max(MIN_TIMEOUT, min(default, left))


def redact(text: str, limit: int = 400) -> str:
    """An SDK message made safe to repeat: secrets masked by `failover.redact.redact`
    (requests puts the full URL, SAS included, in its messages), whitespace collapsed to
    one line, at most ``limit`` chars."""
    one_line = " ".join(redact_secrets(str(text)).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


def safe_url(url: str | None) -> str | None:
    """A URL safe to show: no query string (an Azure account URL may carry a SAS), no user:password."""
    if url is None:
        return None
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())
