"""The repairs of an async facade: the sync repairer, on async providers, off the loop.

A replicated `failover.aio.FailoverStorage` built on async providers repairs with the
sync machinery of `failover.replication` (`Repairer`, `Drainer`, `RestoreGuard`,
`AntiEntropy`, `reconcile`): the same journal rules, the same version checks and
conditional writes, so a late repair never moves a target backwards.  Those run on
their own threads; each call they make on a target is handed to the facade's event loop
(`Blocking`), bounded there by the attempt timeout, and the thread waits for its answer.
The loop itself never waits for a repair.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from failover.aio._time import bounded
from failover.capabilities import ObjectInfo
from failover.errors import Unavailable
from failover.replication.modes import Replication, WriteMode
from failover.routing.router import Member

if TYPE_CHECKING:
    from failover.execution.pool import Pool
    from failover.replication.journal import RepairJournal
    from failover.replication.reconcile import ReconcileReport

R = TypeVar("R")


class LoopHolder:
    """The event loop an async facade's providers live on, once the facade has seen it."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None

    def see(self) -> None:
        """Called on the loop: remember it (a facade moved to a new loop follows it)."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            self.loop = loop


class Blocking:
    """A sync `ObjectStore` over an async one, for threads other than the loop's.

    Each call runs as a task on the facade's loop, bounded by ``limit`` seconds there
    (the attempt is cancelled inside the provider, like any async attempt).  No loop
    running, or one that stops meanwhile, is the target being `Unavailable` for now: a
    repair stays owed, never quarantined.  ``inner`` tells `takes_conditions` whether
    the conditions a repair writes under reach the store."""

    def __init__(self, inner: Any, target: str, holder: LoopHolder, limit: float) -> None:
        self.inner: Any = inner
        self._target = target
        self._holder = holder
        self._limit = limit

    def _run(self, operation: str, make: Callable[[], Awaitable[R]]) -> R:
        loop = self._holder.loop
        if loop is None or loop.is_closed() or not loop.is_running():
            raise Unavailable("no event loop is running this target's async provider", target=self._target)
        if _on(loop):
            # Waiting here would stop the loop that must answer: a bug in the caller.
            raise RuntimeError("a blocking call on an async provider was made on its own event loop")
        future = asyncio.run_coroutine_threadsafe(self._bounded(operation, make), loop)
        try:
            # The task is bounded on the loop; the margin only guards a loop that stopped.
            return future.result(None if self._limit == math.inf else self._limit + 5.0)
        except (concurrent.futures.CancelledError, concurrent.futures.TimeoutError):
            future.cancel()
            raise Unavailable(f"{operation}: the event loop stopped answering", target=self._target) from None

    async def _bounded(self, operation: str, make: Callable[[], Awaitable[R]]) -> R:
        if self._limit == math.inf:
            return await make()
        return await bounded(make(), self._limit, self._target, operation)

    def put(self, key: str, data: bytes, **options: Any) -> ObjectInfo:
        info: ObjectInfo = self._run("put", lambda: self.inner.put(key, data, **options))
        return info

    def get(self, key: str) -> bytes:
        data: bytes = self._run("get", lambda: self.inner.get(key))
        return data

    def get_range(self, key: str, start: int, end: int) -> bytes:
        data: bytes = self._run("get_range", lambda: self.inner.get_range(key, start, end))
        return data

    def head(self, key: str) -> ObjectInfo:
        info: ObjectInfo = self._run("head", lambda: self.inner.head(key))
        return info

    def delete(self, key: str) -> None:
        self._run("delete", lambda: self.inner.delete(key))

    def copy(self, src: str, dst: str) -> ObjectInfo:
        info: ObjectInfo = self._run("copy", lambda: self.inner.copy(src, dst))
        return info

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """The async listing, one item per hop to the loop; closed on the loop at the end."""
        items: AsyncIterator[ObjectInfo] = self.inner.list(prefix)
        try:
            while True:
                try:
                    yield self._run("list", lambda: _next(items))
                except StopAsyncIteration:
                    return
        finally:
            close = getattr(items, "aclose", None)
            if close is not None:
                with contextlib.suppress(Unavailable):  # the loop is gone, and the listing with it
                    self._run("list", close)

    def __repr__(self) -> str:
        return f"Blocking({self.inner!r})"


def _next(items: AsyncIterator[ObjectInfo]) -> Coroutine[Any, Any, ObjectInfo]:
    async def step() -> ObjectInfo:
        return await items.__anext__()

    return step()


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class AsyncReplication(Replication):
    """`Replication` whose repairs (and marker checks, anti-entropy, reconcile) reach the
    async providers through `Blocking`: every pinned call goes through the pool's breaker
    and health for its target, as the sync facade's repairs do."""

    def __init__(self, pool: Pool, mode: WriteMode, holder: LoopHolder) -> None:
        super().__init__(pool, mode)
        self.holder = holder
        self.blocking = blocking_providers(pool, holder)
        self._twins: dict[str, Member[Any]] = {}
        self._all_but = {n: frozenset(self.names) - {n} for n in self.names}

    def on(self, target: str, operation: str, call: Callable[[Member], R]) -> R:
        twins = self._twins

        def blocking(member: Member) -> R:
            twin = twins.get(member.name)
            if twin is None:
                provider = self.blocking[member.name]
                twin = Member(
                    dataclasses.replace(member.target, provider=provider),
                    member.breaker,
                    member.health,
                    member.operations,
                )
                twins[member.name] = twin
            return call(twin)

        executor = self.pool.executor_for(operation)
        return executor.run(operation, blocking, exclude=self._all_but[target])

    def reconcile_into(self, target: str) -> ReconcileReport:
        from failover.replication.reconcile import reconcile

        return reconcile(self.blocking_targets(), journal=self.journal, repair=True)

    def blocking_targets(self) -> list[Any]:
        """The pool's targets, each with its `Blocking` provider (for `reconcile`)."""
        return blocking_targets(self.pool, self.blocking)


def blocking_providers(pool: Pool, holder: LoopHolder) -> dict[str, Blocking]:
    """A `Blocking` face for each of ``pool``'s async providers, bounded as its writes are."""
    config = pool.executor_for("put").config
    limit = config.attempt_timeout or config.deadline or math.inf
    return {t.name: Blocking(t.provider, t.name, holder, limit) for t in pool.targets}


def blocking_targets(pool: Pool, blocking: Mapping[str, Blocking]) -> list[Any]:
    """``pool``'s targets, each with its provider in ``blocking`` (`blocking_providers`)."""
    return [dataclasses.replace(t, provider=blocking[t.name]) for t in pool.targets]


async def reconcile_off_loop(
    pool: Pool, holder: LoopHolder | None, journal: RepairJournal | None, **options: Any
) -> ReconcileReport:
    """`failover.replication.reconcile.reconcile` of ``pool``'s targets, run on a thread.

    With a ``holder`` the targets' providers are async: each call the comparison makes on
    one is handed back to this loop (`Blocking`), which goes on serving meanwhile.
    Without one, the providers are sync and are called on the thread.  ``options`` are
    `reconcile`'s keywords."""
    from failover.replication.reconcile import reconcile

    targets: list[Any] = list(pool.targets)
    if holder is not None:
        holder.see()
        targets = blocking_targets(pool, blocking_providers(pool, holder))
    compare = functools.partial(reconcile, targets, journal=journal, **options)
    return await asyncio.get_running_loop().run_in_executor(None, compare)


__all__ = ["AsyncReplication", "Blocking", "LoopHolder", "blocking_providers", "blocking_targets", "reconcile_off_loop"]
