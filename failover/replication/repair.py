"""Draining the journal: bring each target to the newest version of every key it owes.

``Repairer.drain()`` is the whole algorithm and needs no thread: unit tests call it
on a `FakeClock`.  `failover.replication.drainer.Drainer` runs it on a daemon thread, woken by
every journaled write and at least every ``drain_interval`` seconds; the facade
starts and stops it with its health checks.

A repair of one owed (target, key, version), under the key's lock:

* a **put**: if the target already holds that version or a newer one, nothing to do.
  Otherwise write the payload kept in the journal, or, for an object too large to
  keep there, copy the newest replica found on another target.  A key that a newer
  delete removed is never written back (its row was replaced by the delete's).
* a **delete**: delete the target's object unless it holds a newer version.

A target that is down (unhealthy, or its breaker open) is skipped for the pass, and a
pass checks again before every repair, so it stops at a breaker that opens meanwhile.
A pass also stops after ``pass_budget`` seconds and when the drainer is closing.  A
repair that fails on a temporary error stays owed and counts an attempt.  One the target
refuses for good (`InvalidRequest`, `InvalidInput`) is quarantined: it stays owed (reads
still avoid that target for the key) but is not retried, blocks no other row, and is
announced by a `RepairQuarantined` event.

The key's lock is held only around the final write to the target, never across the
reads that decide it; the write itself is bounded by the attempt timeout.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

from failover.breaker.circuit import BreakerState
from failover.capabilities import ObjectInfo
from failover.errors import FailoverError, InvalidInput, InvalidRequest, NotFound, PreconditionFailed
from failover.events import RepairQuarantined, held_back
from failover.execution.pool import WRITE
from failover.replication.conditional import condition_on, takes_conditions
from failover.replication.journal import Owed
from failover.replication.refusal import refusal
from failover.replication.versioning import metadata_with_version, version_of

if TYPE_CHECKING:
    from failover.replication.modes import Replication
    from failover.routing.router import Member

R = TypeVar("R")

logger = logging.getLogger("failover.replication.repair")

Outcome = Literal["repaired", "failed", "waiting", "quarantined", "deferred"]
BATCH = 256


@dataclass(frozen=True, slots=True)
class DrainReport:
    """One pass: repairs done, failed (still owed), waiting for a source, quarantined
    (refused for good), deferred (the pass stopped first); owed afterwards."""

    repaired: int = 0
    failed: int = 0
    waiting: int = 0
    remaining: int = 0
    skipped: tuple[str, ...] = ()  # targets left alone because they look down
    quarantined: int = 0
    deferred: int = 0
    stopped: str | None = None  # "budget" or "closing" when the pass ended early
    failing: tuple[str, ...] = ()  # targets on which a repair failed (still owed)


def refused(exc: FailoverError) -> bool:
    """A permanent refusal: the target answered that it will never take this write."""
    return isinstance(exc, (InvalidRequest, InvalidInput)) and not exc.fails_over


class Repairer:
    def __init__(self, replication: Replication, *, workers: int = 1, pass_budget: float = 5.0) -> None:
        self._r = replication
        self._journal = replication.journal
        self._workers = workers
        self._budget = pass_budget
        self._threads: ThreadPoolExecutor | None = None
        self._threads_lock = threading.Lock()
        router = replication.pool.executor_for_class(WRITE).router
        self._members = {m.name: m for m in router.members}

    # ------------------------------------------------------------ passes

    def drain(self, stop: threading.Event | None = None) -> DrainReport:
        """One pass over everything owed now, target by target, oldest first.

        Before each repair the pass checks the target (unhealthy or its breaker open:
        the rest of its rows wait for the next pass), its time budget (``pass_budget``
        seconds on the pool's clock) and ``stop`` (set when the drainer is closing).
        """
        clock = self._r.pool.clock
        ends = clock.monotonic() + self._budget
        upto = self._journal.seq
        counts: dict[str, int] = {}
        skipped: list[str] = []
        failing: list[str] = []
        stopped: str | None = None
        owing = self._journal.counts()

        def go(target: str) -> Outcome | None:
            nonlocal stopped
            if stop is not None and stop.is_set():
                stopped = "closing"
            elif clock.monotonic() >= ends:
                stopped = "budget"
            elif self.usable(target):
                return None
            return "deferred"

        for target in self._r.names:
            if stopped is not None:
                break
            if not self.usable(target):
                if target in owing:
                    skipped.append(target)
                continue
            after = 0
            while after < upto:
                batch = [o for o in self._journal.owed(target, limit=BATCH, after=after) if o.seq <= upto]
                if not batch:
                    break
                after = batch[-1].seq
                outcomes = self._run(batch, go)
                for outcome in outcomes:
                    counts[outcome] = counts.get(outcome, 0) + 1
                if stopped is None and stop is not None and stop.is_set():
                    stopped = "closing"  # repairs cancelled before they started
                if "deferred" in outcomes and stopped is None and target not in skipped:
                    skipped.append(target)  # it went down during the pass
                if "failed" in outcomes:
                    failing.append(target)
                if "failed" in outcomes or "deferred" in outcomes:
                    break  # struggling or down: leave it to its breaker until the next pass
        return DrainReport(
            counts.get("repaired", 0),
            counts.get("failed", 0),
            counts.get("waiting", 0),
            len(self._journal),
            tuple(skipped),
            counts.get("quarantined", 0),
            counts.get("deferred", 0),
            stopped,
            tuple(failing),
        )

    def drain_all(self, max_passes: int = 100) -> DrainReport:
        """Pass until nothing is owed or a pass makes no progress (for tests and tools)."""
        report = DrainReport()
        for _ in range(max_passes):
            report = self.drain()
            if report.remaining == 0 or report.repaired == 0:
                break
        return report

    def repair_key(self, key: str) -> None:
        """Repair ``key`` on every target that owes it now (read-repair)."""
        for target in tuple(self._r.owing.get(key, ())):
            owed = self._journal.entry(target, key)
            if owed is not None and self.usable(target):
                self.repair(owed)

    def usable(self, target: str) -> bool:
        member = self._members[target]
        breaker = member.breaker
        state = breaker.state
        if state is BreakerState.FORCED_OPEN:
            return False
        if state is BreakerState.OPEN and self._r.pool.clock.monotonic() < breaker.open_until:
            return False
        return member.health.healthy

    def _run(self, batch: list[Owed], go: Callable[[str], Outcome | None]) -> list[Outcome]:
        def one(owed: Owed) -> Outcome:
            return go(owed.target) or self.repair(owed)

        if self._workers == 1 or len(batch) == 1:
            outcomes: list[Outcome] = []
            for owed in batch:
                outcomes.append(one(owed))
                if outcomes[-1] in ("failed", "deferred"):
                    break
            return outcomes
        pool = self._pool()
        futures: list[Future[Outcome] | None] = []
        for owed in batch:
            try:
                futures.append(pool.submit(one, owed))
            except RuntimeError:  # `close` shut the pool down meanwhile
                futures.append(None)
        outcomes = []
        for future in futures:
            try:
                outcomes.append("deferred" if future is None else future.result())
            except CancelledError:  # cancelled by `close` before it started
                outcomes.append("deferred")
        return outcomes

    def _pool(self) -> ThreadPoolExecutor:
        with self._threads_lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(self._workers, thread_name_prefix="failover-repair")
            return self._threads

    def close(self) -> None:
        """Stop the repair threads without waiting: an attempt in flight ends on its own
        (its attempt timeout); repairs not started are cancelled."""
        with self._threads_lock:
            if self._threads is not None:
                self._threads.shutdown(wait=False, cancel_futures=True)
                self._threads = None

    # ------------------------------------------------------------ one repair

    def repair(self, owed: Owed) -> Outcome:
        """Repair one row.  Reads (of the target and of the sources) run without the key's
        lock; the lock is held only around the one write to the target, after checking
        that the row is still current, so a foreground write never waits for a slow read."""
        if not self._current(owed):
            return "repaired"  # settled or superseded meanwhile: the newer row is its own work
        if self._r.inflight.busy(owed.target, owed.key):
            return "waiting"  # an older write may still land there: check once it has finished
        try:
            return self._delete(owed) if owed.op == "delete" else self._put(owed)
        except PreconditionFailed:
            return "waiting"  # the target changed between our look and our write: look again
        except FailoverError as exc:
            error = f"{exc.kind}: {exc}"
            if refused(exc):
                self._journal.quarantine(owed, error)
                logger.warning("repair of %s on %s refused; quarantined: %s", owed.key, owed.target, exc)
                event = RepairQuarantined(owed.target, owed.key, owed.version, owed.op, error)
                self._r.pool.emitter.emit(event)
                return "quarantined"
            self._journal.note_failure(owed, error)
            logger.debug("repair of %s on %s failed: %s", owed.key, owed.target, exc)
            return "failed"

    def _on(self, target: str, operation: str, call: Callable[[Member], R]) -> R:
        """`Replication.on`, with an exception no adapter mapped (an SDK's own) taken as
        the target's refusal of this repair, as a write maps it."""
        try:
            return self._r.on(target, operation, call)
        except FailoverError:
            raise
        except Exception as exc:
            raise refusal(exc, target=target, operation=operation) from exc

    def _current(self, owed: Owed) -> bool:
        current = self._journal.entry(owed.target, owed.key)
        return current is not None and current.version == owed.version

    def _write(self, owed: Owed, write: Callable[[], object] | None) -> Outcome:
        """Under the key's lock: if the row is still current, make ``write`` (None: nothing
        to write) and settle the row."""
        with held_back(), self._r.locks(owed.key):  # events once the key's lock is let go
            if not self._current(owed):
                return "repaired"  # a foreground write replaced the row while we read
            if write is not None:
                write()
            self._journal.settle(owed.key, owed.version, (owed.target,))
        return "repaired"

    def _delete(self, owed: Owed) -> Outcome:
        there = self._head(owed.target, owed.key)
        if there is None or version_of(there) > owed.version:
            return self._write(owed, None)
        key = owed.key
        return self._write(owed, lambda: self._on(owed.target, "delete", lambda m: m.provider.delete(key)))

    def _put(self, owed: Owed) -> Outcome:
        key = owed.key
        there = self._head(owed.target, key)
        have = None if there is None else version_of(there)
        if have is not None and have >= owed.version:
            return self._write(owed, None)
        payload = self._journal.payload(key, owed.version)
        if payload is not None and payload.data is not None:
            data, content_type, metadata = payload.data, payload.content_type, payload.metadata
        else:
            found = self._newest_elsewhere(owed)
            if found is None:
                return "waiting"  # no copy reachable yet
            source, info = found
            if info is None or (have is not None and version_of(info) <= have):
                return self._write(owed, None)  # nothing newer anywhere: the write never landed
            data = self._on(source, "get", lambda m: m.provider.get(key))
            if info.checksum and info.checksum != "sha256:" + hashlib.sha256(data).hexdigest():
                return "waiting"  # replaced between head and get by another process: next pass
            content_type, metadata = info.content_type, metadata_with_version(info)
        # Conditional on what the target held when we looked, so a write that lands in
        # between (an abandoned attempt, another process) is never overwritten blindly.
        condition = condition_on(there)

        def put(member: Member) -> object:
            provider = member.provider
            options = condition if takes_conditions(provider) else {}
            return self._r.inflight.track(
                owed.target,
                key,
                lambda: provider.put(key, data, content_type=content_type, metadata=metadata, **options),
            )

        return self._write(owed, lambda: self._on(owed.target, "put", put))

    def _newest_elsewhere(self, owed: Owed) -> tuple[str, ObjectInfo | None] | None:
        """The target with the newest copy of the key (its version ``>= owed`` wins at once).

        None: no copy as new as ``owed`` is known and some target could not be asked.
        ``(target, None)``: every other target answered and none has the key.
        """
        others = [n for n in self._r.names if n != owed.target]
        if owed.source in others:
            others.remove(owed.source)
            others.insert(0, owed.source)
        best: tuple[str, ObjectInfo] | None = None
        unknown = False
        for name in others:
            try:
                info = self._head(name, owed.key)
            except FailoverError:
                unknown = True
                continue
            if info is None:
                continue
            if best is None or version_of(info) > version_of(best[1]):
                best = (name, info)
            if version_of(info) >= owed.version:
                return best
        if unknown:
            return None
        return best if best is not None else (owed.target, None)

    def _head(self, target: str, key: str) -> ObjectInfo | None:
        try:
            info: ObjectInfo = self._on(target, "head", lambda m: m.provider.head(key))
        except NotFound:
            return None
        return info



__all__ = ["DrainReport", "Repairer", "refused"]
