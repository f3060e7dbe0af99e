"""An async in-memory `ObjectStore`: `MemoryObjectStore` behind awaited calls.

Each call yields to the event loop once (``await asyncio.sleep(0)``) where a real
client would wait for the network, so tests and benchmarks see the scheduling an
async adapter causes; the objects and every rule are the wrapped store's, so one
`MemoryObjectStore` can back a sync facade and an async one at the same time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import BinaryIO

from failover.capabilities import ObjectInfo, validate_chunk_size, validate_key
from failover.providers.memory.storage import MemoryObjectStore


class AsyncMemoryObjectStore:
    """``AsyncMemoryObjectStore(store)``: the async face of ``store`` (a new one if None)."""

    def __init__(self, store: MemoryObjectStore | None = None) -> None:
        self.store = store if store is not None else MemoryObjectStore()

    async def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_match: str | None = None,
        if_absent: bool = False,
    ) -> ObjectInfo:
        """As `MemoryObjectStore.put`: ``data`` is bytes or a binary file, read to its end."""
        await asyncio.sleep(0)
        return self.store.put(
            key, data, content_type=content_type, metadata=metadata, if_match=if_match, if_absent=if_absent
        )

    async def get(self, key: str) -> bytes:
        await asyncio.sleep(0)
        return self.store.get(key)

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """The wrapped store's `get_stream`, one yield to the loop per chunk.

        Bad arguments raise here; the object is looked up on the first ``__anext__``
        (`NotFound` there), as the cloud adapters send their request then.  The checksum
        is verified as the last chunk is read; closing early closes the wrapped stream.
        """
        validate_key(key)
        validate_chunk_size(chunk_size)
        return self._stream(key, chunk_size)

    async def _stream(self, key: str, chunk_size: int) -> AsyncIterator[bytes]:
        await asyncio.sleep(0)
        chunks = self.store.get_stream(key, chunk_size=chunk_size)
        try:
            for chunk in chunks:
                yield chunk
                await asyncio.sleep(0)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        await asyncio.sleep(0)
        return self.store.get_range(key, start, end)

    async def head(self, key: str) -> ObjectInfo:
        await asyncio.sleep(0)
        return self.store.head(key)

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """In key order, as the wrapped store lists them; one yield to the loop per item."""
        for info in self.store.list(prefix):
            await asyncio.sleep(0)
            yield info

    async def delete(self, key: str) -> None:
        await asyncio.sleep(0)
        self.store.delete(key)

    async def copy(self, src: str, dst: str) -> ObjectInfo:
        await asyncio.sleep(0)
        return self.store.copy(src, dst)

    async def probe(self) -> None:
        await asyncio.sleep(0)
        self.store.probe()

    def __repr__(self) -> str:
        return f"AsyncMemoryObjectStore({self.store!r})"


__all__ = ["AsyncMemoryObjectStore"]
