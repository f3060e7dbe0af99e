"""`failover.aio.FailoverStorage`: the async `FailoverStorage`, on async providers.

Built on targets whose providers are async (`failover.aio.capabilities.AsyncObjectStore`),
it has a pool of its own, like the sync facade.  Built with `FailoverStorage.sharing`
over a sync facade, it uses that facade's pool: the same router, the same breaker and
health per target, the same retry budget and status, with an async provider per target
beside each sync one.  A process that serves both sync and async callers then learns
about a target once: an outage seen by one side opens the breaker for both.

With ``writes=`` (or over a sync facade that has one), writes are replicated by
`failover.aio.replication` through the durable journal, whose calls run on a thread of
their own, and repaired by the sync repairer (`failover.aio.bridge`).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import functools
import os
import random
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TypeVar

from failover.aio.bridge import AsyncReplication, LoopHolder, reconcile_off_loop
from failover.aio.capabilities import AsyncObjectStore, check_async_provider
from failover.aio.executor import AsyncExecutor, Call
from failover.aio.journaling import JournalWorker
from failover.aio.listing import plain, resuming, with_owed
from failover.aio.payload import read_payload, streamed
from failover.aio.replication import AsyncWrites
from failover.aio.streams import flowing, open_stream
from failover.capabilities import (
    Capability,
    ObjectInfo,
    check_key,
    remember_key,
    validate_chunk_size,
    validate_range,
)
from failover.errors import ConfigError, InvalidInput
from failover.execution.executor import DEFAULT_LAYERS, ExecutionConfig
from failover.execution.lookup import PREFERRED
from failover.execution.pool import READ, WRITE, Pool
from failover.facades.base import Facade
from failover.facades.storage import READ_OPERATIONS
from failover.facades.storage import FailoverStorage as SyncFailoverStorage
from failover.portable import check_write
from failover.replication.modes import Replication, WriteMode
from failover.replication.versioning import without_version
from failover.target import Target

if TYPE_CHECKING:
    from failover.breaker.circuit import BreakerConfig
    from failover.breaker.store import BreakerStore
    from failover.clock import Clock
    from failover.events import Listener
    from failover.execution.status import PoolStatus
    from failover.health.target_health import HealthConfig
    from failover.replication.journal import Failed
    from failover.replication.reconcile import Progress, ReconcileReport
    from failover.replication.repair import DrainReport
    from failover.routing.policies import Policy

R = TypeVar("R")
S = TypeVar("S", bound="FailoverStorage")


class FailoverStorage(Facade[Any]):
    """An async object store that routes each call to the healthiest target that can take it.

    ``FailoverStorage(targets, policy=..., execution=ExecutionConfig(...))`` over async
    providers, or ``FailoverStorage.sharing(sync_storage, {name: async_provider})``.
    Reads and writes follow the sync facade's rules (routing, breakers, health, retry
    budget, ``NotFoundUnconfirmed``); attempt timeouts and the deadline are hard limits
    (the attempt is cancelled), and hedged reads cancel the losing attempt.  ``put``
    takes bytes, a binary file or an async iterator of chunks.  Maintenance
    (`force_open`, `drain`, `release`...) and `status` are the sync facade's.

    Without ``writes=``, a write goes to one target.  With ``writes=replication.Primary()``,
    ``All()`` or ``Quorum(w)``, writes are replicated as by the sync facade
    (`failover.aio.replication`), reads avoid a target that still owes the key, and a
    read that finds a target lacking the object journals a copy for it.
    """

    kind = "storage"
    capability = Capability.OBJECT_STORE
    read_operations = READ_OPERATIONS
    hedged_operations = SyncFailoverStorage.hedged_operations

    def __init__(
        self,
        targets: Sequence[Target[AsyncObjectStore]],
        *,
        writes: WriteMode | None = None,
        policy: Policy | None = None,
        failback_after: float = 30.0,
        breaker: BreakerConfig | None = None,
        breaker_per: Literal["target", "operation_class"] = "target",
        breaker_store: BreakerStore | None = None,
        health: HealthConfig | None = None,
        execution: ExecutionConfig | None = None,
        clock: Clock | None = None,
        listeners: Iterable[Listener] = (),
        rng: random.Random | None = None,
    ) -> None:
        """``writes``: a write mode, as for the sync facade; every other keyword configures
        the pool (see `Facade`).  Health checks and layers, which are sync code, are not
        taken here (see `sharing`)."""
        if isinstance(execution, ExecutionConfig) and execution.layers != DEFAULT_LAYERS:
            raise ConfigError("execution: layers are sync code around a sync call; async calls do not run them")
        if writes is not None and not isinstance(writes, WriteMode):
            raise ConfigError(f"writes must be replication.Primary(), All() or Quorum(w), not {writes!r}")
        super().__init__(
            targets,
            policy=policy,
            failback_after=failback_after,
            breaker=breaker,
            breaker_per=breaker_per,
            breaker_store=breaker_store,
            health=health,
            execution=execution,
            clock=clock,
            listeners=listeners,
            rng=rng,
        )
        self._bind(
            {t.name: check_async_provider(t.provider, f"targets[{i}].provider") for i, t in enumerate(targets)}, True
        )
        self._holder: LoopHolder | None = LoopHolder()  # the loop the repairs' calls are handed to
        self._replicate(AsyncReplication(self.pool, writes, self._holder) if writes is not None else None)

    @classmethod
    def sharing(cls: type[S], storage: SyncFailoverStorage, providers: Mapping[str, AsyncObjectStore]) -> S:
        """An async facade over ``storage``'s pool: one breaker and one health per target
        for both.  ``providers`` maps each of its target names to the async provider of
        the same store.  The sync facade owns the pool: its `start` and `close` start and
        stop the health checks; this facade's do nothing to them."""
        if not isinstance(storage, SyncFailoverStorage):
            raise ConfigError(f"storage must be a sync FailoverStorage, got {storage!r}")
        if not isinstance(providers, Mapping):
            raise ConfigError(f"providers must map target names to async providers, got {providers!r}")
        names = [t.name for t in storage.pool.targets]
        if sorted(providers) != sorted(names):
            raise ConfigError(f"providers must name exactly the targets {', '.join(names)}; got {', '.join(providers)}")
        facade = cls.__new__(cls)
        facade.pool = storage.pool
        facade.instruments = ()
        facade._bind({name: check_async_provider(p, f"providers[{name!r}]") for name, p in providers.items()}, False)
        facade._holder = None  # the sync facade repairs, on its own providers
        facade._replicate(storage.replication)
        return facade

    def _bind(self, providers: Mapping[str, object], owner: bool) -> None:
        pool: Pool = self.pool
        self._owner = owner
        self._checked_keys: set[str] = set()  # keys that passed `check_key` (`remember_key`)
        read, write = pool.executor_for_class(READ), pool.executor_for_class(WRITE)
        self._aread = AsyncExecutor(read, providers)
        self._awrite = self._aread if write is read else AsyncExecutor(write, providers)
        self._runs = {READ: self._aread.run, WRITE: self._awrite.run}

    def _replicate(self, replication: Replication | None) -> None:
        self.replication = replication
        self._writes: AsyncWrites | None = None
        if replication is not None:
            worker = JournalWorker(replication.journal)
            self._writes = AsyncWrites(replication, self._aread, self._awrite, worker)

    # ------------------------------------------------------------ reads

    async def get(self, key: str) -> bytes:
        if key.__class__ is not str or key not in self._checked_keys:
            remember_key(self._checked_keys, key)
        if self._writes is not None:
            return await self._read_key(key, "get", lambda m: m.provider.get(key))
        return await self._aread.run("get", (key,), lookup=PREFERRED)  # a call by name

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        check_key(key)
        validate_range(start, end)
        call: Call[bytes] = lambda m: m.provider.get_range(key, start, end)  # noqa: E731
        if self._writes is not None:
            return await self._read_key(key, "get_range", call)
        return await self._aread.run("get_range", call, lookup=PREFERRED)

    async def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> AsyncGenerator[bytes, None]:
        """The object's bytes as an async iterator of chunks of at most ``chunk_size`` bytes:
        ``async for chunk in await storage.get_stream(key)``.

        Routed like `get`; failover happens on the ``await``, which opens the stream and
        reads its first chunk (`NotFound` is raised there).  Once it has returned, the
        stream stays on that target: a failure while iterating is recorded against the
        target and raised (`failover.aio.streams`).  Read-your-writes as for `get`.
        Streams are never hedged.  ``aclose()`` the iterator (``contextlib.aclosing``) to
        release the target's connection at once when leaving it early."""
        check_key(key)
        validate_chunk_size(chunk_size)
        call = functools.partial(open_stream, key=key, chunk_size=chunk_size)
        if self._writes is not None:
            opened = await self._read_key(key, "get_stream", call)
        else:
            opened = await self._aread.run("get_stream", call, lookup=PREFERRED)
        return flowing(self._aread, opened)

    async def head(self, key: str) -> ObjectInfo:
        if key.__class__ is not str or key not in self._checked_keys:
            remember_key(self._checked_keys, key)
        if self._writes is not None:
            return await self._read_key(key, "head", lambda m: m.provider.head(key))
        return await self._aread.run("head", (key,), lookup=PREFERRED)  # a call by name

    async def _read_key(self, key: str, operation: str, call: Call[R]) -> R:
        assert self._writes is not None
        self._see_loop()
        return await self._writes.read_key(key, operation, call)

    def _see_loop(self) -> None:
        if self._holder is not None:
            self._holder.see()

    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Lazily list ``prefix``; if the serving target fails midway, resume on the next one.

        With a write mode, a key the serving target still owes is listed as a read of it
        finds it (left out if deleted; `failover.replication.listings`)."""
        if not isinstance(prefix, str):
            raise InvalidInput(f"prefix must be a str, not {type(prefix).__name__}")
        replication = self.replication
        if replication is None:
            return plain(resuming(self._aread, prefix))
        served = resuming(self._aread, prefix, replication.exclude_for_listing())
        return with_owed(served, replication.owing, prefix, self.head)

    # ------------------------------------------------------------ writes

    async def put(
        self,
        key: str,
        data: bytes | BinaryIO | AsyncIterable[bytes],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Write ``data`` to one target or, with a write mode, replicated; ``key``,
        ``content_type`` and ``metadata`` are checked against the portable model before
        any target is tried.

        ``data`` is bytes (or a bytearray or memoryview), a binary file-like object, or an
        async iterator of bytes chunks (`failover.aio.payload`).  Without a write mode a
        file is passed to the provider, which streams it: a seekable one is rewound for
        each attempt, one that cannot seek is tried once; an iterator is spooled to a
        temporary file (in memory up to 8 MiB, on disk beyond) that is passed the same
        way.  With a write mode a file or an iterator is read into memory, once: every
        target gets the same bytes."""
        content_type, metadata = check_write(key, content_type, metadata)
        if self._writes is not None:
            payload = await read_payload(data)
            self._see_loop()
            return await self._writes.put(key, payload, content_type=content_type, metadata=metadata)
        body = await streamed(data)
        try:
            call: Call[ObjectInfo] = lambda m: m.provider.put(  # noqa: E731
                key, body.for_attempt(), content_type=content_type, metadata=metadata
            )
            return await self._awrite.run("put", call, idempotent=body.retryable)
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        check_key(key)
        if self._writes is not None:
            self._see_loop()
            await self._writes.delete(key)
            return
        call: Call[None] = lambda m: m.provider.delete(key)  # noqa: E731
        await self._awrite.run("delete", call)

    async def copy(self, src: str, dst: str) -> ObjectInfo:
        check_key(src)
        check_key(dst)
        if self._writes is not None:
            # A new object with a version of its own: read it, write it like any put.
            info = await self.head(src)
            data = await self.get(src)
            return await self.put(dst, data, content_type=info.content_type, metadata=without_version(info.metadata))
        call: Call[ObjectInfo] = lambda m: m.provider.copy(src, dst)  # noqa: E731
        return await self._awrite.run("copy", call)

    # ------------------------------------------------------------ replication

    async def repair(self) -> DrainReport:
        """One repair pass now, with the marker checks and anti-entropy that are due, on a
        thread (the repairer is sync code; its calls on async providers come back to this
        loop).  The background drainer, started by `start`, does the same."""
        replication = self._replicated()
        self._see_loop()
        return await asyncio.get_running_loop().run_in_executor(None, replication.maintenance_pass, None)

    async def pending(self) -> dict[str, int]:
        """How many keys each target still owes (empty when nothing is owed)."""
        return await self._journal_call(lambda r: r.pending())

    async def failed(self) -> builtins.list[Failed]:
        """Repairs a target refused for good (quarantined): target, key, version, answer."""
        return await self._journal_call(lambda r: r.failed())

    async def reconcile(
        self,
        *,
        prefix: str = "",
        repair: bool = False,
        verify: bool = False,
        checkpoint: str | os.PathLike[str] | None = None,
        progress: Progress | None = None,
    ) -> ReconcileReport:
        """Compare every target's listing and checksums, as the sync facade's `reconcile`
        does, with the same keywords and report.

        The comparison is sync code: it runs on a thread, and each call it makes on an
        async provider is handed back to this loop (`failover.aio.bridge.Blocking`), so
        the loop goes on serving while it runs.  ``progress`` is called on that thread.
        A facade made by `sharing` compares through the sync facade's providers.
        """
        journal = self.replication.journal if self.replication is not None else None
        return await reconcile_off_loop(
            self.pool,
            self._holder,
            journal,
            prefix=prefix,
            repair=repair,
            verify=verify,
            checkpoint=checkpoint,
            progress=progress,
        )

    async def _journal_call(self, call: Callable[[Replication], R]) -> R:
        replication = self._replicated()
        assert self._writes is not None
        return await self._writes.worker.run(call, replication)

    def status(self) -> PoolStatus:
        """The pool's status; with a write mode, also how many repairs are quarantined
        (one read of the journal: keep it off a hot path)."""
        status = super().status()
        if self.replication is None:
            return status
        return dataclasses.replace(status, quarantined=self.replication.quarantined())

    def _replicated(self) -> Replication:
        if self.replication is None:
            raise InvalidInput("this FailoverStorage has no writes= mode: nothing is journaled")
        return self.replication

    # ------------------------------------------------------------ lifecycle

    def start(self: S) -> S:
        """Start the pool's breaker-store sync and, with a write mode, the background
        drainer, when this facade owns its pool (a shared pool is the sync facade's)."""
        if self._owner:
            self.pool.start()
            if self.replication is not None:
                self.replication.start()
        with contextlib.suppress(RuntimeError):  # outside a loop: the first call on one tells
            self._see_loop()
        return self

    def close(self) -> None:
        """Stop the drainer (waiting up to a second for it) and the pool's threads; journal
        calls already queued are still made.  On a loop, prefer ``await aclose()``."""
        if self._writes is not None:
            self._writes.worker.close()
        if self._owner:
            if self.replication is not None:
                self.replication.close()
            self.pool.close()

    async def aclose(self) -> None:
        """`close`, on a thread: a repair in flight, whose calls need this loop, can end.
        Hedged losers still running on a silent target are cancelled first."""
        for runner in {self._aread, self._awrite}:
            await runner.stop_probes()
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    async def __aenter__(self: S) -> S:
        return self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


__all__ = ["FailoverStorage"]
