"""What the async adapters share: one SDK client per store, opened inside the running loop.

An async SDK client (an aiohttp session underneath) belongs to the event loop it was made
on, and must be closed on it.  So an async adapter makes no client in its constructor:
`LoopClient` opens it on the first call, under a lock (two first calls open one client),
and `close` closes it, with everything opened alongside it (credentials, sessions), in
reverse order.  A call after `close` opens a new client.  Using the store from a second
loop while the first one's client is open is refused with `ConfigError`: its connections
cannot move.

`verified_chunks` is the async twin of the sync adapters' streamed-read helper: the
same chunking and the same checksum check before the last chunk is handed out.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Generic, TypeVar

from failover.errors import ConfigError, IntegrityError
from failover.providers._objects import CHECKSUM_PREFIX, checksum_of

T = TypeVar("T")

# Builds the client: anything that must be closed with it goes on the stack it is given.
Opener = Callable[[AsyncExitStack], Awaitable[T]]


class LoopClient(Generic[T]):
    """``LoopClient(open, owner=...)``: the client ``open`` makes, made on first `get`."""

    def __init__(self, open_client: Opener[T], *, owner: str) -> None:
        self._open = open_client
        self._owner = owner
        self._lock = asyncio.Lock()  # binds to a loop on first use, not here
        self._client: T | None = None
        self._stack: AsyncExitStack | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def get(self) -> T:
        """The open client, opened now if needed, on the running loop."""
        loop = asyncio.get_running_loop()
        if self._client is not None and self._loop is loop:
            return self._client
        if self._loop is not None and self._loop is not loop:
            if not self._loop.is_closed():
                raise ConfigError(
                    f"{self._owner} is open on another event loop: await its close() there before using it here"
                )
            self._forget()  # that loop is gone, and its connections with it
        async with self._lock:
            if self._client is None:
                stack = AsyncExitStack()
                try:
                    client = await self._open(stack)
                except BaseException:
                    await stack.aclose()
                    raise
                self._client, self._stack, self._loop = client, stack, loop
            return self._client

    @property
    def is_open(self) -> bool:
        return self._client is not None

    async def close(self) -> None:
        """Close the client and what was opened with it, on the loop it was opened on; a
        no-op if none is open.  A client whose loop is closed is dropped: its connections
        went with that loop."""
        stack, loop = self._stack, self._loop
        if loop is not None and loop is not asyncio.get_running_loop() and not loop.is_closed():
            raise ConfigError(f"{self._owner} is open on another event loop: close it there")
        self._forget()
        if stack is not None and loop is not None and not loop.is_closed():
            await stack.aclose()

    def _forget(self) -> None:
        self._client, self._stack, self._loop = None, None, None
        self._lock = asyncio.Lock()


async def verified_chunks(
    pieces: AsyncIterable[bytes],
    expected_hex: str | None,
    *,
    chunk_size: int,
    where: str,
    operation: str = "get_stream",
) -> AsyncIterator[bytes]:
    """Re-cut ``pieces`` into non-empty chunks of at most ``chunk_size`` bytes, hashing as
    they pass; the last chunk is held back until the stored digest (if any) is checked
    (`failover.providers._objects.verified_chunks`, awaited)."""
    expected = checksum_of(expected_hex)
    digest = hashlib.sha256() if expected is not None else None
    size = 0
    pending: bytes | None = None
    async for piece in pieces:
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


__all__ = ["LoopClient", "Opener", "verified_chunks"]
