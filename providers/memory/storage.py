"""An in-memory `ObjectStore`: the reference behaviour the contract suite checks every cloud against."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import BinaryIO

from failover.capabilities import ObjectInfo, check_condition, validate_chunk_size, validate_key, validate_range
from failover.clock import Clock, SystemClock
from failover.errors import IntegrityError, InvalidInput, NotFound, PreconditionFailed
from failover.portable import check_write, split_version

DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class _Object:
    data: bytes
    info: ObjectInfo


def read_payload(data: bytes | bytearray | memoryview | BinaryIO) -> bytes:
    """The bytes to store: ``data`` itself, or everything read from a binary file-like object."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    read = getattr(data, "read", None)
    if not callable(read):
        raise InvalidInput(f"data must be bytes or a binary file-like object, not {type(data).__name__}")
    payload = read()
    if isinstance(payload, (bytearray, memoryview)):
        payload = bytes(payload)
    if not isinstance(payload, bytes):
        # A text-mode file: guessing an encoding would silently change the checksum.
        raise InvalidInput(
            f"file-like data must be opened in binary mode (read() gave {type(payload).__name__})"
        )
    return payload


class MemoryObjectStore:
    """Objects in a dict, guarded by one lock.

    * ``etag`` is a quoted token new with every write (``put`` and ``copy``), as on Azure
      and GCS: the write's number and the content's MD5 hex.  Rewriting the same bytes
      gives a new etag (S3's would not change), so a stale ``if_match`` is refused here
      whenever any cloud would refuse it.
    * ``put(if_match=, if_absent=)`` is checked and applied under the lock, so of two
      writers holding the same etag exactly one succeeds; the loser gets
      `PreconditionFailed`, as does ``if_match`` on a missing key.
    * ``checksum`` is ``"sha256:<hex>"`` of the content.
    * keys, metadata and content types follow the portable model (`failover.portable`),
      as on every cloud adapter; the replication version is ``version``, not metadata.
    * ``content_type`` defaults to ``application/octet-stream``.
    * ``modified`` is ``clock.monotonic()`` at the write: inject a `FakeClock` to control it.
    * ``list`` snapshots the matching keys on its first step and yields them in key order;
      a key deleted during iteration is skipped, one added is not seen.

    Hashing and reading file-like data happen outside the lock, so a large put never
    blocks other callers.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._objects: dict[str, _Object] = {}
        self._writes = 0  # numbers each write's etag; guarded by the lock
        self._lock = threading.Lock()

    # ------------------------------------------------------------ writes

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
        # As strict as the strictest cloud, so tests on memory cannot pass what a cloud refuses.
        content_type, meta = check_write(key, content_type, metadata)
        check_condition(if_match, if_absent)
        payload = read_payload(data)
        user, version = split_version(meta)
        md5 = hashlib.md5(payload, usedforsecurity=False).hexdigest()
        info = ObjectInfo(
            key=key,
            size=len(payload),
            checksum=f"sha256:{hashlib.sha256(payload).hexdigest()}",
            content_type=content_type or DEFAULT_CONTENT_TYPE,
            metadata=user,
            modified=self._clock.monotonic(),
            version=version,
        )
        with self._lock:
            current = self._objects.get(key)
            if if_absent and current is not None:
                raise PreconditionFailed(f"put {key!r} if_absent: the object exists", operation="put")
            if if_match is not None and (current is None or current.info.etag != if_match):
                now = "missing" if current is None else f"at etag {current.info.etag}"
                raise PreconditionFailed(f"put {key!r} if_match={if_match}: the object is {now}", operation="put")
            info = replace(info, etag=self._next_etag(md5))
            self._objects[key] = _Object(payload, info)
        return _fresh(info)

    def _next_etag(self, md5: str) -> str:
        # Called under the lock.
        self._writes += 1
        return f'"{self._writes:x}.{md5}"'

    def copy(self, src: str, dst: str) -> ObjectInfo:
        validate_key(src)
        validate_key(dst)
        now = self._clock.monotonic()
        with self._lock:
            obj = self._objects.get(src)
            if obj is None:
                raise NotFound(f"object {src!r} not found", operation="copy")
            info = replace(obj.info, key=dst, modified=now, etag=self._next_etag(_md5_of(obj.info.etag)))
            self._objects[dst] = _Object(obj.data, info)
        return _fresh(info)

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._lock:
            self._objects.pop(key, None)

    # ------------------------------------------------------------ reads

    def get(self, key: str) -> bytes:
        return self._lookup(key, "get").data

    def get_range(self, key: str, start: int, end: int) -> bytes:
        validate_key(key)
        validate_range(start, end)
        # bytes are immutable, so slicing outside the lock is safe.
        return self._lookup(key, "get_range").data[start:end]

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The object's bytes in chunks, verified against its checksum as the last is read.

        The object is looked up now (`NotFound` here, not from the iterator); the
        iterator serves that version even if the key is overwritten meanwhile.
        """
        validate_key(key)
        validate_chunk_size(chunk_size)
        return _stream(self._lookup(key, "get_stream"), chunk_size)

    def head(self, key: str) -> ObjectInfo:
        return _fresh(self._lookup(key, "head").info)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if not isinstance(prefix, str):
            raise InvalidInput(f"prefix must be a str, not {type(prefix).__name__}")
        return self._iterate(prefix)

    def _iterate(self, prefix: str) -> Iterator[ObjectInfo]:
        with self._lock:
            keys = [key for key in self._objects if key.startswith(prefix)]
        # Sorting by code point equals sorting by UTF-8 bytes, the order S3 and GCS list in.
        keys.sort()
        for key in keys:
            with self._lock:
                obj = self._objects.get(key)
            if obj is not None:
                yield _fresh(obj.info)

    def _lookup(self, key: str, operation: str) -> _Object:
        validate_key(key)
        with self._lock:
            obj = self._objects.get(key)
        if obj is None:
            raise NotFound(f"object {key!r} not found", operation=operation)
        return obj

    # ------------------------------------------------------------ health

    def probe(self) -> None:
        """Cheap health check: the store is healthy when its lock can be taken."""
        with self._lock:
            pass

    def __repr__(self) -> str:
        return f"MemoryObjectStore(objects={len(self._objects)})"


def _stream(obj: _Object, chunk_size: int) -> Iterator[bytes]:
    data = obj.data
    expected = obj.info.checksum
    digest = hashlib.sha256()
    # Verified before the last chunk is yielded, as the cloud adapters do.
    for start in range(0, len(data), chunk_size):
        chunk = data[start : start + chunk_size]
        digest.update(chunk)
        if start + chunk_size >= len(data):
            _check_digest(digest, expected, obj.info.key, len(data))
        yield chunk
    if not data:
        _check_digest(digest, expected, obj.info.key, 0)


def _check_digest(digest: hashlib._Hash, expected: str | None, key: str, size: int) -> None:
    actual = f"sha256:{digest.hexdigest()}"
    if expected is not None and actual != expected:
        raise IntegrityError(
            f"checksum mismatch for memory object {key!r}: stored {expected}, read {actual} ({size} bytes)",
            operation="get_stream",
        )


def _md5_of(etag: str | None) -> str:
    return (etag or "").strip('"').rpartition(".")[2]


def _fresh(info: ObjectInfo) -> ObjectInfo:
    # ObjectInfo is frozen but its metadata dict is not: hand each caller its own copy.
    return replace(info, metadata=dict(info.metadata))


__all__ = ["DEFAULT_CONTENT_TYPE", "MemoryObjectStore", "read_payload"]
