"""Memory stores that misbehave on purpose, for the replication tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, BinaryIO

from failover.providers.memory import MemoryObjectStore


class PutHook(MemoryObjectStore):
    """A memory store whose ``put`` first calls ``before_put(key)``: a fake that refuses,
    stalls or breaks some writes overrides only that.  Its ``put`` takes no conditions,
    like a store written before conditional writes existed."""

    def before_put(self, key: str) -> None:
        """Raise to refuse the write, or wait to stall it; the default lets it through."""

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Any:
        self.before_put(key)
        return super().put(key, data, content_type=content_type, metadata=metadata)
