"""Failure streaks counted across a fleet: breakers sharing a store open together once their
failures in a row add up to the threshold, and a healthy target never costs the store a call."""

from __future__ import annotations

import math

import pytest

from failover.breaker.circuit import PASS, BreakerConfig, BreakerState, CircuitBreaker
from failover.breaker.store import MemoryBreakerStore
from failover.clock import FakeClock
from failover.errors import ConfigError

CONFIG = BreakerConfig(consecutive_failures=3, failure_rate=None, open_base=10.0, jitter=0.0)


def fleet(count: int, clock: FakeClock, store: MemoryBreakerStore) -> list[CircuitBreaker]:
    return [CircuitBreaker("aws:us-east-1", CONFIG, clock=clock, store=store) for _ in range(count)]


def fail(breaker: CircuitBreaker) -> None:
    permit = breaker.try_acquire()
    assert permit is not None
    breaker.on_failure(permit, 0.001, "unavailable")


def test_breakers_open_together_when_their_failures_add_up_to_the_threshold() -> None:
    clock = FakeClock()
    store = MemoryBreakerStore(clock)
    breakers = fleet(3, clock, store)
    for breaker in breakers:
        fail(breaker)  # one failure each: no breaker reaches 3 alone
    for breaker in breakers:
        breaker.sync()
    assert [b.state for b in breakers] == [BreakerState.OPEN] * 3
    assert "3 consecutive failures across the fleet" in breakers[0].reason
    assert 9.9 < breakers[0].retry_in() <= 10.0


def test_a_success_anywhere_ends_the_fleets_streak() -> None:
    clock = FakeClock()
    store = MemoryBreakerStore(clock)
    first, second, third = fleet(3, clock, store)
    fail(first)
    fail(second)
    second.on_success(PASS, 0.001)  # the target answered: the streak is over
    fail(third)
    fail(first)
    for breaker in (first, second, third):
        breaker.sync()
    assert {b.state for b in (first, second, third)} == {BreakerState.CLOSED}


def test_a_forced_breaker_is_not_opened_by_the_fleets_streak() -> None:
    clock = FakeClock()
    store = MemoryBreakerStore(clock)
    operator, *others = fleet(4, clock, store)
    operator.force_closed("known flaky, keep sending")
    for breaker in others:
        fail(breaker)
    operator.sync()
    assert operator.state is BreakerState.FORCED_CLOSED


class CountingStore(MemoryBreakerStore):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.told: list[str] = []

    def failed(self, name: str, threshold: int, opens: int, open_for: float, reason: str) -> None:
        self.told.append("failed")
        super().failed(name, threshold, opens, open_for, reason)

    def recovered(self, name: str) -> None:
        self.told.append("recovered")
        super().recovered(name)


def test_successes_after_successes_never_call_the_store() -> None:
    clock = FakeClock()
    store = CountingStore(clock)
    (breaker,) = fleet(1, clock, store)
    for _ in range(100):
        breaker.on_success(PASS, 0.001)
    assert store.told == []
    fail(breaker)
    breaker.on_success(PASS, 0.001)
    breaker.on_success(PASS, 0.001)
    assert store.told == ["failed", "recovered"]


def test_facades_sharing_a_store_open_the_primary_together_and_a_success_ends_the_streak() -> None:
    from failover import FailoverStorage, Target
    from failover.providers.chaos import ChaosProvider
    from failover.providers.memory import MemoryObjectStore

    clock = FakeClock()
    store = CountingStore(clock)
    primary = ChaosProvider(MemoryObjectStore())
    backup = MemoryObjectStore()
    for provider in (primary, backup):
        provider.put("k", b"v")

    def facade() -> FailoverStorage:
        targets = [Target("aws:us-east-1", primary), Target("gcp:eu", backup, priority=1)]
        return FailoverStorage(targets, breaker=CONFIG, breaker_store=store, clock=clock)

    facades = [facade() for _ in range(3)]
    primary.down()
    assert facades[0].get("k") == b"v"  # the backup answers; one failure in the fleet's streak
    primary.heal()
    assert facades[0].get("k") == b"v"  # the executor's success path ends the streak
    assert store.told == ["failed", "recovered"]
    primary.down()
    for each in facades:
        assert each.get("k") == b"v"
    breakers = [each.pool.member("aws:us-east-1").breaker for each in facades]
    for breaker in breakers:
        breaker.sync()
    assert [b.state for b in breakers] == [BreakerState.OPEN] * 3


def test_a_breakers_own_opening_and_recovery_end_the_fleets_streak() -> None:
    clock = FakeClock()
    store = MemoryBreakerStore(clock)
    alone, other = fleet(2, clock, store)
    for _ in range(CONFIG.consecutive_failures):
        fail(alone)  # opens on its own: the two failures it reported first must not linger
    assert alone.state is BreakerState.OPEN
    clock.advance(alone.retry_in())
    permit = alone.try_acquire()
    assert permit is not None
    alone.on_success(permit, 0.001)
    assert alone.state is BreakerState.CLOSED
    fail(other)
    other.sync()
    assert other.state is BreakerState.CLOSED


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = FakeClock()
    store = MemoryBreakerStore(clock, failure_window=10.0)
    first, second, third = fleet(3, clock, store)
    fail(first)
    fail(second)
    clock.advance(10.5)  # the streak went quiet for longer than the window
    fail(third)
    third.sync()
    assert third.state is BreakerState.CLOSED


@pytest.mark.parametrize("window", [0, -1.0, math.inf, math.nan, True, "10"])
def test_a_failure_window_must_be_a_finite_positive_number(window: object) -> None:
    with pytest.raises(ConfigError, match="failure_window"):
        MemoryBreakerStore(failure_window=window)  # type: ignore[arg-type]
