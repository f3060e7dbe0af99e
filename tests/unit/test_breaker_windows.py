"""The breaker's opening rules and the count and time windows behind them (FakeClock, no sleeps)."""

from __future__ import annotations

from typing import Any

import pytest

from failover.breaker.circuit import BreakerConfig, BreakerState, CircuitBreaker
from failover.clock import FakeClock
from failover.errors import ConfigError
from failover.events import BreakerTransition, Event
from failover.windows import CountWindow, TimeWindow

# Each test switches on the one rule it is about.
NO_RULES = {"consecutive_failures": 0, "failure_rate": None, "jitter": 0.0}


class Reasons:
    def __init__(self) -> None:
        self.opened: list[str] = []

    def on_event(self, event: Event) -> None:
        if isinstance(event, BreakerTransition) and event.new == "open":
            self.opened.append(event.reason)


def make(clock: FakeClock, **config: Any) -> tuple[CircuitBreaker, Reasons]:
    reasons = Reasons()
    breaker = CircuitBreaker("t", BreakerConfig(**{**NO_RULES, **config}), clock=clock, listeners=[reasons])
    return breaker, reasons


def calls(breaker: CircuitBreaker, outcomes: str, duration: float = 0.01) -> None:
    """Run one call per letter: ``s`` succeeded, ``f`` failed, ``S`` succeeded slowly (2 s)."""
    for outcome in outcomes:
        permit = breaker.try_acquire()
        assert permit is not None, f"rejected at {outcome!r} of {outcomes!r}"
        if outcome == "f":
            breaker.on_failure(permit, duration, "Unavailable")
        else:
            breaker.on_success(permit, 2.0 if outcome == "S" else duration)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# ------------------------------------------------------------ consecutive failures


def test_opens_at_the_nth_consecutive_failure_and_not_before(clock: FakeClock) -> None:
    breaker, reasons = make(clock, consecutive_failures=3)
    calls(breaker, "ffsffsff")  # a success in between starts the count over
    assert breaker.state is BreakerState.CLOSED
    calls(breaker, "f")
    assert breaker.state is BreakerState.OPEN
    assert reasons.opened == ["3 consecutive failures"]


def test_zero_consecutive_failures_switches_the_rule_off(clock: FakeClock) -> None:
    breaker, _ = make(clock, consecutive_failures=0)
    calls(breaker, "f" * 500)
    assert breaker.state is BreakerState.CLOSED


# ------------------------------------------------------------ failure rate


def test_failure_rate_counts_only_after_minimum_calls(clock: FakeClock) -> None:
    breaker, reasons = make(clock, failure_rate=0.5, minimum_calls=10)
    calls(breaker, "ssssfffff")  # 5/9 is over the rate, but only 9 calls
    assert breaker.state is BreakerState.CLOSED
    calls(breaker, "f")
    assert breaker.state is BreakerState.OPEN
    assert reasons.opened == ["failure rate 6/10"]


def test_failure_rate_below_the_threshold_stays_closed(clock: FakeClock) -> None:
    breaker, _ = make(clock, failure_rate=0.6, minimum_calls=10)
    calls(breaker, "sf" * 200)
    assert breaker.state is BreakerState.CLOSED


def test_a_rate_exactly_at_the_threshold_opens(clock: FakeClock) -> None:
    # Regression: 0.14 * 100 is 14.000000000000002 in floating point, so 14 failures
    # out of 100 did not reach a 14% threshold.
    breaker, reasons = make(clock, failure_rate=0.14, minimum_calls=100)
    calls(breaker, "s" * 86 + "f" * 14)
    assert reasons.opened == ["failure rate 14/100"]


def test_minimum_calls_above_a_count_window_is_clamped_to_its_size(clock: FakeClock) -> None:
    # Regression: a 10-call window never holds the default 20 calls, so the rate rule
    # was silently off.
    breaker, reasons = make(clock, failure_rate=0.5, window_size=10)
    assert breaker.config.minimum_calls == 20
    calls(breaker, "sssssffff")
    assert breaker.state is BreakerState.CLOSED
    calls(breaker, "f")
    assert reasons.opened == ["failure rate 5/10"]


# ------------------------------------------------------------ slow calls


def test_slow_call_rate_opens_on_slow_successes(clock: FakeClock) -> None:
    breaker, reasons = make(clock, slow_call_duration=1.0, slow_call_rate=0.5, minimum_calls=4)
    calls(breaker, "ssS")
    assert breaker.state is BreakerState.CLOSED
    calls(breaker, "S")
    assert reasons.opened == ["slow call rate 2/4"]
    assert breaker.last_failure is None


def test_slow_failures_count_as_slow_too(clock: FakeClock) -> None:
    breaker, reasons = make(clock, slow_call_duration=1.0, slow_call_rate=1.0, minimum_calls=3)
    calls(breaker, "fff", duration=5.0)
    assert reasons.opened == ["slow call rate 3/3"]


def test_calls_just_under_the_slow_threshold_are_not_slow(clock: FakeClock) -> None:
    breaker, _ = make(clock, slow_call_duration=1.0, slow_call_rate=0.1, minimum_calls=1)
    calls(breaker, "s" * 50, duration=0.999)
    assert breaker.state is BreakerState.CLOSED


# ------------------------------------------------------------ count window


def test_count_window_forgets_calls_older_than_its_size(clock: FakeClock) -> None:
    breaker, reasons = make(clock, failure_rate=0.5, minimum_calls=10, window_size=10)
    calls(breaker, "ffff" + "s" * 10)  # the four failures slide out
    calls(breaker, "ffff")  # 8/10 if they were remembered
    assert breaker.state is BreakerState.CLOSED
    calls(breaker, "f")
    assert reasons.opened == ["failure rate 5/10"]


def test_count_window_totals() -> None:
    window = CountWindow(3)
    assert window.record(True, False, 0.0) == (1, 1, 0)
    window.record_success()
    window.record_success()
    assert window.record(False, True, 0.0) == (3, 0, 1)  # the failure is 3 calls back
    window.clear()
    assert window.record(True, True, 0.0) == (1, 1, 1)


@pytest.mark.parametrize("size", [0, -1, 1.5, True, "10"])
def test_count_window_size_must_be_a_positive_int(size: object) -> None:
    with pytest.raises(ConfigError, match="count window"):
        CountWindow(size)  # type: ignore[arg-type]


# ------------------------------------------------------------ time window


def test_time_window_forgets_buckets_older_than_the_window(clock: FakeClock) -> None:
    breaker, reasons = make(clock, failure_rate=0.5, minimum_calls=4, window="time", window_size=10)
    calls(breaker, "fff")
    clock.advance(10)
    calls(breaker, "fff")  # 6 calls if the first three were remembered
    assert breaker.state is BreakerState.CLOSED
    calls(breaker, "f")
    assert reasons.opened == ["failure rate 4/4"]


def test_time_window_buckets_are_whole_seconds(clock: FakeClock) -> None:
    window = TimeWindow(10, clock)
    clock.advance(0.2)  # 1000.2
    assert window.record(True, False, clock.monotonic()) == (1, 1, 0)
    clock.advance(9.5)  # 1009.7: still inside
    window.record_success()
    assert window.record(True, False, clock.monotonic()) == (3, 2, 0)
    clock.advance(0.5)  # 1010.2: second 1000 has left the window
    assert window.record(False, True, clock.monotonic()) == (3, 1, 1)
    clock.advance(30)  # every bucket is stale, including the reused slots
    assert window.record(False, False, clock.monotonic()) == (1, 0, 0)
    window.clear()
    assert window.record(True, False, clock.monotonic()) == (1, 1, 0)


@pytest.mark.parametrize("seconds", [0, 2.5, False])
def test_time_window_must_be_whole_seconds(clock: FakeClock, seconds: object) -> None:
    with pytest.raises(ConfigError, match="time window"):
        TimeWindow(seconds, clock)  # type: ignore[arg-type]


def test_reopening_after_a_close_starts_with_an_empty_window(clock: FakeClock) -> None:
    breaker, reasons = make(clock, failure_rate=0.5, minimum_calls=4, window_size=100)
    calls(breaker, "ffff")
    clock.advance(5)
    calls(breaker, "s")  # the trial closes it
    calls(breaker, "sssfff")  # 3/6 counted afresh, not 7/10
    assert reasons.opened == ["failure rate 4/4", "failure rate 3/6"]
