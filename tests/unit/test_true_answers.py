"""A read answers `NotFound` only when a target that would hold the object said so.

Hedged reads use real threads with bounded waits on events (no blind sleeps); the rest
run on the fake clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from failover import BreakerConfig, ExecutionConfig, FailoverStorage, Target, replication
from failover.clock import FakeClock
from failover.errors import ConfigError, NotFound, NotFoundUnconfirmed, PermissionDenied
from failover.providers.memory import MemoryObjectStore
from failover.replication.anti_entropy import MARKER_KEY
from tests.unit.pools import NAMES, make_rig

READS: dict[str, Callable[[FailoverStorage], Any]] = {
    "get": lambda s: s.get("k"),
    "get_range": lambda s: s.get_range("k", 0, 1),
    "head": lambda s: s.head("k").size,
}
WANT = {"get": b"v", "get_range": b"v", "head": 1}


class SlowHolder(MemoryObjectStore):
    """Holds the object, but answers only once the other target has answered."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release

    def _wait(self) -> None:
        self.release.wait(timeout=5.0)

    def get(self, key: str) -> bytes:
        self._wait()
        return super().get(key)

    def get_range(self, key: str, start: int, end: int) -> bytes:
        self._wait()
        return super().get_range(key, start, end)

    def head(self, key: str) -> Any:
        self._wait()
        return super().head(key)


class Lacking(MemoryObjectStore):
    """Lacks the object; says so at once, then lets the slow holder answer."""

    def __init__(self, answered: threading.Event) -> None:
        super().__init__()
        self.answered = answered

    def get(self, key: str) -> bytes:
        try:
            return super().get(key)
        finally:
            self.answered.set()

    def get_range(self, key: str, start: int, end: int) -> bytes:
        try:
            return super().get_range(key, start, end)
        finally:
            self.answered.set()

    def head(self, key: str) -> Any:
        try:
            return super().head(key)
        finally:
            self.answered.set()


@pytest.fixture
def slow_primary() -> Iterator[tuple[SlowHolder, Lacking]]:
    answered = threading.Event()
    primary, secondary = SlowHolder(answered), Lacking(answered)
    primary.put("k", b"v")
    yield primary, secondary
    answered.set()


@pytest.mark.parametrize("read", sorted(READS))
def test_a_hedge_that_finds_nothing_waits_for_the_slow_primary_that_has_the_object(
    slow_primary: tuple[SlowHolder, Lacking], read: str
) -> None:
    primary, secondary = slow_primary
    store = FailoverStorage(
        [Target("memory:primary", primary, priority=0), Target("memory:secondary", secondary, priority=1)],
        execution=ExecutionConfig(hedge_after=0.02, attempt_timeout=5.0),
        breaker=BreakerConfig(consecutive_failures=100),
    )
    with store:
        assert READS[read](store) == WANT[read]
    assert secondary.answered.is_set()  # the hedge did run, and its NotFound lost


def test_notfound_from_a_fallback_while_the_primary_is_down_is_unconfirmed() -> None:
    rig = make_rig()
    rig.stores[0].put("only-on-a", b"x")
    rig.chaos[0].down()
    with pytest.raises(NotFoundUnconfirmed) as caught:
        rig.storage.get("only-on-a")
    error = caught.value
    assert not isinstance(error, NotFound)
    assert error.unreachable == (NAMES[0],) and error.answered == (NAMES[1], NAMES[2])
    assert f"{NAMES[0]}, which may hold it, is unreachable" in str(error)
    assert not error.temporary and error.status == "persistent"


def test_notfound_behind_an_open_breaker_names_the_skipped_target() -> None:
    rig = make_rig()
    rig.storage.pool.member(NAMES[0]).breaker.force_open()
    with pytest.raises(NotFoundUnconfirmed) as caught:
        rig.storage.get("missing")
    assert caught.value.unreachable == (NAMES[0],)
    assert caught.value.skipped == (NAMES[0],)


def test_notfound_from_the_reachable_primary_is_the_answer_in_one_call() -> None:
    rig = make_rig()
    with pytest.raises(NotFound) as caught:
        rig.storage.get("missing")
    assert type(caught.value) is NotFound and caught.value.target == NAMES[0]
    assert [c.calls for c in rig.chaos] == [1, 0, 0]


def test_an_object_written_during_an_outage_is_found_past_a_fallback_that_lacks_it() -> None:
    rig = make_rig()
    rig.stores[2].put("written-to-c", b"c")
    rig.chaos[0].down()
    assert rig.storage.get("written-to-c") == b"c"


def replicated(tmp_path: Path, count: int = 3) -> tuple[FailoverStorage, list[MemoryObjectStore]]:
    stores = [MemoryObjectStore() for _ in range(count)]
    targets = [Target(NAMES[i], stores[i], priority=i) for i in range(count)]
    mode = replication.Primary(journal=str(tmp_path / "journal.sqlite"))
    return FailoverStorage(targets, writes=mode), stores


def test_replicated_read_falls_through_a_target_that_lacks_the_object_and_repairs_it(tmp_path: Path) -> None:
    store, stores = replicated(tmp_path)
    stores[1].put("before-replication", b"old")  # a key written before writes= was on
    try:
        assert store.get("before-replication") == b"old"
        assert store.pending() == {NAMES[0]: 1}  # the target that answered NotFound
        store.repair()
        assert stores[0].get("before-replication") == b"old"
        assert store.pending() == {}
    finally:
        store.close()


def test_a_target_restored_empty_does_not_answer_notfound_for_what_others_hold(tmp_path: Path) -> None:
    store, stores = replicated(tmp_path)
    try:
        for i in range(5):
            store.put(f"k{i}", b"v%d" % i)
        store.repair()
        for key in list(stores[0].list()):
            stores[0].delete(key.key)  # region restored from an empty backup
        assert [store.get(f"k{i}") for i in range(5)] == [b"v%d" % i for i in range(5)]
        store.repair()
        assert stores[0].get("k3") == b"v3"
    finally:
        store.close()


def test_permission_denied_on_one_target_fails_over_and_is_counted() -> None:
    rig = make_rig()
    rig.chaos[0].configure(error_rate=1.0, errors=(PermissionDenied,))
    assert rig.storage.get("seed") == b"seed-data"
    status = rig.storage.status()[NAMES[0]]
    assert status.errors == 1 and status.last_error is not None and "permission_denied" in status.last_error


def replicated_on_clock(
    tmp_path: Path, **mode: Any
) -> tuple[FailoverStorage, list[MemoryObjectStore], FakeClock]:
    clock = FakeClock()
    stores = [MemoryObjectStore(clock=clock) for _ in range(3)]
    targets = [Target(NAMES[i], stores[i], priority=i) for i in range(3)]
    writes = replication.All(journal=str(tmp_path / "journal.sqlite"), **mode)
    return FailoverStorage(targets, writes=writes, clock=clock), stores, clock


def wipe(store: MemoryObjectStore) -> None:
    for info in list(store.list()):
        store.delete(info.key)


def test_a_target_restored_empty_is_reconciled_before_it_serves_reads(tmp_path: Path) -> None:
    store, stores, clock = replicated_on_clock(tmp_path, restore_check=30.0)
    try:
        for i in range(4):
            store.put(f"k{i}", b"v%d" % i)
        store.repair()  # first sight: every target gets its marker
        assert all(s.head(MARKER_KEY) for s in stores)
        wipe(stores[0])  # the region comes back from an empty backup
        clock.advance(31.0)
        store.repair()
        assert sorted(i.key for i in stores[0].list()) == sorted([MARKER_KEY, "k0", "k1", "k2", "k3"])
        assert store.replication is not None and store.replication.guard is not None
        assert store.replication.guard.suspects == frozenset()
    finally:
        store.close()


def test_marker_objects_are_neither_listed_nor_reconciled(tmp_path: Path) -> None:
    store, _, _ = replicated_on_clock(tmp_path)
    try:
        store.put("k", b"v")
        store.repair()
        assert [i.key for i in store.list()] == ["k"]
        assert store.reconcile().ok  # three different markers are not divergence
    finally:
        store.close()


def test_anti_entropy_repairs_a_replica_changed_behind_the_librarys_back(tmp_path: Path) -> None:
    store, stores, clock = replicated_on_clock(tmp_path, anti_entropy=10.0)
    try:
        store.put("k", b"v")
        stores[1].delete("k")  # lost by the cloud, unseen by journal or reads
        clock.advance(11.0)
        store.repair()  # anti-entropy journals the repair; the same pass makes it
        assert stores[1].get("k") == b"v"
        assert store.pending() == {}
    finally:
        store.close()


@pytest.mark.parametrize("name", ["restore_check", "anti_entropy"])
@pytest.mark.parametrize("value", [0, -1.0, True, "60"])
def test_background_check_intervals_must_be_positive_seconds(tmp_path: Path, name: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=name):
        replicated_on_clock(tmp_path, **{name: value})


def test_a_marker_check_that_fails_never_stops_the_repair_pass(tmp_path: Path) -> None:
    store, stores, _ = replicated_on_clock(tmp_path)

    def broken_head(key: str) -> Any:
        raise KeyError(key)  # an unmapped error, a bug in one adapter

    try:
        store.put("k", b"v")
        stores[2].delete("k")
        assert store.replication is not None
        store.replication.journal.record("k", "", "put", [NAMES[2]])  # owed, as after a failed write
        stores[1].head = broken_head  # type: ignore[method-assign]
        store.repair()
        assert stores[2].get("k") == b"v"
    finally:
        store.close()
