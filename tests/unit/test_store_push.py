"""Saving breaker states off the caller's thread, and adopting announced changes at once."""

from __future__ import annotations

import threading

from failover import BreakerConfig, BreakerState, FakeClock
from failover.breaker.circuit import CircuitBreaker
from failover.breaker.store import MemoryBreakerStore
from failover.breaker.sync import StoreSync
from failover.fleet.background import LatestWriter


def test_a_put_returns_while_the_write_is_still_blocked() -> None:
    gate, written = threading.Event(), []

    def write(name: str, value: int) -> None:
        gate.wait(5.0)
        written.append((name, value))

    writer: LatestWriter[int] = LatestWriter(write)
    writer.put("a", 1)  # returns though the write waits for the gate
    assert not writer.flush(timeout=0.05)
    gate.set()
    assert writer.flush(timeout=5.0) and written == [("a", 1)]
    writer.close()


def test_values_queued_for_one_name_coalesce_to_the_newest() -> None:
    gate, entered, written = threading.Event(), threading.Event(), []

    def write(name: str, value: int) -> None:
        if not written:
            entered.set()
            gate.wait(5.0)  # hold the first write so the rest queue up behind it
        written.append((name, value))

    writer: LatestWriter[int] = LatestWriter(write)
    writer.put("a", 1)
    assert entered.wait(5.0)
    for value in (2, 3, 4):
        writer.put("a", value)
    writer.put("b", 9)
    gate.set()
    assert writer.flush(timeout=5.0)
    assert written[0] == ("a", 1) and written[1:] == [("a", 4), ("b", 9)]
    writer.close()


def test_a_failing_write_does_not_stop_the_writer() -> None:
    written: list[str] = []

    def write(name: str, value: int) -> None:
        if name == "bad":
            raise RuntimeError("bug in a store")
        written.append(name)

    writer: LatestWriter[int] = LatestWriter(write)
    writer.put("bad", 1)
    writer.put("good", 2)
    assert writer.flush(timeout=5.0) and written == ["good"]
    writer.close()
    writer.put("late", 3)  # after close: dropped, never raises
    assert written == ["good"]


def test_a_started_writer_is_prepared_before_its_first_value_and_prepared_once() -> None:
    prepared, order = threading.Event(), []

    def prepare() -> None:
        order.append("prepare")
        prepared.set()

    writer: LatestWriter[int] = LatestWriter(lambda name, value: order.append(name), prepare=prepare)
    writer.start()
    assert prepared.wait(5.0), "start() prepares on the writer thread, before any value"
    writer.start()  # a second start changes nothing
    writer.put("a", 1)
    assert writer.flush(timeout=5.0) and order == ["prepare", "a"]
    writer.close()


def test_a_writer_whose_preparation_fails_still_writes() -> None:
    written: list[str] = []

    def prepare() -> None:
        raise ConnectionError("store unreachable at start")

    writer: LatestWriter[int] = LatestWriter(lambda name, value: written.append(name), prepare=prepare)
    writer.put("a", 1)
    assert writer.flush(timeout=5.0) and written == ["a"]
    writer.close()


def test_an_announced_change_syncs_that_breaker_and_none_syncs_all() -> None:
    clock = FakeClock()
    store = MemoryBreakerStore(clock)
    config = BreakerConfig(consecutive_failures=1, failure_rate=None, jitter=0.0)
    ours = [CircuitBreaker(name, config, clock=clock, store=store) for name in ("a", "b")]
    theirs = [CircuitBreaker(name, config, clock=clock, store=store) for name in ("a", "b")]
    sync = StoreSync(ours, 60.0, store)
    for breaker in theirs:
        breaker.force_open("elsewhere")
    sync.changed("a")
    assert [b.state for b in ours] == [BreakerState.FORCED_OPEN, BreakerState.CLOSED]
    sync.changed(None)
    assert [b.state for b in ours] == [BreakerState.FORCED_OPEN, BreakerState.FORCED_OPEN]
    sync.changed("unknown")  # another facade's breaker: nothing here to sync
