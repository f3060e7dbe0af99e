"""The async facade's ``put`` takes what the sync one takes, and an async iterator of chunks:
each is read once, and every target gets the same bytes."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import pytest

from failover import Target
from failover.aio import FailoverStorage
from failover.capabilities import ObjectInfo
from failover.errors import InvalidInput, Unavailable
from failover.providers.memory import MemoryObjectStore
from failover.providers.memory.aio import AsyncMemoryObjectStore


def facade() -> tuple[FailoverStorage, MemoryObjectStore]:
    store = MemoryObjectStore()
    return FailoverStorage([Target("memory:a", AsyncMemoryObjectStore(store))]), store


async def chunks(*parts: object) -> AsyncIterator[object]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


@pytest.mark.parametrize(
    "data",
    [b"the report", bytearray(b"the report"), memoryview(b"the report"), io.BytesIO(b"the report")],
    ids=["bytes", "bytearray", "memoryview", "file"],
)
def test_put_takes_bytes_like_data_and_binary_files(data: object) -> None:
    storage, store = facade()
    info = asyncio.run(storage.put("reports/q3", data))  # type: ignore[arg-type]
    assert store.get("reports/q3") == b"the report" and info.size == len(b"the report")


def test_put_takes_an_async_iterator_of_chunks() -> None:
    storage, store = facade()
    asyncio.run(storage.put("reports/q3", chunks(b"the ", bytearray(b"rep"), memoryview(b"ort"))))  # type: ignore[arg-type]
    assert store.get("reports/q3") == b"the report"


class Refusing(AsyncMemoryObjectStore):
    """An async store whose writes fail as an unreachable region's do."""

    async def put(self, key: str, data: bytes, **options: object) -> ObjectInfo:
        self.tried = getattr(self, "tried", 0) + 1
        raise Unavailable("503", operation="put")


def test_an_iterator_is_read_once_and_a_retry_on_another_target_gets_the_same_bytes() -> None:
    first, second = Refusing(), MemoryObjectStore()
    storage = FailoverStorage(
        [Target("memory:a", first), Target("memory:b", AsyncMemoryObjectStore(second), priority=1)]
    )
    asyncio.run(storage.put("k", chunks(b"once ", b"only")))  # type: ignore[arg-type]
    assert first.tried == 1 and second.get("k") == b"once only"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("text", "data must be bytes or a binary file-like object, not str"),
        (io.StringIO("text"), "file-like data must be opened in binary mode"),
        (chunks(b"ok", "text"), "data: an async iterator must yield bytes, not str"),
    ],
    ids=["str", "text file", "iterator of str"],
)
def test_data_of_the_wrong_kind_is_refused_naming_it_before_any_target_is_written(data: object, message: str) -> None:
    storage, store = facade()
    with pytest.raises(InvalidInput, match=message):
        asyncio.run(storage.put("k", data))  # type: ignore[arg-type]
    assert list(store.list()) == []
