"""Maintenance controls on the facade: force a target open or closed, drain it, release it."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover import BreakerState, FailoverStorage, FakeClock, Target
from failover.breaker.store import MemoryBreakerStore
from failover.errors import ConfigError, FailoverError
from failover.events import Event, FailedOver
from failover.providers.memory import MemoryObjectStore
from tests.unit.replicas import NAMES, make_replicas


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


def three(**options: object) -> tuple[list[MemoryObjectStore], FailoverStorage]:
    clock = FakeClock()
    stores = [MemoryObjectStore(clock=clock) for _ in NAMES]
    for store in stores:
        store.put("k", b"v")
    targets = [Target(name, store, priority=i) for i, (name, store) in enumerate(zip(NAMES, stores, strict=True))]
    return stores, FailoverStorage(targets, clock=clock, **options)  # type: ignore[arg-type]


def served_by(storage: FailoverStorage) -> str:
    before = {row.name: row.calls for row in storage.status().targets}
    storage.get("k")
    return next(row.name for row in storage.status().targets if row.calls > before[row.name])


def test_force_open_takes_a_target_out_until_released() -> None:
    _, storage = three()
    storage.force_open(NAMES[0], "kernel upgrade")
    assert served_by(storage) == NAMES[1]
    assert storage.pool.member(NAMES[0]).breaker.state is BreakerState.FORCED_OPEN
    storage.release(NAMES[0])
    assert storage.pool.member(NAMES[0]).breaker.state is BreakerState.CLOSED
    assert served_by(storage) == NAMES[0]


def test_force_closed_keeps_a_failing_target_in_rotation() -> None:
    _, storage = three()
    storage.force_closed(NAMES[0], "alarms are wrong")
    assert storage.pool.member(NAMES[0]).breaker.state is BreakerState.FORCED_CLOSED
    storage.release(NAMES[0], "alarms fixed")
    assert storage.pool.member(NAMES[0]).breaker.state is BreakerState.CLOSED


def test_a_drained_target_gets_no_routed_calls_and_the_failover_says_why() -> None:
    recorder = Recorder()
    _, storage = three(listeners=[recorder])
    served_by(storage)
    storage.drain(NAMES[0], "moving racks")
    assert {served_by(storage) for _ in range(5)} == {NAMES[1]}
    [moved] = [e for e in recorder.events if isinstance(e, FailedOver)]
    assert (moved.from_target, moved.target, moved.reason) == (NAMES[0], NAMES[1], "drained: moving racks")
    storage.release(NAMES[0])
    assert served_by(storage) == NAMES[0]


def test_a_drained_target_is_the_last_resort_not_dead() -> None:
    _, storage = three()
    for name in NAMES[1:]:
        storage.force_open(name, "region down")
    storage.drain(NAMES[0], "moving racks")
    assert served_by(storage) == NAMES[0]
    assert not storage.status().panic


def test_a_drained_target_still_takes_replicated_writes(tmp_path: Path) -> None:
    replicas = make_replicas(tmp_path, "all")
    storage = replicas.storage
    storage.drain(NAMES[0], "moving racks")
    storage.put("fresh", b"1")
    assert replicas.stores[0].get("fresh") == b"1"
    assert storage.pending() == {}, "nothing owed: it owes nothing when released"


def test_a_forced_open_target_owes_the_writes_it_missed_until_released(tmp_path: Path) -> None:
    replicas = make_replicas(tmp_path, "all")
    storage = replicas.storage
    storage.force_open(NAMES[0], "maintenance")
    storage.put("fresh", b"1")
    assert storage.pending() == {NAMES[0]: 1}
    storage.release(NAMES[0])
    storage.repair()
    assert storage.pending() == {} and replicas.stores[0].get("fresh") == b"1"


def test_release_leaves_a_breaker_that_opened_by_itself_alone() -> None:
    _, storage = three()
    breaker = storage.pool.member(NAMES[0]).breaker
    permit = breaker.try_acquire()
    assert permit is not None
    for _ in range(5):
        breaker.on_failure(breaker.try_acquire() or permit, 0.1, "unavailable")
    assert breaker.state is BreakerState.OPEN
    storage.release(NAMES[0])
    assert breaker.state is BreakerState.OPEN


def test_maintenance_on_a_split_breaker_acts_on_reads_and_writes() -> None:
    _, storage = three(breaker_per="operation_class")
    storage.force_open(NAMES[0], "maintenance")
    states = {storage.pool.member(NAMES[0], c).breaker.state for c in ("read", "write")}
    assert states == {BreakerState.FORCED_OPEN}


@pytest.mark.parametrize("reason", ["", "   ", None, 3])
def test_maintenance_needs_a_reason(reason: object) -> None:
    _, storage = three()
    with pytest.raises(ConfigError, match="reason must say why"):
        storage.force_open(NAMES[0], reason)  # type: ignore[arg-type]


def test_maintenance_of_an_unknown_target_names_the_known_ones() -> None:
    _, storage = three()
    with pytest.raises(ConfigError, match=r"unknown target 'memory:z'; known: memory:a, memory:b, memory:c"):
        storage.drain("memory:z", "typo")


def test_a_facade_with_a_shared_store_adopts_other_processes_transitions() -> None:
    clock = FakeClock()
    store = MemoryBreakerStore(clock, sync_interval=0.5)
    stores = [MemoryObjectStore(clock=clock) for _ in NAMES[:2]]
    targets = [Target(NAMES[0], stores[0]), Target(NAMES[1], stores[1], priority=1)]
    ours = FailoverStorage(targets, clock=clock, breaker_store=store)
    theirs = FailoverStorage(targets, clock=clock, breaker_store=store)
    assert ours.pool.store_sync is not None and ours.pool.store_sync.interval == 0.5
    theirs.force_open(NAMES[0], "maintenance, from another process")
    ours.pool.store_sync.run_once()
    assert ours.pool.member(NAMES[0]).breaker.state is BreakerState.FORCED_OPEN


def test_the_shared_store_sync_runs_while_the_facade_is_started() -> None:
    _, storage = three(breaker_store=MemoryBreakerStore())
    sync = storage.pool.store_sync
    assert sync is not None and not sync.running
    with storage:
        assert sync.running
    assert not sync.running


def test_no_store_no_sync_thread() -> None:
    _, storage = three()
    assert storage.pool.store_sync is None


def test_an_unknown_target_is_named_with_split_breakers_too() -> None:
    _, storage = three(breaker_per="operation_class")
    with pytest.raises(ConfigError, match="unknown target 'memory:z'"):
        storage.release("memory:z")


def test_a_forced_open_target_is_not_tried_even_in_panic() -> None:
    from failover.providers.chaos import ChaosProvider

    class Spy(MemoryObjectStore):
        called = 0

        def get(self, key: str) -> bytes:
            Spy.called += 1
            return super().get(key)

    down = ChaosProvider(MemoryObjectStore())
    down.put("k", b"v")
    down.down()
    spy = Spy()
    spy.put("k", b"v")
    storage = FailoverStorage([Target(NAMES[0], down), Target(NAMES[1], spy, priority=1)])
    storage.force_open(NAMES[1], "kernel upgrade")
    for _ in range(10):  # the primary's breaker opens: every other target is forced open, panic
        with pytest.raises(FailoverError):
            storage.get("k")
    assert Spy.called == 0, "an operator took it out: no call may reach it"


def test_a_call_pinned_to_a_forced_open_target_is_refused_by_its_breaker() -> None:
    from failover import FailoverCompute
    from failover.errors import CircuitOpen
    from failover.providers.memory import MemoryCompute

    compute = FailoverCompute([Target(NAMES[0], MemoryCompute()), Target(NAMES[1], MemoryCompute(), priority=1)])
    compute.force_open(NAMES[1], "kernel upgrade")
    with pytest.raises(CircuitOpen, match=r"forced_open.*kernel upgrade"):
        list(compute.list_instances(target=NAMES[1]))


def test_status_shows_a_drained_target_and_the_operators_reasons() -> None:
    _, storage = three()
    storage.drain(NAMES[0], "moving racks")
    storage.force_open(NAMES[1], "kernel upgrade")
    rows = {row.name: row for row in storage.status().targets}
    assert (rows[NAMES[0]].role, rows[NAMES[0]].drained) == ("drained", "moving racks")
    assert (rows[NAMES[1]].role, rows[NAMES[1]].forced) == ("down", "kernel upgrade")
    assert rows[NAMES[2]].role == "preferred"
    storage.release(NAMES[0])
    storage.release(NAMES[1])
    rows = {row.name: row for row in storage.status().targets}
    assert rows[NAMES[0]].role == "preferred" and rows[NAMES[0]].drained is None and rows[NAMES[1]].forced is None
