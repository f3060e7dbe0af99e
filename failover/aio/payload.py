"""What the async facade's ``put`` hands its providers, from each form of ``data`` it takes.

Without a write mode a put is one routed call, and a body is passed through to the
provider, which reads (and hashes) it itself, as the sync facade does:

* bytes (a bytearray or memoryview is copied into bytes) go as they are;
* a seekable binary file goes as it is, rewound to the position it had (`tell`) before
  each attempt, so a retry on another target sends the same bytes;
* a file that cannot seek is tried once: a failure on the first target is raised, as by
  the sync facade (a retry could only send what is left of it);
* an async iterator of chunks can be consumed only once, so it is copied, chunk by chunk,
  into a `tempfile.SpooledTemporaryFile` (in memory up to `SPOOL_MEMORY_LIMIT`, on disk
  beyond), which then goes as a seekable file and is closed when the put returns.

With a write mode every target is sent the same bytes, several at once, so the body is
read into memory once (`read_payload`), as by the sync facade's replication.

Every form is checked before any target is tried: a str, a text-mode file and an
iterator that yields anything but bytes are `InvalidInput`, naming ``data``.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import BinaryIO, cast

from failover.errors import InvalidInput
from failover.facades.storage import read_all

# An iterator's chunks stay in memory up to this many bytes; beyond, the spool is a file.
SPOOL_MEMORY_LIMIT = 8 * 1024 * 1024

Data = bytes | bytearray | memoryview | BinaryIO | AsyncIterable[bytes]


@dataclass(frozen=True)
class Payload:
    """A put's body for its attempts: ``data`` and, for a file, where each attempt starts."""

    data: bytes | BinaryIO
    # The position to seek to before each attempt; None for bytes and for a file that cannot seek.
    start: int | None = None
    # A spool this module made, closed by `close`; a caller's own file is left open.
    owned: bool = False

    @property
    def retryable(self) -> bool:
        """Whether a failed attempt may be retried on another target: the same bytes again."""
        return self.start is not None or isinstance(self.data, bytes)

    def for_attempt(self) -> bytes | BinaryIO:
        """The body, rewound to its start."""
        if self.start is not None:
            cast(BinaryIO, self.data).seek(self.start)
        return self.data

    def close(self) -> None:
        if self.owned:
            cast(BinaryIO, self.data).close()


async def streamed(data: Data) -> Payload:
    """``data`` as `FailoverStorage.put` passes it to a provider (see the module docstring)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return Payload(bytes(data))
    if isinstance(data, AsyncIterable):
        return await _spooled(data)
    stream = _binary_file(data)
    return Payload(stream, _start(stream))


async def read_payload(data: Data) -> bytes:
    """The bytes to write, from any form `FailoverStorage.put` takes, read once into memory."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if not isinstance(data, AsyncIterable):
        return read_all(data)  # a file-like, or InvalidInput naming what it got
    chunks: list[bytes] = []
    async for chunk in data:
        chunks.append(_chunk(chunk))
    return b"".join(chunks)


async def _spooled(chunks: AsyncIterable[bytes]) -> Payload:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_LIMIT)  # noqa: SIM115 - closed by Payload.close
    try:
        async for chunk in chunks:
            spool.write(_chunk(chunk))
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return Payload(cast(BinaryIO, spool), 0, owned=True)


def _chunk(chunk: object) -> bytes:
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"data: an async iterator must yield bytes, not {type(chunk).__name__}")
    return bytes(chunk)


def _binary_file(data: object) -> BinaryIO:
    """``data`` if it is a file-like object that may be binary; the provider reads it, and
    refuses one whose ``read`` gives anything but bytes."""
    if not callable(getattr(data, "read", None)):
        raise InvalidInput(f"data must be bytes or a binary file-like object, not {type(data).__name__}")
    if isinstance(data, io.TextIOBase):
        # Refused here, before any target: guessing an encoding would change the checksum.
        raise InvalidInput(f"data: file-like data must be opened in binary mode, not {type(data).__name__}")
    return cast(BinaryIO, data)


def _start(stream: BinaryIO) -> int | None:
    """Where the body starts, if the stream can be rewound there; None if it cannot."""
    try:
        return stream.tell() if stream.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


__all__ = ["SPOOL_MEMORY_LIMIT", "Payload", "read_payload", "streamed"]
