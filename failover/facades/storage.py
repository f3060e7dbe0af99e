"""`FailoverStorage`: one object store made of several, across regions and clouds."""

from __future__ import annotations

import builtins
import dataclasses
import functools
import os
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, BinaryIO, Literal, TypeVar

from failover.capabilities import (
    Capability,
    ObjectInfo,
    ObjectStore,
    check_key,
    remember_key,
    validate_chunk_size,
    validate_range,
)
from failover.errors import InvalidInput, NotFound
from failover.execution.lookup import PREFERRED, Lookup
from failover.facades.base import Facade
from failover.portable import check_write
from failover.replication.anti_entropy import MARKER_PREFIX
from failover.replication.listings import due, owed_keys
from failover.replication.versioning import without_version
from failover.routing.router import Member
from failover.target import Target

if TYPE_CHECKING:
    from failover.breaker.circuit import BreakerConfig
    from failover.breaker.store import BreakerStore
    from failover.clock import Clock
    from failover.events import Listener
    from failover.execution.executor import ExecutionConfig
    from failover.execution.pool import ProbeConfig
    from failover.execution.status import PoolStatus
    from failover.health.target_health import HealthConfig
    from failover.replication.journal import Failed
    from failover.replication.modes import Replication, WriteMode
    from failover.replication.reconcile import Progress, ReconcileReport
    from failover.replication.repair import DrainReport
    from failover.routing.policies import Policy

R = TypeVar("R")
S = TypeVar("S", bound="FailoverStorage")

READ_OPERATIONS = frozenset({"get", "get_range", "get_stream", "head", "list"})


class FailoverStorage(Facade[ObjectStore]):
    """An `ObjectStore` that routes each call to the healthiest target that can take it.

    ``FailoverStorage(targets, policy=Priority(), execution=ExecutionConfig(...))``;
    see `Facade` for the keywords.  Reads go to the preferred target, fail over on
    temporary errors and may be hedged.

    Without ``writes=``, a write goes to one target: an object written during an
    outage lives on the target that took it, and a read that cannot reach a target that
    may hold the object raises `NotFoundUnconfirmed`, never a false `NotFound`.  With
    ``writes=replication.Primary()``, ``All()`` or ``Quorum(w)``, writes are replicated
    through a durable journal (`failover.replication.modes`), a read of a key that some target
    still owes avoids that target (read-your-writes), and a read that finds a target
    lacking an object another one holds journals a repair for it (read repair).
    """

    kind = "storage"
    capability = Capability.OBJECT_STORE
    read_operations = READ_OPERATIONS
    hedged_operations = frozenset({"get", "get_range", "head"})

    def __init__(
        self,
        targets: Sequence[Target[ObjectStore]],
        *,
        writes: WriteMode | None = None,
        policy: Policy | None = None,
        failback_after: float = 30.0,
        breaker: BreakerConfig | None = None,
        breaker_per: Literal["target", "operation_class"] = "target",
        breaker_store: BreakerStore | None = None,
        health: HealthConfig | None = None,
        execution: ExecutionConfig | None = None,
        health_checks: ProbeConfig | None = None,
        clock: Clock | None = None,
        listeners: Iterable[Listener] = (),
        rng: random.Random | None = None,
        instruments: Iterable[object] = (),
    ) -> None:
        """``writes``: a write mode, as above; every other keyword configures the pool (see `Facade`)."""
        super().__init__(
            targets,
            policy=policy,
            failback_after=failback_after,
            breaker=breaker,
            breaker_per=breaker_per,
            breaker_store=breaker_store,
            health=health,
            execution=execution,
            health_checks=health_checks,
            clock=clock,
            listeners=listeners,
            rng=rng,
            instruments=instruments,
        )
        # Keys that passed `check_key`: a hot read or write looks its key up here instead
        # of checking it again.  Emptied when full, so it stays small.
        self._checked_keys: set[str] = set()
        self.replication: Replication | None = None
        # Keys some target still owes; the read path checks this dict, never SQLite.
        self._owing: Mapping[str, object] = {}
        if writes is not None:
            from failover.replication.modes import Replication

            self.replication = Replication(self.pool, writes)
            self._owing = self.replication.owing

    # ------------------------------------------------------------ reads

    def get(self, key: str) -> bytes:
        if key.__class__ is not str or key not in self._checked_keys:
            remember_key(self._checked_keys, key)
        if self.replication is None:  # the plain path: a call by name, no closure to make
            data: bytes = self._read("get", (key,), PREFERRED)
            return data
        return self._read_key(key, "get", lambda m: m.provider.get(key))

    def get_range(self, key: str, start: int, end: int) -> bytes:
        check_key(key)
        validate_range(start, end)
        call: Callable[[Member[ObjectStore]], bytes] = lambda m: m.provider.get_range(key, start, end)  # noqa: E731
        if self.replication is None:  # the plain path, one call less
            return self._read("get_range", call, PREFERRED)
        return self._read_key(key, "get_range", call)

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The object's bytes as an iterator of chunks of at most ``chunk_size`` bytes.

        Routed like `get`, and failover happens on this call: the stream is opened and its
        first chunk read on a target before anything is returned, so a target that is
        down, times out, or cannot serve the first chunk (a corrupt single-chunk replica
        among them) is skipped for the next one; `NotFound` is raised here.  Once the
        iterator is returned, the stream stays on that target: a failure while iterating
        (a reset, a timeout, a checksum mismatch at the end, the object replaced midway)
        is recorded against the target and raised to the caller, because bytes already
        handed out cannot be taken back.  To retry, call ``get_stream`` again (or
        `get_range` from the offset reached).

        Read-your-writes as for `get`: targets that still owe ``key`` are avoided.
        Close the iterator (or exhaust it) to release the target's connection.  Streams
        are never hedged: a losing attempt would hold its connection open.
        """
        check_key(key)
        validate_chunk_size(chunk_size)
        call = functools.partial(_open_stream, key=key, chunk_size=chunk_size)
        member, first, rest = self._read_key(key, "get_stream", call)
        return self._stream(member, first, rest)

    def _stream(self, member: Member[ObjectStore], first: bytes | None, rest: Iterator[bytes]) -> Iterator[bytes]:
        try:
            if first is None:
                return
            yield first
            yield from rest
        except Exception as exc:
            error = self.pool.executor_for("get_stream").report_failure(member, "get_stream", exc)
            if error is exc:
                raise
            raise error from exc
        finally:
            close = getattr(rest, "close", None)
            if callable(close):
                close()

    def head(self, key: str) -> ObjectInfo:
        if key.__class__ is not str or key not in self._checked_keys:
            remember_key(self._checked_keys, key)
        if self.replication is None:  # the plain path: a call by name, no closure to make
            info: ObjectInfo = self._read("head", (key,), PREFERRED)
            return info
        return self._read_key(key, "head", lambda m: m.provider.head(key))

    def _read_key(self, key: str, operation: str, call: Callable[[Member[ObjectStore]], R]) -> R:
        """A read of one object: `NotFound` only when true (`failover.execution.lookup`).

        Replicated, a target that says `NotFound` may only lack the object, so the read
        goes on to the next target, and the targets that lacked it are journaled for a
        repair (read repair).  Read-your-writes: targets that still owe ``key`` (an
        older version, or an object a delete has not reached yet) are skipped.
        """
        replication = self.replication
        if replication is None:
            return self._read(operation, call, PREFERRED)
        lookup = Lookup(fall_through=True)
        owed = key in self._owing
        guard = replication.guard
        exclude = replication.exclude_for_read(key) if owed or (guard and guard.suspects) else frozenset()
        result = self._read(operation, call, exclude=exclude, lookup=lookup)
        if lookup.missed:
            replication.read_repair(key, lookup.missed)
        if owed and replication.mode.read_repair:
            replication.repairer.repair_key(key)
        return result

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Lazily list ``prefix``; if the serving target fails midway, resume on the next one.

        With a write mode, a key the serving target still owes is listed as a read of it
        finds it (left out if deleted; `failover.replication.listings`)."""
        if not isinstance(prefix, str):
            raise InvalidInput(f"prefix must be a str, not {type(prefix).__name__}")
        if self.replication is None:
            return (info for _, info in self._served(prefix, frozenset()) if info is not None)
        return self._with_owed(prefix, self.replication)

    def _with_owed(self, prefix: str, replication: Replication) -> Iterator[ObjectInfo]:
        owed: deque[str] = deque()
        last: str | None = None  # the last key the targets listed
        for target, info in self._served(prefix, replication.exclude_for_listing()):
            if info is None:
                owed = owed_keys(replication.owing, target, prefix, last)
                continue
            key = last = info.key
            if owed and owed[0] <= key:
                keys, replaced = due(owed, key)
                yield from self._read_owed(keys)
                if replaced:
                    continue
            yield info
        yield from self._read_owed(builtins.list(owed))

    def _read_owed(self, keys: builtins.list[str]) -> Iterator[ObjectInfo]:
        for key in keys:
            try:
                found = self.head(key)
            except NotFound:  # deleted: the target serving the listing owes the delete
                continue
            yield found

    def _served(self, prefix: str, avoid: frozenset[str]) -> Iterator[tuple[str, ObjectInfo | None]]:
        """The listing as (target, info) pairs, with (target, None) where a target starts
        serving it; resumed on the next target past the last key if one fails midway.
        The targets in ``avoid`` do not serve it."""
        after: str | None = None  # last key yielded: a resumed listing starts past it
        failed = avoid
        executor = self.pool.executor_for("list")
        while True:
            # Pulling the first item inside the call makes a first-page failure fail over.
            member, first, rest = executor.run(
                "list", functools.partial(_open_listing, prefix=prefix, after=after), exclude=failed
            )
            yield member.name, None
            try:
                if first is not None:
                    after = first.key
                    yield member.name, first
                for info in rest:
                    after = info.key
                    yield member.name, info
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
        """Write ``data``; a stream is rewound for each attempt, or tried once if it cannot be.

        ``key``, ``content_type`` and ``metadata`` are checked against the portable model
        (`failover.portable`) before any target is tried: `InvalidInput` if any cloud would
        refuse or change them."""
        content_type, metadata = check_write(key, content_type, metadata)
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        if self.replication is not None:
            # Named for its type: `Replication.put` is annotated to return Any.
            replicated: ObjectInfo = self.replication.put(
                key, read_all(data), content_type=content_type, metadata=metadata
            )
            return replicated
        if isinstance(data, bytes):
            return self._write("put", lambda m: m.provider.put(key, data, content_type=content_type, metadata=metadata))
        if not callable(getattr(data, "read", None)):
            raise InvalidInput(f"data must be bytes or a binary file-like object, not {type(data).__name__}")
        stream = data
        rewind = stream.tell() if _seekable(stream) else None

        def put_stream(member: Member[ObjectStore]) -> ObjectInfo:
            if rewind is not None:
                stream.seek(rewind)
            return member.provider.put(key, stream, content_type=content_type, metadata=metadata)

        return self._write("put", put_stream, idempotent=rewind is not None)

    def delete(self, key: str) -> None:
        check_key(key)
        if self.replication is not None:
            self.replication.delete(key)
            return
        self._write("delete", lambda m: m.provider.delete(key))

    def copy(self, src: str, dst: str) -> ObjectInfo:
        check_key(src)
        check_key(dst)
        if self.replication is not None:
            # A new object with a version of its own: read it, write it like any put.
            info = self.head(src)
            data = self.get(src)
            return self.put(dst, data, content_type=info.content_type, metadata=without_version(info.metadata))
        return self._write("copy", lambda m: m.provider.copy(src, dst))

    # ------------------------------------------------------------ replication

    def repair(self) -> DrainReport:
        """One repair pass now, on this thread, with the marker checks and anti-entropy
        that are due (the background drainer does the same)."""
        return self._replicated().maintenance_pass()

    def pending(self) -> dict[str, int]:
        """How many keys each target still owes (empty when nothing is owed); quarantined
        rows count, since the target still lacks them."""
        return self._replicated().pending()

    def failed(self) -> builtins.list[Failed]:
        """Repairs a target refused for good (quarantined): target, key, version, answer.
        A newer write of the key, or ``reconcile``, may still bring it there."""
        return self._replicated().failed()

    def status(self) -> PoolStatus:
        """The pool's status; with a write mode, also how many repairs are quarantined."""
        status = super().status()
        if self.replication is None:
            return status
        return dataclasses.replace(status, quarantined=self.replication.quarantined())

    def reconcile(
        self,
        *,
        prefix: str = "",
        repair: bool = False,
        verify: bool = False,
        checkpoint: str | os.PathLike[str] | None = None,
        progress: Progress | None = None,
    ) -> ReconcileReport:
        """Compare every target's listing and checksums (``verify=True``: their bytes too);
        see `failover.replication.reconcile.reconcile`, which takes the same keywords.  With a
        write mode, its journal supplies the tombstones of deletes and the quarantined repairs."""
        from failover.replication.reconcile import reconcile

        journal = self.replication.journal if self.replication is not None else None
        return reconcile(
            self.pool.targets,
            prefix=prefix,
            journal=journal,
            repair=repair,
            verify=verify,
            checkpoint=checkpoint,
            progress=progress,
        )

    def _replicated(self) -> Replication:
        if self.replication is None:
            raise InvalidInput("this FailoverStorage has no writes= mode: nothing is journaled")
        return self.replication

    def start(self: S) -> S:
        """Start the health checks and, with a write mode, the background drainer."""
        super().start()
        if self.replication is not None:
            self.replication.start()
        return self

    def close(self) -> None:
        if self.replication is not None:
            self.replication.close()
        super().close()


def _open_listing(
    member: Member[ObjectStore], *, prefix: str, after: str | None
) -> tuple[Member[ObjectStore], ObjectInfo | None, Iterator[ObjectInfo]]:
    """Start a listing on ``member`` past ``after`` and pull its first item.  The library's
    own marker objects (`failover.replication.anti_entropy.MARKER_PREFIX`) are not listed."""
    items: Iterator[ObjectInfo] = (i for i in member.provider.list(prefix) if not i.key.startswith(MARKER_PREFIX))
    if after is not None:
        items = (info for info in items if info.key > after)
    return member, next(items, None), items


def _open_stream(
    member: Member[ObjectStore], *, key: str, chunk_size: int
) -> tuple[Member[ObjectStore], bytes | None, Iterator[bytes]]:
    """Open ``key`` on ``member`` and pull its first chunk (None for an empty object)."""
    stream: Iterator[bytes] = iter(member.provider.get_stream(key, chunk_size=chunk_size))
    return member, next(stream, None), stream


def read_all(data: bytes | BinaryIO) -> bytes:
    """Every target must get the same bytes, so a stream is read once, into memory."""
    if isinstance(data, bytes):
        return data
    read = getattr(data, "read", None)
    if not callable(read):
        raise InvalidInput(f"data must be bytes or a binary file-like object, not {type(data).__name__}")
    payload = read()
    if isinstance(payload, (bytearray, memoryview)):
        payload = bytes(payload)
    if not isinstance(payload, bytes):
        raise InvalidInput(f"file-like data must be opened in binary mode (read() gave {type(payload).__name__})")
    return payload


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


__all__ = ["READ_OPERATIONS", "FailoverStorage", "read_all"]
