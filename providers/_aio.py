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
`body_parts` cuts a put's body into the pieces a streamed upload sends, checking on the
way that they are still the bytes the checksum was computed from, and `BodyFeed` hands
them to aiohttp; `shielded` runs the clean-up of an upload that failed or was cancelled
to its end, and `created` makes sure an upload whose creation was cancelled is cleaned up too.
`prepared_write` is every async put's preamble, its body hashed off the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping
from contextlib import AsyncExitStack
from typing import Any, BinaryIO, Generic, TypeVar

from failover.errors import ConfigError, IntegrityError, InvalidInput
from failover.providers._objects import CHECKSUM_META_KEY, CHECKSUM_PREFIX, Body, Write, checksum_of, prepare_write

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


def body_parts(body: Body, part_size: int, *, where: str) -> Iterator[bytes]:
    """``body``'s bytes, from its stream's current position, in pieces of ``part_size``
    bytes (the last one shorter, none for an empty body), read one at a time as the
    caller asks for the next.

    The checksum stored with the object was computed from an earlier pass over the
    stream (`failover.providers._objects.prepare_body`); the pieces are hashed again as
    they are read, and a body that ends early or no longer hashes the same (a file changed
    meanwhile) raises `IntegrityError` instead of its last piece, so an upload that sends
    its pieces as they come never completes with bytes the checksum does not describe.
    """
    digest = hashlib.sha256()
    left = body.size
    while left > 0:
        piece = _read_exactly(body.stream, min(part_size, left))
        digest.update(piece)
        left -= len(piece)
        if (not piece or left == 0) and (left > 0 or digest.hexdigest() != body.sha256):
            raise IntegrityError(
                f"put {where}: the body changed while it was uploaded (read {body.size - left} of "
                f"{body.size} bytes, not the bytes its checksum was computed from)",
                operation="put",
            )
        yield piece
        del piece  # not held while the next one is read: one piece in memory at a time


def _read_exactly(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at the end: a raw stream may return less per read."""
    pieces: list[bytes] = []
    wanted = size
    while wanted > 0:
        piece = stream.read(wanted)
        if not piece:
            break
        if not isinstance(piece, (bytes, bytearray, memoryview)):
            raise InvalidInput(f"data: the stream returned {type(piece).__name__}, not bytes: open it in binary mode")
        pieces.append(bytes(piece))
        wanted -= len(piece)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


class BodyFeed:
    """A body as aiohttp pulls it (``data=feed.pieces()``): one piece each time the
    connection asks.

    aiohttp reports an error raised while it reads a body as its own ``ClientOSError``;
    `raise_own` raises the original instead (the caller's file failing, `IntegrityError`),
    which is no failure of the service."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts = parts
        self._error: Exception | None = None

    async def pieces(self) -> AsyncIterator[bytes]:
        try:
            for part in self._parts:
                yield part
        except Exception as exc:
            self._error = exc
            raise

    def raise_own(self) -> None:
        if self._error is not None:
            raise self._error


async def shielded(cleanup: Coroutine[Any, Any, object], running: set[asyncio.Task[Any]]) -> None:
    """Run ``cleanup`` (aborting an upload) to its end, even if the caller is cancelled
    meanwhile, and ignore its errors: it runs while another error is being raised, which
    is the one the caller must see.  A caller cancelled again stops waiting; the clean-up
    goes on as a task of its own, held in ``running`` (the adapter's) until it ends, since
    the loop keeps only a weak reference to a task."""
    task = asyncio.ensure_future(cleanup)
    running.add(task)
    task.add_done_callback(functools.partial(_ended, running))
    with contextlib.suppress(Exception):
        await asyncio.shield(task)


# Bytes up to this size are hashed on the loop, in well under a millisecond; a larger
# body, or a file (whose size is known only once it is read), in a worker thread.
HASH_ON_LOOP_LIMIT = 256 * 1024


async def prepared_write(
    key: str,
    data: bytes | BinaryIO,
    content_type: str | None,
    metadata: Mapping[str, str] | None,
    if_match: str | None,
    if_absent: bool,
    *,
    limit: tuple[str, int],
    internal_key: str = CHECKSUM_META_KEY,
) -> Write:
    """`prepare_write` for an async put: the body is hashed in a worker thread unless it
    is small bytes, so reading and hashing a big file does not stall the loop's other calls.

    A put cancelled meanwhile waits for the thread to let go of the caller's file before
    its cancellation goes on, since a retry on the next target reads that file next;
    cancelled again, it stops waiting."""
    if isinstance(data, (bytes, bytearray, memoryview)) and len(data) <= HASH_ON_LOOP_LIMIT:
        return prepare_write(
            key, data, content_type, metadata, if_match, if_absent, limit=limit, internal_key=internal_key
        )
    preparing = asyncio.ensure_future(
        asyncio.to_thread(
            prepare_write,
            key,
            data,
            content_type,
            metadata,
            if_match,
            if_absent,
            limit=limit,
            internal_key=internal_key,
        )
    )
    try:
        return await asyncio.shield(preparing)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # its error is moot: the put was cancelled
            await asyncio.shield(preparing)
        raise


async def created(
    create: Coroutine[Any, Any, T], undo: Callable[[T], Coroutine[Any, Any, object]], running: set[asyncio.Task[Any]]
) -> T:
    """``await create``, a request that makes something on the server (a multipart
    upload) which must not be left behind.  A caller cancelled while the request is on
    its way cannot know what it made, so it still waits for the answer, then undoes it
    (``undo(answer)``, `shielded`) before its cancellation goes on.  Cancelled again, it
    stops waiting: the answer is undone when it comes, in a task held in ``running``."""
    task = asyncio.ensure_future(create)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # it made nothing: nothing to undo
            try:
                made = await asyncio.shield(task)
            except asyncio.CancelledError:
                task.add_done_callback(functools.partial(_undo_when_made, undo, running))
                raise
            await shielded(undo(made), running)
        raise


def _undo_when_made(
    undo: Callable[[T], Coroutine[Any, Any, object]], running: set[asyncio.Task[Any]], task: asyncio.Task[T]
) -> None:
    if task.cancelled() or task.exception() is not None:
        return
    cleanup = asyncio.ensure_future(undo(task.result()))
    running.add(cleanup)
    cleanup.add_done_callback(functools.partial(_ended, running))


def _ended(running: set[asyncio.Task[Any]], task: asyncio.Task[Any]) -> None:
    running.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: an abort that failed is not "never retrieved"


__all__ = [
    "HASH_ON_LOOP_LIMIT",
    "BodyFeed",
    "LoopClient",
    "Opener",
    "body_parts",
    "created",
    "prepared_write",
    "shielded",
    "verified_chunks",
]
