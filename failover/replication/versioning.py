"""Object versions for last-writer-wins: a wall-clock timestamp plus the writer's id.

A version is the string ``"<nanoseconds, 20 digits>-<writer id>"``.  Zero-padding makes
string order equal time order, so two versions compare with ``<`` and SQLite's ``MAX``
works on them.  The writer id breaks ties between two writers in the same nanosecond.

Each replicated object carries its version in its stored metadata under `VERSION_KEY`.
The key is lowercase letters only because the three clouds disagree on everything else:
S3 lowercases metadata names and Azure forbids ``-`` (names must be C# identifiers).
The adapters report it as `ObjectInfo.version` and hide it from ``ObjectInfo.metadata``
(`failover.portable`); to write an object back with its version, pass
`metadata_with_version`.  An object without the key (written before replication was
switched on, or by another tool) has version ``""``, older than any version this
library writes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping

from failover.capabilities import ObjectInfo
from failover.errors import ConfigError
from failover.portable import VERSION_KEY

NO_VERSION = ""
_WIDTH = 20


def version_of(metadata: Mapping[str, str] | ObjectInfo | None) -> str:
    """The version of an object (``ObjectInfo.version``), or the one stored in ``metadata``
    (names compared case-insensitively); ``""`` when there is none."""
    if isinstance(metadata, ObjectInfo):
        if metadata.version is not None:
            return metadata.version
        metadata = metadata.metadata
    if not metadata:
        return NO_VERSION
    value = metadata.get(VERSION_KEY)
    if value is not None:
        return value
    for name, value in metadata.items():
        if name.lower() == VERSION_KEY:
            return value
    return NO_VERSION


def without_version(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata with our version key removed (a copy)."""
    return {k: v for k, v in (metadata or {}).items() if k.lower() != VERSION_KEY}


def metadata_with_version(info: ObjectInfo) -> dict[str, str]:
    """What to write to copy ``info``'s object elsewhere: its metadata plus its version."""
    out = dict(info.metadata)
    if info.version:
        out[VERSION_KEY] = info.version
    return out


def timestamp_of(version: str) -> int:
    """Nanoseconds since the epoch encoded in ``version`` (0 for ``""``)."""
    head = version.partition("-")[0]
    return int(head) if head.isdigit() else 0


class Versioner:
    """Hands out strictly increasing versions for one writer.

    Versions follow the wall clock (``time_ns``, injectable) but never go backwards:
    if the clock steps back, or two writes land in the same nanosecond, the next
    version is the last one plus a nanosecond.  ``floor`` is the highest version a
    previous run left in the journal, so a restarted writer never reuses the past.
    """

    def __init__(
        self, writer_id: str | None = None, *, time_ns: Callable[[], int] = time.time_ns, floor: str = ""
    ) -> None:
        writer = writer_id if writer_id is not None else os.urandom(6).hex()
        if not writer or not writer.isascii() or not writer.replace("_", "").isalnum():
            raise ConfigError(f"writer_id must be ASCII letters, digits or '_', not {writer_id!r}")
        self.writer_id = writer
        self._time_ns = time_ns
        self._lock = threading.Lock()
        self._last = timestamp_of(floor)

    def next(self) -> str:
        with self._lock:
            now = max(self._time_ns(), self._last + 1)
            self._last = now
        return f"{now:0{_WIDTH}d}-{self.writer_id}"


__all__ = [
    "NO_VERSION",
    "VERSION_KEY",
    "Versioner",
    "metadata_with_version",
    "timestamp_of",
    "version_of",
    "without_version",
]
