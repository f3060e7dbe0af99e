"""Streamed reads of the async facade: failover while a stream opens, not once it flows.

``await storage.get_stream(key)`` opens the stream on a target and pulls its first
chunk inside the routed call, so a target that is down, times out, or cannot serve the
first chunk is skipped for the next one, and `NotFound` is raised by the ``await``.
The async iterator it returns stays on that target: an error while iterating is
recorded against the target and raised to the caller, since chunks already handed out
cannot be taken back.  Its ``aclose()`` (at the end, on an error, or called by a
caller that leaves early) closes the provider's stream, and so its connection.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from failover.errors import Unsupported

if TYPE_CHECKING:
    from failover.aio.executor import AsyncExecutor
    from failover.routing.router import Member

Opened = tuple["Member[Any]", bytes | None, AsyncIterator[bytes]]


async def open_stream(member: Member[Any], *, key: str, chunk_size: int) -> Opened:
    """Open ``key`` on ``member`` and pull its first chunk (None for an empty object)."""
    get_stream = getattr(member.provider, "get_stream", None)
    if get_stream is None:
        raise Unsupported(f"{member.name}'s async provider has no get_stream", operation="get_stream")
    stream: AsyncIterator[bytes] = get_stream(key, chunk_size=chunk_size)
    try:
        first = await stream.__anext__()
    except StopAsyncIteration:
        return member, None, stream
    except BaseException:
        await _close(stream)  # the next target is tried: let this one's connection go now
        raise
    return member, first, stream


async def flowing(runner: AsyncExecutor, opened: Opened) -> AsyncGenerator[bytes, None]:
    """The chunks of an opened stream; a failure midway counts against its target."""
    member, first, rest = opened
    try:
        if first is None:
            return
        yield first
        async for chunk in rest:
            yield chunk
    except Exception as exc:
        error = runner.report_failure(member, "get_stream", exc)
        if error is exc:
            raise
        raise error from exc
    finally:
        await _close(rest)


async def _close(stream: AsyncIterator[bytes]) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()


__all__ = ["flowing", "open_stream"]
