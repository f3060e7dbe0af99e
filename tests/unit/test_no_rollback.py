"""A write that lands late never rolls a replica back: real threads, bounded waits on events."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

from failover import BreakerConfig, ExecutionConfig, FailoverStorage, Target, replication
from failover.clock import FakeClock
from failover.errors import FailoverError, Timeout
from failover.providers.memory import MemoryObjectStore
from tests.unit.pools import NAMES


class HoldsV1(MemoryObjectStore):
    """A replica whose first write (``v1``) hangs until released, then lands."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.landed = threading.Event()

    def put(self, key: str, data: Any, **options: Any) -> Any:
        if data == b"v1":
            self.release.wait(timeout=10.0)
            try:
                return super().put(key, data, **options)
            finally:
                self.landed.set()
        return super().put(key, data, **options)


def test_a_write_that_lands_after_a_newer_one_is_repaired_not_left_behind(tmp_path: Path) -> None:
    fast, slow = MemoryObjectStore(), HoldsV1()
    store = FailoverStorage(
        [Target(NAMES[0], fast, priority=0), Target(NAMES[1], slow, priority=1)],
        writes=replication.All(journal=str(tmp_path / "journal.sqlite"), restore_check=None),
        execution=ExecutionConfig(enforce_timeouts=True, attempt_timeout=0.1, deadline=5.0),
        breaker=BreakerConfig(consecutive_failures=100),
    )
    try:
        with contextlib.suppress(FailoverError):  # All() wanted both: not acknowledged
            store.put("k", b"v1")  # the slow replica's attempt is abandoned, still running
        store.put("k", b"v2")  # acknowledged by both
        assert store.pending() == {NAMES[1]: 1}, "settled while an older write was outstanding"
        slow.release.set()
        assert slow.landed.wait(10.0)
        assert slow.get("k") == b"v1"  # the late write landed: the replica went backwards
        store.repair()
        assert slow.get("k") == b"v2" and fast.get("k") == b"v2"
        assert store.pending() == {}
        assert store.get("k") == b"v2"
    finally:
        slow.release.set()
        store.close()



class WrittenMeanwhile(MemoryObjectStore):
    """A replica whose next ``put`` lets ``during`` run first: a write racing a reconcile's copy."""

    def __init__(self) -> None:
        super().__init__()
        self.during: Any = None

    def put(self, key: str, data: Any, **options: Any) -> Any:
        during, self.during = self.during, None
        if during is not None:
            during()
        return super().put(key, data, **options)


def test_reconcile_never_rolls_back_a_write_acknowledged_while_it_copies(tmp_path: Path) -> None:
    source, lagging = MemoryObjectStore(), WrittenMeanwhile()
    store = FailoverStorage(
        [Target(NAMES[0], source, priority=0), Target(NAMES[1], lagging, priority=1)],
        writes=replication.All(journal=str(tmp_path / "journal.sqlite"), restore_check=None),
    )
    try:
        store.put("k", b"v1")
        lagging.delete("k")  # lost behind the library's back: reconcile will copy v1 back
        lagging.during = lambda: store.put("k", b"v2")  # acknowledged on both meanwhile
        report = store.reconcile(repair=True)
        assert lagging.get("k") == b"v2" and source.get("k") == b"v2"
        assert [kind.split(":")[0] for _, kind in report.failed] == ["precondition_failed"]
    finally:
        store.close()


class TimesOutOnV1(MemoryObjectStore):
    """A replica where the client gives up on ``v1``, and the request is applied later."""

    def put(self, key: str, data: Any, **options: Any) -> Any:
        if data == b"v1":
            raise Timeout("read timed out")
        return super().put(key, data, **options)


def test_a_write_that_timed_out_may_still_land_so_the_newer_one_is_confirmed_later(tmp_path: Path) -> None:
    clock = FakeClock()
    fast, slow = MemoryObjectStore(clock=clock), TimesOutOnV1(clock=clock)
    store = FailoverStorage(
        [Target(NAMES[0], fast, priority=0), Target(NAMES[1], slow, priority=1)],
        writes=replication.All(journal=str(tmp_path / "journal.sqlite"), restore_check=None, unconfirmed_grace=5.0),
        breaker=BreakerConfig(consecutive_failures=100),
        clock=clock,
    )
    try:
        with contextlib.suppress(FailoverError):
            store.put("k", b"v1")
        v2 = store.put("k", b"v2")
        assert store.pending() == {NAMES[1]: 1}
        MemoryObjectStore.put(slow, "k", b"v1")  # the timed-out request is applied after all
        store.repair()
        assert slow.get("k") == b"v1" and store.pending() == {NAMES[1]: 1}  # within the grace: wait
        clock.advance(6.0)
        store.repair()
        assert slow.get("k") == b"v2" and slow.head("k").version == v2.version
        assert store.pending() == {}
    finally:
        store.close()


def test_a_process_that_opens_a_journal_waits_out_writes_a_dead_process_left_on_the_wire(tmp_path: Path) -> None:
    clock = FakeClock()
    fast, slow = MemoryObjectStore(clock=clock), TimesOutOnV1(clock=clock)

    def facade() -> FailoverStorage:
        return FailoverStorage(
            [Target(NAMES[0], fast, priority=0), Target(NAMES[1], slow, priority=1)],
            writes=replication.Primary(
                journal=str(tmp_path / "journal.sqlite"), restore_check=None, unconfirmed_grace=5.0
            ),
            breaker=BreakerConfig(consecutive_failures=1, open_base=300.0, jitter=0.0),
            clock=clock,
        )

    first = facade()
    first.put("k", b"v1")
    with contextlib.suppress(FailoverError):
        first.repair()  # the replica's copy of v1 times out: it may still be on its way
    v2 = first.put("k", b"v2")  # the replica's breaker is open: it owes v2
    assert first.pending() == {NAMES[1]: 1}
    # The first process dies here, without closing; another opens its journal.
    second = facade()
    try:
        second.repair()
        MemoryObjectStore.put(slow, "k", b"v1")  # the dead process's request arrives after all
        second.repair()
        assert second.pending() == {NAMES[1]: 1}, "repaired while a dead process's write could still land"
        clock.advance(6.0)
        second.repair()
        assert slow.get("k") == b"v2" and slow.head("k").version == v2.version
        assert second.pending() == {}
    finally:
        first.close()
        second.close()
