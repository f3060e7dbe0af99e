"""Streamed reads of failover.aio.FailoverStorage: failover while the stream opens, errors
raised once it flows, the async chunking helper's checksum check; on virtual time."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from failover import FakeClock, Target
from failover.aio import FailoverStorage
from failover.aio.virtual import run
from failover.errors import IntegrityError, InvalidInput, NotFound, Unavailable
from failover.providers._aio import verified_chunks
from failover.providers.memory import MemoryObjectStore
from failover.providers.memory.aio import AsyncMemoryObjectStore
from failover.providers.memory.storage import _Object
from failover.replication import All

R = TypeVar("R")
DATA = bytes(range(256)) * 40  # 10,240 bytes


class Streaming(AsyncMemoryObjectStore):
    """An async memory store with a streamed read that fails on demand and counts closes."""

    def __init__(self, store: MemoryObjectStore | None = None) -> None:
        super().__init__(store)
        self.fail: Exception | None = None
        self.fail_after: int | None = None  # chunks handed out before a reset
        self.opened = self.closed = 0

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        return self._stream(key, chunk_size)

    async def _stream(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        self.opened += 1
        try:
            if self.fail is not None:
                raise self.fail
            for n, chunk in enumerate(self.store.get_stream(key, chunk_size=chunk_size)):
                if self.fail_after is not None and n >= self.fail_after:
                    raise Unavailable("connection reset while streaming")
                yield chunk
        finally:
            self.closed += 1


def pair(**options: Any) -> tuple[FailoverStorage, Streaming, Streaming, FakeClock]:
    clock = FakeClock()
    a, b = Streaming(), Streaming()
    for store in (a, b):
        store.store.put("k", DATA)
    targets = [Target("memory:a", a, priority=0), Target("memory:b", b, priority=1)]
    return FailoverStorage(targets, clock=clock, failback_after=0.0, **options), a, b, clock


def virtual(clock: FakeClock, main: Callable[[], Coroutine[Any, Any, R]]) -> R:
    return run(main(), clock)


async def read_all(storage: FailoverStorage, key: str = "k", chunk_size: int = 4096) -> list[bytes]:
    return [chunk async for chunk in await storage.get_stream(key, chunk_size=chunk_size)]


def corrupt(store: MemoryObjectStore, key: str, data: bytes) -> None:
    """Replace the stored bytes and keep the recorded checksum: a rotten replica."""
    obj = store._objects[key]
    store._objects[key] = _Object(data, replace(obj.info, size=len(data)))


def test_a_stream_comes_in_chunks_from_the_preferred_target_and_is_closed() -> None:
    storage, a, b, clock = pair()
    chunks = virtual(clock, lambda: read_all(storage))
    assert [len(c) for c in chunks] == [4096, 4096, 2048] and b"".join(chunks) == DATA
    assert (a.opened, a.closed, b.opened) == (1, 1, 0)


def test_a_target_that_cannot_open_the_stream_is_skipped_for_the_next() -> None:
    storage, a, b, clock = pair()
    a.fail = Unavailable("503")
    assert b"".join(virtual(clock, lambda: read_all(storage))) == DATA
    assert b.opened == 1 and storage.pool.healths["memory:a"].errors.value == 1


def test_a_corrupt_single_chunk_replica_fails_over_at_the_open() -> None:
    storage, a, b, clock = pair()
    corrupt(a.store, "k", b"\x00" * len(DATA))
    assert b"".join(virtual(clock, lambda: read_all(storage, chunk_size=len(DATA)))) == DATA
    assert b.opened == 1


def test_not_found_is_raised_by_the_await() -> None:
    storage, _, _, clock = pair()
    with pytest.raises(NotFound):
        virtual(clock, lambda: storage.get_stream("missing"))


def test_a_failure_midway_is_raised_and_counted_against_the_target() -> None:
    storage, a, b, clock = pair()
    a.fail_after = 1

    async def main() -> list[bytes]:
        got: list[bytes] = []
        with pytest.raises(Unavailable):
            async for chunk in await storage.get_stream("k", chunk_size=4096):
                got.append(chunk)
        return got

    assert virtual(clock, main) == [DATA[:4096]]  # handed out before the reset: not taken back
    assert b.opened == 0 and a.closed == 1
    assert storage.pool.healths["memory:a"].errors.value == 1


def test_leaving_early_closes_the_providers_stream() -> None:
    storage, a, _, clock = pair()

    async def main() -> None:
        stream = await storage.get_stream("k", chunk_size=1024)
        async for _ in stream:
            break
        assert a.closed == 0
        await stream.aclose()

    virtual(clock, main)
    assert a.closed == 1


def test_bad_arguments_are_refused_before_any_target_is_called() -> None:
    storage, a, _, clock = pair()
    with pytest.raises(InvalidInput):
        virtual(clock, lambda: storage.get_stream("k", chunk_size=0))
    with pytest.raises(InvalidInput):
        virtual(clock, lambda: storage.get_stream(""))
    assert a.opened == 0


def test_a_replicated_stream_avoids_a_target_that_owes_the_key(tmp_path: Path) -> None:
    clock = FakeClock()
    a, b = Streaming(), Streaming()
    targets = [Target("memory:a", a, priority=0), Target("memory:b", b, priority=1)]
    storage = FailoverStorage(targets, clock=clock, writes=All(journal=tmp_path / "j.sqlite", restore_check=None))
    a.store.put("k", b"old")

    async def main() -> bytes:
        try:
            original = a.put
            a.put = _refuse  # type: ignore[method-assign]
            await storage.put("k", b"new")  # b takes it; a still owes it
            a.put = original  # type: ignore[method-assign]
            return b"".join([chunk async for chunk in await storage.get_stream("k")])
        finally:
            await storage.aclose()

    assert virtual(clock, main) == b"new"
    assert a.opened == 0


async def _refuse(*_: Any, **__: Any) -> Any:
    raise Unavailable("503")


# ---------------------------------------------------------------- the chunking helper


async def _pieces(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def test_the_async_helper_recuts_and_checks_the_digest_before_the_last_chunk() -> None:
    digest = hashlib.sha256(b"abcdefgh").hexdigest()

    async def chunks(expected: str) -> list[bytes]:
        out: list[bytes] = []
        stream = verified_chunks(_pieces(b"abc", b"", b"defgh"), expected, chunk_size=2, where="mem://k")
        try:
            async for chunk in stream:
                out.append(chunk)
        except IntegrityError:
            out.append(b"<mismatch>")
        return out

    clock = FakeClock()
    assert virtual(clock, lambda: chunks(digest)) == [b"ab", b"c", b"de", b"fg", b"h"]
    wrong = hashlib.sha256(b"other").hexdigest()
    assert virtual(clock, lambda: chunks(wrong)) == [b"ab", b"c", b"de", b"fg", b"<mismatch>"]
