"""`AsyncMemoryObjectStore.get_stream`: the wrapped store's stream, awaited chunk by chunk,
with the cloud adapters' timing: bad arguments at the call, `NotFound` on the first step."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from failover import Target
from failover.aio import FailoverStorage
from failover.errors import IntegrityError, InvalidInput, NotFound
from failover.providers.memory import MemoryObjectStore
from failover.providers.memory.aio import AsyncMemoryObjectStore
from failover.providers.memory.storage import _Object

DATA = bytes(range(256)) * 40  # 10,240 bytes


def store_with(data: bytes = DATA) -> AsyncMemoryObjectStore:
    store = MemoryObjectStore()
    store.put("big", data)
    store.put("empty", b"")
    return AsyncMemoryObjectStore(store)


def test_a_stream_comes_in_chunks_of_at_most_the_asked_size_and_not_found_on_its_first_step() -> None:
    store = store_with()

    async def scenario() -> list[bytes]:
        assert [c async for c in store.get_stream("empty")] == []
        missing = store.get_stream("missing")  # nothing asked yet
        with pytest.raises(NotFound):
            await missing.__anext__()
        return [c async for c in store.get_stream("big", chunk_size=4096)]

    chunks = asyncio.run(scenario())
    assert [len(c) for c in chunks] == [4096, 4096, 2048] and b"".join(chunks) == DATA


def test_bad_stream_arguments_raise_at_the_call() -> None:
    store = store_with()
    with pytest.raises(InvalidInput, match="chunk_size"):
        store.get_stream("big", chunk_size=0)
    with pytest.raises(InvalidInput):
        store.get_stream("trailing.")


def test_a_corrupt_copy_is_refused_before_its_last_chunk() -> None:
    store = store_with()
    obj = store.store._objects["big"]
    store.store._objects["big"] = _Object(b"\x00" * len(DATA), replace(obj.info, size=len(DATA)))

    async def scenario() -> list[bytes]:
        got: list[bytes] = []
        with pytest.raises(IntegrityError):
            async for chunk in store.get_stream("big", chunk_size=4096):
                got.append(chunk)
        return got

    assert len(asyncio.run(scenario())) == 2  # the last chunk never handed out


def test_the_async_facade_streams_from_async_memory_targets() -> None:
    first, second = store_with(), store_with()
    first.store.delete("big")
    storage = FailoverStorage([Target("memory:a", first), Target("memory:b", second, priority=1)])

    async def scenario() -> bytes:
        return b"".join([c async for c in await storage.get_stream("big", chunk_size=1000)])

    with pytest.raises(NotFound):
        asyncio.run(scenario())  # the preferred target's answer: it lacks the object
    first.store.put("big", DATA)
    assert asyncio.run(scenario()) == DATA
