"""`FailoverStorage`: one object store made of several, across regions and clouds."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from failover.capabilities import Capability, ObjectInfo, check_key, validate_range
from failover.errors import InvalidInput
from failover.facade import Facade
from failover.routing import Member

READ_OPERATIONS = frozenset({"get", "get_range", "head", "list"})


class FailoverStorage(Facade):
    """An `ObjectStore` that routes each call to the healthiest target that can take it.

    ``FailoverStorage(targets, policy=Priority(), execution=ExecutionConfig(...))``;
    see `Facade` for the keywords.  Reads go to the preferred target, fail over on
    temporary errors and may be hedged.  A write goes to one target: until the
    replication modes land, an object written during an outage lives on the target
    that took it.
    """

    capability = Capability.OBJECT_STORE
    read_operations = READ_OPERATIONS

    # ------------------------------------------------------------ reads

    def get(self, key: str) -> bytes:
        check_key(key)
        return self._read("get", lambda m: m.provider.get(key))  # type: ignore[no-any-return]

    def get_range(self, key: str, start: int, end: int) -> bytes:
        check_key(key)
        validate_range(start, end)
        return self._read("get_range", lambda m: m.provider.get_range(key, start, end))  # type: ignore[no-any-return]

    def head(self, key: str) -> ObjectInfo:
        check_key(key)
        return self._read("head", lambda m: m.provider.head(key))  # type: ignore[no-any-return]

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Lazily list ``prefix``; if the serving target fails midway, resume on the next one."""
        if not isinstance(prefix, str):
            raise InvalidInput(f"prefix must be a str, not {type(prefix).__name__}")
        return self._list(prefix)

    def _list(self, prefix: str) -> Iterator[ObjectInfo]:
        after: str | None = None  # last key yielded: a resumed listing starts past it
        failed: frozenset[str] = frozenset()
        executor = self.pool.executor_for("list")
        while True:
            # Pulling the first item inside the call makes a first-page failure fail over.
            member, first, rest = executor.run(
                "list", functools.partial(_open_listing, prefix=prefix, after=after), exclude=failed
            )
            try:
                if first is not None:
                    after = first.key
                    yield first
                for info in rest:
                    after = info.key
                    yield info
                return
            except Exception as exc:
                error = executor.report_failure(member, "list", exc)
                if not error.temporary:
                    raise error from exc
                failed |= {member.name}

    # ------------------------------------------------------------ writes

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Write ``data``; a stream is rewound for each attempt, or tried once if it cannot be."""
        check_key(key)
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        if isinstance(data, bytes):
            return self._write(  # type: ignore[no-any-return]
                "put", lambda m: m.provider.put(key, data, content_type=content_type, metadata=metadata)
            )
        if not callable(getattr(data, "read", None)):
            raise InvalidInput(f"data must be bytes or a binary file-like object, not {type(data).__name__}")
        stream = data
        rewind = stream.tell() if _seekable(stream) else None

        def put_stream(member: Member) -> ObjectInfo:
            if rewind is not None:
                stream.seek(rewind)
            return member.provider.put(key, stream, content_type=content_type, metadata=metadata)  # type: ignore[no-any-return]

        return self._write("put", put_stream, idempotent=rewind is not None)

    def delete(self, key: str) -> None:
        check_key(key)
        self._write("delete", lambda m: m.provider.delete(key))

    def copy(self, src: str, dst: str) -> ObjectInfo:
        check_key(src)
        check_key(dst)
        return self._write("copy", lambda m: m.provider.copy(src, dst))  # type: ignore[no-any-return]


def _open_listing(
    member: Member, *, prefix: str, after: str | None
) -> tuple[Member, ObjectInfo | None, Iterator[ObjectInfo]]:
    """Start a listing on ``member`` past ``after`` and pull its first item."""
    items: Iterator[ObjectInfo] = iter(member.provider.list(prefix))
    if after is not None:
        items = (info for info in items if info.key > after)
    return member, next(items, None), items


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


__all__ = ["READ_OPERATIONS", "FailoverStorage"]
