"""What the async adapters share: one SDK client per store, opened inside the running loop.

An async SDK client (an aiohttp session underneath) belongs to the event loop it was made
on, and must be closed on it.  So an async adapter makes no client in its constructor:
`LoopClient` opens it on the first call, under a lock (two first calls open one client),
and `close` closes it, with everything opened alongside it (credentials, sessions), in
reverse order.  A call after `close` opens a new client.  Using the store from a second
loop while the first one's client is open is refused with `ConfigError`: its connections
cannot move.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Generic, TypeVar

from failover.errors import ConfigError

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


__all__ = ["LoopClient", "Opener"]
