"""The async facade's ``put`` streams a file to its provider, as the sync facade does: a
seekable file is handed over as it is and rewound for a retry on the next target, one that
cannot seek is tried once, and an async iterator reaches the provider as a seekable spool.
The facade itself never reads a file; the provider does."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pytest

from failover import FailoverStorage as SyncStorage
from failover import FakeClock, Target
from failover.aio import FailoverStorage
from failover.aio.virtual import run
from failover.capabilities import ObjectInfo
from failover.errors import Unavailable
from failover.providers.memory import MemoryObjectStore
from failover.providers.memory.aio import AsyncMemoryObjectStore
from failover.replication import Primary

R = TypeVar("R")
PAYLOAD = b"the quarterly report, " * 1000

# Who is reading a `SpyFile` right now: a provider's put names itself while it reads.
reading: list[str] = []


class SpyFile(io.BytesIO):
    """A seekable binary file that records who read it, and every position it was moved to."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.readers: list[str] = []
        self.seeks: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.readers.append(reading[-1] if reading else "the facade")
        return super().read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        position = super().seek(offset, whence)
        self.seeks.append(position)
        return position


class Pipe(io.RawIOBase):
    """A binary stream that cannot seek, like a pipe or a socket."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class Recording(AsyncMemoryObjectStore):
    """An async memory store that reads the body it is given itself, records what it was
    handed and the bytes it read, and fails after reading when ``fail`` is set."""

    def __init__(self, name: str, *, fail: bool = False) -> None:
        super().__init__(MemoryObjectStore())
        self.name = name
        self.fail = fail
        self.given: list[object] = []
        self.sent: list[bytes] = []

    async def put(self, key: str, data: bytes | BinaryIO, **options: Any) -> ObjectInfo:
        self.given.append(data)
        reading.append(self.name)
        try:
            body = data if isinstance(data, bytes) else data.read()
        finally:
            reading.pop()
        self.sent.append(body)
        await asyncio.sleep(0)  # where a real client waits for the network
        if self.fail:
            raise Unavailable(f"{self.name} is down", operation="put")
        return await super().put(key, body, **options)


class FailingSync(MemoryObjectStore):
    """A sync memory store whose puts fail as an unreachable region's do, after reading."""

    def put(self, key: str, data: bytes | BinaryIO, **options: Any) -> ObjectInfo:
        if not isinstance(data, bytes):
            data.read()
        raise Unavailable("down", operation="put")


def two(first: Recording, second: Recording, **options: Any) -> FailoverStorage:
    return FailoverStorage([Target("a", first), Target("b", second, priority=1)], clock=CLOCK, **options)


CLOCK = FakeClock()


def on_loop(main: Coroutine[Any, Any, R]) -> R:
    return run(main, CLOCK)


def test_a_seekable_file_is_rewound_to_its_start_for_the_retry_on_the_next_target() -> None:
    first, second = Recording("a", fail=True), Recording("b")
    file = SpyFile(b"header:" + PAYLOAD)
    file.seek(len(b"header:"))  # the body starts where the file stands, not at 0
    info = on_loop(two(first, second).put("reports/q3", file))
    assert first.given == [file] and second.given == [file]  # the file itself, not its bytes
    assert first.sent == second.sent == [PAYLOAD]
    assert file.seeks.count(len(b"header:")) >= 2  # rewound there before each attempt
    assert second.store.get("reports/q3") == PAYLOAD and info.size == len(PAYLOAD)
    assert list(first.store.list()) == []


def test_the_facade_never_reads_a_seekable_file_itself() -> None:
    only = Recording("a")
    file = SpyFile(PAYLOAD)
    on_loop(FailoverStorage([Target("a", only)], clock=CLOCK).put("k", file))
    assert file.readers and set(file.readers) == {"a"}
    assert only.store.get("k") == PAYLOAD


def test_a_file_that_cannot_seek_is_tried_once_and_its_failure_raised_as_the_sync_facade_does() -> None:
    first, second = Recording("a", fail=True), Recording("b")
    with pytest.raises(Unavailable, match="a is down") as caught:
        on_loop(two(first, second).put("k", Pipe(PAYLOAD)))  # type: ignore[arg-type]
    assert first.sent == [PAYLOAD] and second.given == []  # never moved to the next target
    assert list(second.store.list()) == []
    # The sync facade over the same kind of targets: the same error, no second attempt.
    untouched = MemoryObjectStore()
    sync = SyncStorage([Target("a", FailingSync()), Target("b", untouched, priority=1)])
    with pytest.raises(type(caught.value)):
        sync.put("k", Pipe(PAYLOAD))  # type: ignore[arg-type]
    assert list(untouched.list()) == []


def test_a_file_that_cannot_seek_is_written_when_the_first_target_takes_it() -> None:
    first, second = Recording("a"), Recording("b")
    on_loop(two(first, second).put("k", Pipe(PAYLOAD)))  # type: ignore[arg-type]
    assert first.store.get("k") == PAYLOAD and second.given == []


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


def test_an_iterator_reaches_the_providers_as_one_seekable_file_closed_after_the_put() -> None:
    first, second = Recording("a", fail=True), Recording("b")
    on_loop(two(first, second).put("k", chunks(PAYLOAD[:100], PAYLOAD[100:])))  # type: ignore[arg-type]
    [spool] = first.given
    assert second.given == [spool] and not isinstance(spool, bytes)  # a file, read by each provider
    assert first.sent == second.sent == [PAYLOAD]
    assert getattr(spool, "closed", False)
    assert second.store.get("k") == PAYLOAD


def test_with_a_write_mode_a_file_is_read_once_and_every_target_gets_the_bytes(tmp_path: Path) -> None:
    first, second = Recording("a"), Recording("b")
    storage = two(first, second, writes=Primary(journal=tmp_path / "journal.sqlite", restore_check=None))
    file = SpyFile(PAYLOAD)

    async def main() -> None:
        try:
            await storage.put("k", file)
        finally:
            await storage.aclose()

    on_loop(main())
    assert file.readers == ["the facade"]  # into memory once, as the sync replication does
    assert first.given and all(isinstance(given, bytes) for given in first.given)
    assert first.store.get("k") == PAYLOAD
