"""What an async object store offers: the `failover.capabilities.ObjectStore` calls, awaited.

Same arguments, same results, same errors (`failover.errors`, mapped inside the adapter)
as the sync protocol; ``list`` is an async iterator.  ``put`` gets bytes or a binary file
(the facade passes a caller's file on, and spools an async iterator of chunks to one),
which it reads from where it stands.  ``get_stream`` is optional and
outside the protocol: the S3, Azure, GCS and memory async stores have it; on a target whose
store lacks it, the facade's ``get_stream`` attempt raises `Unsupported`.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Mapping
from typing import BinaryIO, Protocol

from failover.capabilities import ObjectInfo
from failover.errors import ConfigError

# The calls `failover.aio.FailoverStorage` makes, each checked on every provider it is given.
ASYNC_OBJECT_OPERATIONS = ("put", "get", "get_range", "head", "list", "delete", "copy")


class AsyncObjectStore(Protocol):
    async def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_match: str | None = None,
        if_absent: bool = False,
    ) -> ObjectInfo: ...

    async def get(self, key: str) -> bytes: ...

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``; ``end`` past the object's size is cut to it."""
        ...

    async def head(self, key: str) -> ObjectInfo: ...

    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Lazily, in key order, every object whose key starts with ``prefix``."""
        ...

    async def delete(self, key: str) -> None:
        """Idempotent: deleting a missing key succeeds."""
        ...

    async def copy(self, src: str, dst: str) -> ObjectInfo: ...


def check_async_provider(provider: object, name: str) -> object:
    """``provider``, once each call the facade makes is found async on it."""
    for operation in ASYNC_OBJECT_OPERATIONS:
        method = getattr(provider, operation, None)
        if method is None:
            continue  # not offered: the pool leaves the operation out for that target
        # ``list`` may be any function returning an async iterator; the others are awaited.
        if not (callable(method) if operation == "list" else inspect.iscoroutinefunction(method)):
            raise ConfigError(f"{name}: {operation} must be async (a sync provider goes to the sync FailoverStorage)")
    return provider


__all__ = ["ASYNC_OBJECT_OPERATIONS", "AsyncObjectStore", "check_async_provider"]
