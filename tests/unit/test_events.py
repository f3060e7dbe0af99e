"""Events: each carries its time and target, says what happened, and is logged once."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from failover import BreakerConfig, ExecutionConfig, FailoverStorage, FakeClock, Target
from failover.errors import RetryBudgetExhausted
from failover.events import (
    BreakerTransition,
    Event,
    FailedOver,
    Hedged,
    HedgeWon,
    LoggingListener,
    Retried,
    RetryRefused,
)
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from tests.unit.test_hedging import Gate


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


def two_targets(recorder: Recorder, **execution: object) -> tuple[ChaosProvider, FailoverStorage]:
    clock = FakeClock()
    primary = ChaosProvider(MemoryObjectStore(clock=clock), clock=clock)
    backup = MemoryObjectStore(clock=clock)
    for store in (primary, backup):
        store.put("k", b"v")
    storage = FailoverStorage(
        [Target("memory:a", primary), Target("memory:b", backup, priority=1)],
        clock=clock,
        breaker=BreakerConfig(consecutive_failures=3),
        execution=ExecutionConfig(**execution),  # type: ignore[arg-type]
        listeners=[recorder],
    )
    return primary, storage


def test_every_event_names_its_target_and_the_time_it_happened() -> None:
    recorder = Recorder()
    primary, storage = two_targets(recorder)
    before = time.time()
    primary.down()
    for _ in range(3):
        storage.get("k")
    assert recorder.events, "a failing primary must say something"
    for event in recorder.events:
        assert event.target in ("memory:a", "memory:b"), event
        assert before <= event.at <= time.time(), event


def test_two_events_saying_the_same_thing_are_equal_whatever_their_time() -> None:
    first = BreakerTransition("memory:a", "closed", "open", "3 consecutive failures", at=1.0)
    second = BreakerTransition("memory:a", "closed", "open", "3 consecutive failures", at=2.0)
    assert first == second


def test_a_failed_attempt_moved_to_the_next_target_is_a_retry_event() -> None:
    recorder = Recorder()
    primary, storage = two_targets(recorder)
    primary.down()
    assert storage.get("k") == b"v"
    [retried] = recorder.of(Retried)
    assert (retried.target, retried.after, retried.operation) == ("memory:b", "memory:a", "get")
    assert retried.kind == "unavailable"


def test_a_retry_the_budget_refuses_is_an_event() -> None:
    recorder = Recorder()
    primary, storage = two_targets(recorder, retry_ratio=0.0, retry_burst=1.0, retry_floor_per_second=0.0)
    primary.down()
    storage.get("k")  # spends the one token of the burst
    with pytest.raises(RetryBudgetExhausted):
        storage.get("k")
    [refused] = recorder.of(RetryRefused)
    assert (refused.target, refused.operation) == ("memory:a", "get")


def test_a_healthy_call_emits_nothing() -> None:
    recorder = Recorder()
    _, storage = two_targets(recorder)
    for _ in range(5):
        storage.get("k")
    assert recorder.events == []


def test_a_hedge_and_the_hedge_winning_are_events() -> None:
    slow, fast = Gate(), MemoryObjectStore()
    for store in (slow, fast):
        store.put("k", b"v")
    recorder = Recorder()
    storage = FailoverStorage(
        [Target("memory:slow", slow), Target("memory:fast", fast, priority=1)],
        execution=ExecutionConfig(hedge_after=0.01, attempt_timeout=3.0),
        listeners=[recorder],
    )
    try:
        assert storage.get("k") == b"v"
    finally:
        slow.gate.set()
        storage.close()
    [hedged] = recorder.of(Hedged)
    assert (hedged.target, hedged.after, hedged.operation) == ("memory:fast", "memory:slow", "get")
    assert hedged.waited >= 0.01
    [won] = recorder.of(HedgeWon)
    assert won.target == "memory:fast"
    assert recorder.of(Retried) == [], "a hedge is not a retry"


def test_logging_listener_logs_each_event_once_with_structured_fields(caplog: pytest.LogCaptureFixture) -> None:
    listener = LoggingListener(logging.getLogger("test_events"))
    event = FailedOver("memory:a", "memory:b", "unavailable: https://user:hunter2@example.test/x")
    with caplog.at_level(logging.DEBUG, logger="test_events"):
        listener.on_event(event)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("traffic failed over from memory:a to memory:b")
    assert record.failover_event == "FailedOver"  # type: ignore[attr-defined]
    assert record.failover_target == "memory:b"  # type: ignore[attr-defined]
    fields = record.failover_fields  # type: ignore[attr-defined]
    assert fields["from_target"] == "memory:a" and fields["at"] == event.at
    assert "hunter2" not in record.getMessage() and "hunter2" not in str(fields)


def test_per_call_events_are_logged_at_debug_and_state_changes_above(caplog: pytest.LogCaptureFixture) -> None:
    listener = LoggingListener(logging.getLogger("test_events"))
    with caplog.at_level(logging.DEBUG, logger="test_events"):
        for event in (
            Hedged("memory:b", "get", "memory:a", 0.02),
            Retried("memory:b", "get", "memory:a", "timeout"),
            RetryRefused("memory:a", "get"),
            BreakerTransition("memory:a", "closed", "open", "3 consecutive failures"),
        ):
            listener.on_event(event)
    levels = [r.levelno for r in caplog.records]
    assert levels == [logging.DEBUG, logging.DEBUG, logging.DEBUG, logging.WARNING]


def test_a_listener_may_write_through_the_facade_while_a_replicated_write_trips_a_breaker(tmp_path: Path) -> None:
    from failover import replication

    clock = FakeClock()
    down = ChaosProvider(MemoryObjectStore(clock=clock), clock=clock)
    stores = [MemoryObjectStore(clock=clock), down]
    heard: list[str] = []

    class Auditor:
        def on_event(self, event: Event) -> None:
            if isinstance(event, BreakerTransition) and event.new == "open":
                storage.put("audit", str(event).encode())  # the same key the write holds
                heard.append(event.target)

    storage = FailoverStorage(
        [Target("memory:a", stores[0]), Target("memory:b", down, priority=1)],
        clock=clock,
        breaker=BreakerConfig(consecutive_failures=1, failure_rate=None),
        writes=replication.All(journal=tmp_path / "j.sqlite"),
        listeners=[Auditor()],
    )
    down.down()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (storage.put("audit", b"first"), done.set()), daemon=True)
    worker.start()
    assert done.wait(5.0), "the listener's write waited for the key the write still held"
    assert heard == ["memory:b"] and stores[0].get("audit").startswith(b"breaker memory:b")


def test_events_held_back_are_delivered_when_the_block_ends_and_late_ones_at_once() -> None:
    import contextvars

    from failover.events import Emitter, held_back

    recorder = Recorder()
    emitter = Emitter([recorder])
    with held_back():
        emitter.emit(RetryRefused("memory:a", "get"))
        assert recorder.events == []
        context = contextvars.copy_context()  # what a worker thread of this call carries
    assert len(recorder.events) == 1
    context.run(emitter.emit, RetryRefused("memory:b", "get"))  # after the block: not held
    assert [e.target for e in recorder.events] == ["memory:a", "memory:b"]


def test_a_hedge_the_budget_refuses_is_told_as_a_refused_hedge_not_a_refused_retry() -> None:
    slow, fast = Gate(), MemoryObjectStore()
    for store in (slow, fast):
        store.put("k", b"v")
    refused: list[RetryRefused] = []

    class OpenGateWhenRefused:
        def on_event(self, event: Event) -> None:
            if isinstance(event, RetryRefused):
                refused.append(event)
                slow.gate.set()  # the call waits for the slow primary now: let it answer

    storage = FailoverStorage(
        [Target("memory:slow", slow), Target("memory:fast", fast, priority=1)],
        execution=ExecutionConfig(
            hedge_after=0.01, attempt_timeout=3.0, retry_ratio=0.0, retry_burst=1.0, retry_floor_per_second=0.0
        ),
        listeners=[OpenGateWhenRefused()],
    )
    try:
        assert storage.get("k") == b"v"  # the one token of the burst pays for this hedge
        assert storage.get("k") == b"v"  # no token left: no hedge, the slow primary answers
    finally:
        slow.gate.set()
        storage.close()
    [event] = refused
    assert event.hedge and event.target == "memory:slow"
    assert "no hedge beside memory:slow" in str(event)
