"""Replicated writes of the async facade: ``writes=`` Primary, All or Quorum(w), awaited.

The rules are the sync facade's (`failover.replication.modes`, docs/consistency.md):
before a write is sent anywhere, one journal transaction records that every target
owes it; each target that takes it is then crossed off, and only then is the write
acknowledged.  Every write carries a version (`failover.replication.versioning`), so a
repair never moves a target backwards.  What differs is how the sends are made:

* ``All`` sends to every target of the plan at once, each send a task pinned to its
  target (through its breaker and health); ``Quorum(w)`` sends to the first ``w`` and,
  for each one that fails, to the next, and acknowledges at the ``w``-th success.
  ``Primary`` is one routed call, with failover.  Targets that did not take the write
  keep owing it, and the repairer brings them up to date.
* The journal is reached through its own thread (`failover.aio.journaling`): the loop
  never waits for a commit.
* A send cut short (the attempt timeout, or the caller cancelling) may still land on
  its target: that target is treated as written by someone else for
  ``unconfirmed_grace`` seconds (`failover.replication.inflight.InFlight.inherit`), so
  the repairer checks it only after that.
* A caller that cancels a write gets `asyncio.CancelledError` at once, and the write
  is not lost: if no send had started, the intent is taken back (the write was made
  nowhere); otherwise every target that did not confirm it goes on owing it, and the
  repairer completes it.  So a cancelled write is made everywhere or nowhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from failover.aio.journaling import JournalWorker, hold, releasing
from failover.capabilities import ObjectInfo
from failover.errors import AllTargetsFailed, FailoverError, InvalidInput, QuorumNotReached
from failover.events import held_back
from failover.execution.lookup import Lookup
from failover.replication.journal import Payload, Prior
from failover.replication.refusal import refusal
from failover.replication.versioning import NO_VERSION, VERSION_KEY

if TYPE_CHECKING:
    import concurrent.futures

    from failover.aio.executor import AsyncExecutor, Call
    from failover.replication.modes import Replication
    from failover.routing.router import Member

R = TypeVar("R")
Send = Callable[["Member[Any]"], Awaitable[Any]]

logger = logging.getLogger("failover.aio.replication")


class AsyncWrites:
    """The replicated write and read paths of an async facade, over ``replication``'s
    journal, locks, versions and repairer (the sync facade's own, when shared)."""

    def __init__(
        self, replication: Replication, read: AsyncExecutor, write: AsyncExecutor, worker: JournalWorker
    ) -> None:
        self.replication = replication
        self.worker = worker
        self._read = read
        self._write = write
        self._acks = replication.mode.acks(len(replication.names))
        self._all_but = {n: frozenset(replication.names) - {n} for n in replication.names}
        # key -> (lock, users): this facade's writers of one key queue here, on the loop,
        # so that at most one of them waits on a thread for the key's shared lock.
        self._queues: dict[str, tuple[asyncio.Lock, int]] = {}

    # ------------------------------------------------------------ writes

    async def put(
        self, key: str, data: bytes, *, content_type: str | None, metadata: Mapping[str, str] | None
    ) -> ObjectInfo:
        r = self.replication
        meta = dict(metadata or {})
        if any(isinstance(name, str) and name.lower() == VERSION_KEY for name in meta):
            raise InvalidInput(f"metadata name {VERSION_KEY!r} is reserved for the object's version")
        version = r.versioner.next()
        meta[VERSION_KEY] = version
        inline = data if len(data) <= r.mode.inline_limit else None

        def send(member: Member[Any]) -> Awaitable[ObjectInfo]:
            return member.provider.put(key, data, content_type=content_type, metadata=meta)  # type: ignore[no-any-return]

        info: ObjectInfo = await self._replicate("put", key, version, send, Payload(inline, content_type, meta))
        return info

    async def delete(self, key: str) -> None:
        def send(member: Member[Any]) -> Awaitable[None]:
            return member.provider.delete(key)  # type: ignore[no-any-return]

        await self._replicate("delete", key, self.replication.versioner.next(), send, None)

    async def _replicate(self, op: str, key: str, version: str, send: Send, payload: Payload | None) -> Any:
        """Journal the intent, send, cross off the targets that took it (see the module
        docstring for what a failure or a cancellation leaves journaled)."""
        r = self.replication
        if r.anti_entropy is not None:
            r.anti_entropy.wrote(key)
        with held_back():  # events once the key's lock is let go
            async with self._queued(key):
                return await self._locked(op, key, version, send, payload)

    async def _locked(self, op: str, key: str, version: str, send: Send, payload: Payload | None) -> Any:
        """The write, under the key's lock: a repair of the key never interleaves with it."""
        r = self.replication
        worker, journal = self.worker, r.journal
        took: list[str] = []
        doubtful: set[str] = set()  # sends cut short: they may land yet
        held = await hold(r.locks, key)
        with releasing(held):
            recording = worker.submit(journal.record, key, version, op, r.names, payload=payload)
            try:
                prior = await worker.wait(recording)
            except asyncio.CancelledError:
                # The intent is committed or about to be; nothing was sent: take it back.
                held.release_after(worker.submit(_take_back, journal, recording, key, version))
                raise
            try:
                if self._acks == 1:
                    result = await self._one(op, send, took, doubtful)
                else:
                    result = await self._fan_out(op, send, took, doubtful)
            except BaseException as exc:
                self._doubt(key, doubtful)
                # Made nowhere: drop the intent.  Cancelled mid-send, or taken somewhere:
                # the targets that did not confirm it go on owing it.
                keep = bool(took) or (isinstance(exc, asyncio.CancelledError) and bool(doubtful))
                job = (
                    worker.submit(self._settle, key, version, took)
                    if keep
                    else worker.submit(journal.forget, key, version, prior)
                )
                held.release_after(job)
                if keep:
                    r.drainer.wake()
                await worker.wait(job)
                raise
            self._doubt(key, doubtful)
            settling = worker.submit(self._settle, key, version, took)
            held.release_after(settling)
            await worker.wait(settling)
        r.drainer.wake()
        return result

    @contextlib.asynccontextmanager
    async def _queued(self, key: str) -> AsyncIterator[None]:
        queues = self._queues
        lock, users = queues.get(key) or (asyncio.Lock(), 0)
        queues[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            users = queues[key][1] - 1
            if users:
                queues[key] = (lock, users)
            else:
                del queues[key]

    def _doubt(self, key: str, targets: set[str]) -> None:
        if targets:
            self.replication.inflight.inherit((t, key) for t in targets)

    def _settle(self, key: str, version: str, took: list[str]) -> None:
        """On the journal thread: cross off the targets that took the write, but not one an
        older write of ``key`` may still reach (`failover.replication.inflight`)."""
        r = self.replication
        settled = [t for t in took if not r.inflight.busy(t, key)]
        if len(settled) < len(took):
            late = ", ".join(t for t in took if t not in settled)
            logger.info("%s: an older write may still land on %s; kept owed until checked", key, late)
        if settled:
            r.journal.settle(key, version, settled, source=settled[0])

    async def _one(self, op: str, send: Send, took: list[str], doubtful: set[str]) -> Any:
        async def first(member: Member[Any]) -> Any:
            result = await _tracked(member, send, doubtful)
            took.append(member.name)
            return result

        return await self._write.run(op, first)

    async def _pinned(self, target: str, op: str, send: Send, doubtful: set[str]) -> Any:
        call: Call[Any] = lambda m: _tracked(m, send, doubtful)  # noqa: E731
        return await self._write.run(op, call, exclude=self._all_but[target])

    async def _fan_out(self, op: str, send: Send, took: list[str], doubtful: set[str]) -> Any:
        """Send at once to the plan's targets (``Quorum``: until ``w`` took it); ``took``
        is filled in plan order, and the answer is the best target's."""
        sync = self._write.executor
        plan = sync.router.plan(sync.clock.monotonic())  # the targets that look up, best first
        need = len(plan) if self._acks is None else self._acks
        order = {m.name: i for i, m in enumerate(plan)}
        waiting = [m.name for m in plan]
        running: dict[asyncio.Future[Any], str] = {}
        results: dict[str, Any] = {}
        errors: list[FailoverError] = []
        foreign: list[Exception] = []  # exceptions no adapter mapped
        try:
            while waiting or running:
                while waiting and len(running) + len(results) < need:
                    name = waiting.pop(0)
                    running[asyncio.ensure_future(self._pinned(name, op, send, doubtful))] = name
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    _collect(op, running.pop(task), task, results, errors, foreign)
        except BaseException:
            await _stop(running, results)  # cancelled: the sends that landed first still count
            raise
        finally:
            took.extend(sorted(results, key=order.__getitem__))
        if not took:
            if foreign and len(foreign) == len(errors):
                raise foreign[0]  # refused the same way everywhere: the caller's bug, unchanged
            if len(errors) == 1:
                raise errors[0]
            raise AllTargetsFailed(f"{op}: no target took the write", operation=op, attempts=errors)
        if self._acks is not None and len(took) < self._acks:
            raise QuorumNotReached(
                f"{op}: {len(took)} of the {need} acknowledgements wanted ({', '.join(took)})",
                operation=op,
                attempts=errors,
                acked=tuple(took),
            )
        return results[took[0]]

    # ------------------------------------------------------------ reads

    async def read_key(self, key: str, operation: str, call: Call[R]) -> R:
        """A read of one object, as the sync facade's replicated read: targets that still
        owe ``key`` are avoided (read-your-writes), a target's `NotFound` sends the read on
        (`Lookup(fall_through=True)`), and the targets that lacked it are journaled for a
        copy (read repair)."""
        r = self.replication
        lookup = Lookup(fall_through=True)
        owed = key in r.owing
        guard = r.guard
        exclude = r.exclude_for_read(key) if owed or (guard and guard.suspects) else frozenset()
        result = await self._read.run(operation, call, exclude=exclude, lookup=lookup)
        if lookup.missed:
            await self.read_repair(key, lookup.missed)
        if owed and r.mode.read_repair:
            # The repairer is sync code: on a thread, its calls come back to this loop.
            await asyncio.get_running_loop().run_in_executor(None, r.repairer.repair_key, key)
        return result

    async def read_repair(self, key: str, lacking: Sequence[str]) -> None:
        """Journal a copy of ``key`` for each target in ``lacking`` that owes it nothing yet."""
        held = await hold(self.replication.locks, key)
        with releasing(held):
            job = self.worker.submit(self._journal_copy, key, tuple(lacking))
            held.release_after(job)
            fresh = await self.worker.wait(job)
        if fresh:
            logger.info("read repair: %s lacked %s; journaled a copy", ", ".join(fresh), key)
            self.replication.drainer.wake()

    def _journal_copy(self, key: str, lacking: tuple[str, ...]) -> list[str]:
        # No version of its own: the repair copies the newest version it finds elsewhere.
        r = self.replication
        owed = r.owing.get(key, {})
        fresh = [t for t in lacking if t in self._all_but and t not in owed]
        if fresh:
            r.journal.record(key, NO_VERSION, "put", fresh)
        return fresh


async def _tracked(member: Member[Any], send: Send, doubtful: set[str]) -> Any:
    """``send(member)``; a send cut short is noted in ``doubtful``: it may land yet."""
    try:
        return await send(member)
    except BaseException as exc:
        if isinstance(exc, asyncio.CancelledError) or _timed_out(exc):
            doubtful.add(member.name)
        raise


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or getattr(exc, "kind", None) in ("timeout", "deadline_exceeded")


def _collect(
    op: str,
    name: str,
    task: asyncio.Future[Any],
    results: dict[str, Any],
    errors: list[FailoverError],
    foreign: list[Exception],
) -> None:
    """Note one send's outcome."""
    exc = task.exception()
    if exc is None:
        results[name] = task.result()
    elif isinstance(exc, FailoverError):
        errors.append(exc)
    elif isinstance(exc, Exception):
        # Mapped here, so that one target's unmapped error neither hides the targets
        # that took the write nor stops the others from taking it.
        foreign.append(exc)
        errors.append(refusal(exc, target=name, operation=op))
    else:
        raise exc


async def _stop(running: dict[asyncio.Future[Any], str], results: dict[str, Any]) -> None:
    """Cancel the sends still running; note those that had landed by then."""
    for task in running:
        task.cancel()
    if running:
        with contextlib.suppress(asyncio.CancelledError):  # cancelled again: note what is done
            await asyncio.wait(running)
    for task, name in running.items():
        if task.done() and not task.cancelled() and task.exception() is None:
            results[name] = task.result()


def _take_back(journal: Any, recording: concurrent.futures.Future[Prior], key: str, version: str) -> None:
    """On the journal thread, after ``recording``: drop an intent whose write was never sent."""
    if recording.exception() is None:
        journal.forget(key, version, recording.result())


__all__ = ["AsyncWrites"]
