"""Listings of the async facade: a listing that fails midway resumes on the next target
past the last key it gave, and the library's own marker objects are left out."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from failover.capabilities import ObjectInfo
from failover.replication.anti_entropy import MARKER_PREFIX
from failover.routing.router import Member


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


__all__ = ["listed", "open_listing"]
