"""Write modes: how many targets take a write before it is acknowledged, and who repairs the rest.

::

    FailoverStorage(targets, writes=replication.Primary(journal="failover-journal.sqlite"))

* `Primary`: the write goes to the first target that takes it (with failover); the
  others are replicated in the background.  One round trip; replicas lag.
* `All`: the write goes to every target that looks up, one after another; a target
  that is down or fails is repaired later.  Slowest; replicas are current when healthy.
* `Quorum(w)`: acknowledged once ``w`` targets took it; the rest are repaired later.

In every mode, before a write is attempted, one journal transaction records that every
target owes it (`failover.replication.journal`); each target that takes the write is then crossed
off.  A write is acknowledged only after that, so whatever a target still owes is on
disk first.  Deletes are writes of a tombstone.  Each write carries a version
(`failover.replication.versioning`) in the object's metadata, and a repair never moves a target
backwards: last writer wins.  docs/consistency.md has the guarantees and their costs.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from failover.errors import (
    ConfigError,
    InvalidInput,
    QuorumNotReached,
)
from failover.events import BacklogChanged, held_back
from failover.replication.fanout import FanOut
from failover.replication.inflight import InFlight
from failover.replication.journal import Failed, Payload, RepairJournal, Sync, open_journal
from failover.replication.versioning import NO_VERSION, VERSION_KEY, Versioner

if TYPE_CHECKING:
    from failover.execution.pool import Pool
    from failover.replication.drainer import Drainer
    from failover.replication.reconcile import ReconcileReport
    from failover.replication.repair import DrainReport, Repairer
    from failover.routing.router import Member

logger = logging.getLogger("failover.replication.modes")

R = TypeVar("R")

DEFAULT_JOURNAL = "failover-journal.sqlite"


@dataclass(frozen=True, kw_only=True)
class WriteMode:
    """Settings every write mode shares.

    ``journal``: path of the SQLite repair journal, or a journal a fleet shares
    (`failover.fleet.redis_journal.RedisJournal`).  ``sync``: ``"full"`` (a commit
    survives power loss) or ``"normal"`` (survives a crash of the process; faster).
    ``inline_limit``: objects up to this many bytes are kept in the journal until every
    target has them, so a repair needs no source; larger ones are copied from a target
    that has them.  ``drain_interval``: seconds between background repair passes when
    nothing wakes the drainer.  ``repair_workers``: parallel repairs per pass.
    ``pass_budget``: seconds a repair pass may run before it stops (the rest waits for
    the next pass).
    ``read_repair``: a read of a key some target still owes repairs it on the spot.
    ``writer_id``: tie-breaker in versions (default: random per facade).
    ``restore_check``: seconds between checks of each target's marker object, which
    tells a target restored empty from a healthy one (None: no markers; see
    `failover.replication.anti_entropy`).  ``anti_entropy``: seconds between background comparisons
    of the recently written keys across targets (None: off).  ``unconfirmed_grace``:
    seconds after a write to a target timed out during which it may still land there,
    so a newer write to that target is confirmed by the repairer only after it; the rows
    a journal holds when it is opened wait as long, since the process that wrote them
    may have died with writes on their way (see `failover.replication.inflight`).
    """

    journal: str | os.PathLike[str] | RepairJournal = DEFAULT_JOURNAL
    sync: Sync = "full"
    inline_limit: int = 8 * 1024 * 1024
    drain_interval: float = 1.0
    repair_workers: int = 4
    pass_budget: float = 5.0
    read_repair: bool = False
    writer_id: str | None = None
    restore_check: float | None = 60.0
    unconfirmed_grace: float = 10.0
    anti_entropy: float | None = None

    def acks(self, targets: int) -> int | None:
        """Synchronous acknowledgements wanted (None: every target that looks up)."""
        raise NotImplementedError

    def validate(self, targets: int) -> None:
        if isinstance(self.inline_limit, bool) or not isinstance(self.inline_limit, int) or self.inline_limit < 0:
            raise ConfigError(f"inline_limit must be an int >= 0, not {self.inline_limit!r}")
        if not isinstance(self.drain_interval, (int, float)) or not self.drain_interval > 0:
            raise ConfigError(f"drain_interval must be > 0 seconds, not {self.drain_interval!r}")
        if isinstance(self.repair_workers, bool) or not isinstance(self.repair_workers, int) or self.repair_workers < 1:
            raise ConfigError(f"repair_workers must be an int >= 1, not {self.repair_workers!r}")
        if isinstance(self.pass_budget, bool) or not isinstance(self.pass_budget, (int, float)) or not (
            0 < self.pass_budget < float("inf")
        ):
            raise ConfigError(f"pass_budget must be > 0 seconds, not {self.pass_budget!r}")
        if isinstance(self.unconfirmed_grace, bool) or not isinstance(self.unconfirmed_grace, (int, float)) or (
            not self.unconfirmed_grace >= 0
        ):
            raise ConfigError(f"unconfirmed_grace must be >= 0 seconds, not {self.unconfirmed_grace!r}")
        for name in ("restore_check", "anti_entropy"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
                raise ConfigError(f"{name} must be > 0 seconds or None, not {value!r}")


@dataclass(frozen=True, kw_only=True)
class Primary(WriteMode):
    """Write to the first healthy target; replicate to the others in the background."""

    def acks(self, targets: int) -> int | None:
        return 1


@dataclass(frozen=True, kw_only=True)
class All(WriteMode):
    """Write to every healthy target before acknowledging; journal the ones that are down."""

    def acks(self, targets: int) -> int | None:
        return None


@dataclass(frozen=True)
class Quorum(WriteMode):
    """Acknowledge once ``w`` targets took the write; the rest catch up in the background."""

    w: int

    def acks(self, targets: int) -> int | None:
        return self.w

    def validate(self, targets: int) -> None:
        super().validate(targets)
        if isinstance(self.w, bool) or not isinstance(self.w, int) or self.w < 1:
            raise ConfigError(f"Quorum(w): w must be an int >= 1, not {self.w!r}")
        if self.w > targets:
            raise ConfigError(f"Quorum(w={self.w}) needs at least {self.w} targets; there are {targets}")


class KeyLocks:
    """One lock per key, made on first use and dropped when nobody holds or waits for it:
    a foreground write and a repair of the same key never interleave (a repair's
    check-then-put must not overwrite a write that landed in between), and writes of
    other keys never wait behind either."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def __call__(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key) or (threading.Lock(), 0)
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users = self._locks[key][1] - 1
                if users:
                    self._locks[key] = (lock, users)
                else:
                    del self._locks[key]

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)


class Replication:
    """The write path of a replicated `FailoverStorage`, and its journal and drainer."""

    def __init__(self, pool: Pool, mode: WriteMode, *, time_ns: Callable[[], int] = time.time_ns) -> None:
        from failover.replication.anti_entropy import AntiEntropy, RestoreGuard
        from failover.replication.drainer import Drainer
        from failover.replication.repair import Repairer

        if not isinstance(mode, WriteMode):
            raise ConfigError(f"writes must be replication.Primary(), All() or Quorum(w), not {mode!r}")
        self.names = tuple(t.name for t in pool.targets)
        mode.validate(len(self.names))
        self.pool = pool
        self.mode = mode
        self._acks = mode.acks(len(self.names))
        self.journal = open_journal(mode.journal, sync=mode.sync)
        self.owing = self.journal.owing  # the read path's view: key -> targets that owe it
        self.versioner = Versioner(mode.writer_id, time_ns=time_ns, floor=self.journal.last_version())
        self.locks = KeyLocks()
        self.inflight = InFlight(on_idle=self._write_finished, now=pool.clock.monotonic, grace=mode.unconfirmed_grace)
        inherited = self.inflight.inherit((t, key) for key, owed in self.owing.items() for t in owed)
        # Until then the rows found in the journal wait for a dead writer's late requests.
        self.inherited_until = pool.clock.monotonic() + mode.unconfirmed_grace if inherited else -math.inf
        if inherited:
            logger.info(
                "journal holds %d owed writes from before this process; repairs start in %.1fs, after any "
                "write still on its way from an earlier process", inherited, mode.unconfirmed_grace
            )
        self._others = {name: frozenset(n for n in self.names if n != name) for name in self.names}
        self.repairer: Repairer = Repairer(self, workers=mode.repair_workers, pass_budget=mode.pass_budget)
        self.guard = RestoreGuard(self, check_every=mode.restore_check) if mode.restore_check else None
        self.anti_entropy = AntiEntropy(self, mode.anti_entropy) if mode.anti_entropy else None
        self.drainer: Drainer = Drainer(self.maintenance_pass, mode.drain_interval)
        self.fanout = FanOut(self.on)  # All and Quorum send to their targets at once
        self._behind: set[str] = set()  # targets announced as falling behind, not yet caught up

    def _write_finished(self, target: str, key: str) -> None:
        # The last outstanding write of key to target has finished: if the target still
        # owes key, it can be checked now.
        if target in self.owing.get(key, {}):
            self.drainer.wake()

    def maintenance_pass(self, stop: threading.Event | None = None) -> DrainReport:
        """What the drainer runs each time: marker checks and anti-entropy when due, then
        one repair pass (which ends early once ``stop`` is set)."""
        now = self.pool.clock.monotonic()
        if self.guard is not None:
            self.guard.check_all(now)
        if self.anti_entropy is not None:
            self.anti_entropy.run_if_due(now)
        report = self.repairer.drain(stop)
        if report.skipped or report.failing or self._behind:
            self._watch_backlog((*report.skipped, *report.failing))
        return report

    def _watch_backlog(self, down: tuple[str, ...]) -> None:
        """`BacklogChanged` when a target falls behind (a pass found it owing writes and
        down, or failing their repairs) or catches up (a pass ended with it owing nothing).  Writes owed for a
        moment while a healthy target is repaired are not news."""
        counts = self.journal.counts()
        changes = [BacklogChanged(t, counts[t]) for t in down if t not in self._behind and counts.get(t)]
        changes += [BacklogChanged(t, 0) for t in self._behind if not counts.get(t)]
        for change in changes:
            if change.rows:
                self._behind.add(change.target)
            else:
                self._behind.discard(change.target)
            self.pool.emitter.emit(change)

    def reconcile_into(self, target: str) -> ReconcileReport:
        """Make every target agree (a restored ``target`` above all), with the journal's deletes."""
        from failover.replication.reconcile import reconcile

        return reconcile(self.pool.targets, journal=self.journal, repair=True)

    # ------------------------------------------------------------ calls on one target

    def on(self, target: str, operation: str, call: Callable[[Member], R]) -> R:
        """Run ``call`` on ``target`` only, through its breaker and health like any call."""
        return self.pool.executor_for(operation).run(operation, call, exclude=self._others[target])

    def read_repair(self, key: str, lacking: Sequence[str]) -> None:
        """``lacking`` answered `NotFound` for ``key``, which another target served: journal
        a copy for each (from whichever target holds the newest version) and wake the
        drainer.  A target already owing ``key`` a newer write keeps that row instead.

        The journal row carries no version of its own (the read may not have seen the
        object's metadata), so the repair copies the newest version it finds elsewhere.
        """
        with self.locks(key):
            owed = self.owing.get(key, {})
            fresh = [t for t in lacking if t in self._others and t not in owed]
            if not fresh:
                return
            self.journal.record(key, NO_VERSION, "put", fresh)
        logger.info("read repair: %s lacked %s; journaled a copy", ", ".join(fresh), key)
        self.drainer.wake()

    def exclude_for_read(self, key: str) -> frozenset[str]:
        """Targets a read of ``key`` should avoid: those that still owe it a write, and
        those restored empty and not yet reconciled.  Never every target."""
        owed = self.owing.get(key)
        avoid = frozenset(owed) if owed else frozenset()
        if self.guard is not None and self.guard.suspects:
            avoid |= self.guard.suspects
        return avoid if len(avoid) < len(self.names) else frozenset()

    def exclude_for_listing(self) -> frozenset[str]:
        """Targets a listing should not be served by: those restored empty and not yet
        reconciled, whose listings the journal cannot correct.  Never every target."""
        suspects = self.guard.suspects if self.guard is not None else frozenset()
        return suspects if len(suspects) < len(self.names) else frozenset()

    # ------------------------------------------------------------ writes

    def put(self, key: str, data: bytes, *, content_type: str | None, metadata: Mapping[str, str] | None) -> Any:
        meta = dict(metadata or {})
        if any(isinstance(name, str) and name.lower() == VERSION_KEY for name in meta):
            raise InvalidInput(f"metadata name {VERSION_KEY!r} is reserved for the object's version")
        version = self.versioner.next()
        meta[VERSION_KEY] = version
        inline = data if len(data) <= self.mode.inline_limit else None
        payload = Payload(inline, content_type, meta)

        def call(member: Member) -> Any:
            put = member.provider.put
            return self.inflight.track(
                member.name, key, lambda: put(key, data, content_type=content_type, metadata=meta)
            )

        return self._write("put", key, version, call, payload)

    def delete(self, key: str) -> None:
        version = self.versioner.next()
        def call(member: Member) -> None:
            self.inflight.track(member.name, key, lambda: member.provider.delete(key))

        self._write("delete", key, version, call, None)

    def _write(self, op: str, key: str, version: str, call: Callable[[Member], R], payload: Payload | None) -> R:
        """Journal the intent, write, cross off the targets that took it.  Whatever goes
        wrong, the write is either journaled for every target that lacks it or made
        nowhere: once one target took it, the intent stays for the others."""
        if self.anti_entropy is not None:
            self.anti_entropy.wrote(key)
        took: list[str] = []
        with held_back(), self.locks(key):  # events once the key's lock is let go
            prior = self.journal.record(key, version, op, self.names, payload=payload)
            try:
                result = self._one(op, call, took) if self._acks == 1 else self._fan_out(op, call, took)
            except BaseException:
                if not took:
                    self.journal.forget(key, version, prior)
                    raise
                # Some targets have it: keep their intent so the rest converge on it.
                self._settle(key, version, took)
                self.drainer.wake()
                raise
            self._settle(key, version, took)
        self.drainer.wake()
        return result

    def _settle(self, key: str, version: str, took: list[str]) -> None:
        """Cross off the targets that took the write, but not one that an older write of
        ``key`` may still reach (`failover.replication.inflight`): it goes on owing this version."""
        settled = [t for t in took if not self.inflight.busy(t, key)]
        if len(settled) < len(took):
            late = ", ".join(t for t in took if t not in settled)
            logger.info("%s: an older write may still land on %s; kept owed until checked", key, late)
        if settled:
            self.journal.settle(key, version, settled, source=settled[0])

    def _one(self, op: str, call: Callable[[Member], R], took: list[str]) -> R:
        def first(member: Member) -> R:
            result = call(member)
            took.append(member.name)
            return result

        return self.pool.executor_for(op).run(op, first)

    def _fan_out(self, op: str, call: Callable[[Member], R], took: list[str]) -> R:
        executor = self.pool.executor_for(op)
        # The plan holds the targets that look up, best first (all of them in panic mode).
        plan = executor.router.plan(executor.clock.monotonic())
        return self.fanout.write(op, call, plan, self._acks, took)

    # ------------------------------------------------------------ lifecycle

    def pending(self) -> dict[str, int]:
        """How many keys each target still owes (quarantined rows included)."""
        return self.journal.counts()

    def failed(self) -> list[Failed]:
        """The quarantined rows: repairs a target refused for good, with its answer."""
        return self.journal.failed()

    def quarantined(self) -> int:
        """How many rows are quarantined (a figure for `status()` and metrics)."""
        return self.journal.quarantined()

    def start(self) -> None:
        self.drainer.start()

    def close(self, timeout: float = 1.0) -> None:
        """Stop the background repairs, waiting at most ``timeout`` seconds for the
        drainer: a pass stops before its next repair, never runs to its end.  The journal
        stays open: a write made after ``close`` (the facade still works) must still be
        journaled."""
        self.drainer.stop(timeout)
        self.fanout.close()
        self.repairer.close()


__all__ = ["DEFAULT_JOURNAL", "All", "KeyLocks", "Primary", "Quorum", "QuorumNotReached", "Replication", "WriteMode"]
