"""What events and breaker errors say matches what happened."""

from __future__ import annotations

import logging

import pytest

from failover import BreakerConfig, FailoverStorage, FakeClock, Target
from failover.breaker.circuit import CircuitBreaker
from failover.errors import CircuitOpen
from failover.events import Event, FailedOver, LoggingListener, PanicMode
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


def test_a_forced_open_breaker_is_not_blamed_on_an_old_failure() -> None:
    clock = FakeClock()
    chaos = ChaosProvider(MemoryObjectStore(clock=clock), clock=clock)
    backup = MemoryObjectStore(clock=clock)
    for store in (chaos, backup):
        store.put("k", b"v")
    recorder = Recorder()
    store = FailoverStorage(
        [Target("memory:a", chaos), Target("memory:b", backup, priority=1)],
        clock=clock,
        breaker=BreakerConfig(consecutive_failures=5),
        listeners=[recorder],
    )
    chaos.down()
    store.get("k")  # one failure, far from opening the breaker
    chaos.heal()
    store.get("k")
    store.pool.member("memory:a").breaker.force_open("draining for maintenance")
    store.get("k")
    [failover] = [e for e in recorder.events if isinstance(e, FailedOver)]
    assert failover.reason == "breaker forced_open", failover.reason


def test_a_forced_open_rejection_names_the_operators_reason() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("memory:a", clock=clock)
    breaker.on_failure(breaker.try_acquire() or pytest.fail("closed"), 0.1, "unavailable")
    breaker.force_open("draining for maintenance")
    clock.advance(2.0)
    message = str(breaker.rejection("get"))
    assert "draining for maintenance" in message and "until reset" in message
    assert "unavailable" not in message and "retry in" not in message
    assert isinstance(breaker.rejection(), CircuitOpen)


def test_leaving_panic_mode_is_logged_as_leaving(caplog: pytest.LogCaptureFixture) -> None:
    listener = LoggingListener(logging.getLogger("test_event_texts"))
    with caplog.at_level(logging.INFO, logger="test_event_texts"):
        listener.on_event(PanicMode(entered=True))
        listener.on_event(PanicMode(entered=False))
    entered, left = caplog.records
    assert entered.levelno == logging.ERROR and "every target looks down" in entered.getMessage()
    assert left.levelno == logging.INFO and "left" in left.getMessage()
    assert "looks down" not in left.getMessage() and "trying all" not in left.getMessage()
