"""Listings of the async facade: a listing that fails midway resumes on the next target
past the last key it gave, and the library's own marker objects are left out."""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from failover.capabilities import ObjectInfo
from failover.errors import NotFound
from failover.replication.anti_entropy import MARKER_PREFIX
from failover.replication.listings import due, owed_keys
from failover.routing.router import Member

if TYPE_CHECKING:
    from failover.aio.executor import AsyncExecutor


async def resuming(
    runner: AsyncExecutor, prefix: str, avoid: frozenset[str] = frozenset()
) -> AsyncIterator[tuple[str, ObjectInfo | None]]:
    """The listing of ``prefix`` through ``runner`` as (target, info) pairs, with (target,
    None) where a target starts serving it: routed like any read, never to a target in
    ``avoid``, and, if the serving target fails midway with a temporary error, resumed on
    the next target."""
    after: str | None = None  # last key yielded: a resumed listing starts past it
    failed = avoid
    while True:
        # Pulling the first item inside the call makes a first-page failure fail over.
        opened = functools.partial(open_listing, prefix=prefix, after=after)
        member, first, rest = await runner.run("list", opened, exclude=failed)
        yield member.name, None
        try:
            if first is not None:
                after = first.key
                yield member.name, first
            async for info in rest:
                after = info.key
                yield member.name, info
            return
        except Exception as exc:
            error = runner.report_failure(member, "list", exc)
            if not error.temporary:
                raise error from exc
            failed |= {member.name}
        finally:
            await rest.aclose()


async def plain(served: AsyncIterator[tuple[str, ObjectInfo | None]]) -> AsyncIterator[ObjectInfo]:
    """The listing of a facade without a write mode: what the targets serve."""
    async for _, info in served:
        if info is not None:
            yield info


async def with_owed(
    served: AsyncIterator[tuple[str, ObjectInfo | None]],
    owing: Mapping[str, Mapping[str, str]],
    prefix: str,
    look: Callable[[str], Awaitable[ObjectInfo]],
) -> AsyncIterator[ObjectInfo]:
    """``served`` with each key its serving target owes (in ``owing``) answered by
    ``look``, a ``head`` of the key: listed as found, left out where `NotFound`
    (`failover.replication.listings`)."""
    owed: deque[str] = deque()
    last: str | None = None  # the last key the targets listed
    async for target, info in served:
        if info is None:
            owed = owed_keys(owing, target, prefix, last)
            continue
        key = last = info.key
        if owed and owed[0] <= key:
            keys, replaced = due(owed, key)
            for owed_key in keys:
                if (found := await _found(look, owed_key)) is not None:
                    yield found
            if replaced:
                continue
        yield info
    for owed_key in list(owed):
        if (found := await _found(look, owed_key)) is not None:
            yield found


async def _found(look: Callable[[str], Awaitable[ObjectInfo]], key: str) -> ObjectInfo | None:
    try:
        return await look(key)
    except NotFound:  # deleted: the target serving the listing owes the delete
        return None


async def open_listing(
    member: Member[Any], *, prefix: str, after: str | None
) -> tuple[Member[Any], ObjectInfo | None, AsyncGenerator[ObjectInfo, None]]:
    """Start a listing on ``member`` past ``after`` and pull its first item, leaving out
    the library's own marker objects."""
    items = listed(member.provider.list(prefix), after)
    try:
        first = await items.__anext__()
    except StopAsyncIteration:
        return member, None, items
    except BaseException:
        await items.aclose()  # the next target is tried: let this one's connection go now
        raise
    return member, first, items


async def listed(source: AsyncIterator[ObjectInfo], after: str | None) -> AsyncGenerator[ObjectInfo, None]:
    async for info in source:
        if not info.key.startswith(MARKER_PREFIX) and (after is None or info.key > after):
            yield info


__all__ = ["listed", "open_listing", "plain", "resuming", "with_owed"]
