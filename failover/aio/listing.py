"""Listings of the async facade: a listing that fails midway resumes on the next target
past the last key it gave, and the library's own marker objects are left out."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from failover.capabilities import ObjectInfo
from failover.replication.anti_entropy import MARKER_PREFIX
from failover.routing.router import Member

if TYPE_CHECKING:
    from failover.aio.executor import AsyncExecutor


async def resuming(runner: AsyncExecutor, prefix: str) -> AsyncIterator[ObjectInfo]:
    """The listing of ``prefix`` through ``runner``: routed like any read and, if the
    serving target fails midway with a temporary error, resumed on the next target."""
    after: str | None = None  # last key yielded: a resumed listing starts past it
    failed: frozenset[str] = frozenset()
    while True:
        # Pulling the first item inside the call makes a first-page failure fail over.
        opened = functools.partial(open_listing, prefix=prefix, after=after)
        member, first, rest = await runner.run("list", opened, exclude=failed)
        try:
            if first is not None:
                after = first.key
                yield first
            async for info in rest:
                after = info.key
                yield info
            return
        except Exception as exc:
            error = runner.report_failure(member, "list", exc)
            if not error.temporary:
                raise error from exc
            failed |= {member.name}
        finally:
            await rest.aclose()


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


__all__ = ["listed", "open_listing", "resuming"]
