"""CircuitBreaker lifecycle with a FakeClock: open time, half-open trials, forcing, events, store.

The opening rules and the windows behind them are in test_breaker_windows.py.
Nothing here sleeps: time moves only when a test advances the clock.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Iterator
from typing import Any

import circuitbreaker
import pytest

from failover.breaker.circuit import PASS, BreakerConfig, BreakerState, CircuitBreaker, Permit
from failover.breaker.store import MemoryBreakerStore
from failover.clock import FakeClock
from failover.errors import CircuitOpen, ConfigError, NotFound, Unavailable, classify
from failover.events import BreakerTransition, Event

# One failure opens; no rate rule and no jitter, so every open time is exact.
ONE_STRIKE = {"consecutive_failures": 1, "failure_rate": None, "jitter": 0.0}


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    @property
    def moves(self) -> list[tuple[str, str]]:
        return [(e.old, e.new) for e in self.events if isinstance(e, BreakerTransition)]


def make(clock: FakeClock, **config: Any) -> CircuitBreaker:
    return CircuitBreaker("aws:us-east-1", BreakerConfig(**{**ONE_STRIKE, **config}), clock=clock)


def fail(breaker: CircuitBreaker, reason: str = "Unavailable") -> None:
    permit = breaker.try_acquire()
    assert permit is not None
    breaker.on_failure(permit, 0.01, reason)


def open_for(breaker: CircuitBreaker, clock: FakeClock) -> float:
    assert breaker.state is BreakerState.OPEN
    return breaker.open_until - clock.monotonic()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# ------------------------------------------------------------ open -> half-open -> closed


def test_open_rejects_until_open_time_elapses_then_admits_a_trial(clock: FakeClock) -> None:
    breaker = make(clock, open_base=5.0)
    fail(breaker)
    assert breaker.try_acquire() is None and not breaker.is_available()
    assert breaker.retry_in() == pytest.approx(5.0)
    clock.advance(4.999)
    assert breaker.try_acquire() is None
    clock.advance(0.001)
    assert breaker.is_available()
    permit = breaker.try_acquire()
    assert permit is not None and permit.trial and permit is not PASS
    assert breaker.state is BreakerState.HALF_OPEN


def test_half_open_bounds_concurrent_trials(clock: FakeClock) -> None:
    breaker = make(clock, half_open_permits=2)
    fail(breaker)
    clock.advance(5)
    first, second = breaker.try_acquire(), breaker.try_acquire()
    assert first is not None and second is not None and first is not second
    assert breaker.try_acquire() is None  # a third concurrent trial is refused
    assert not breaker.is_available()


def test_trial_success_closes_and_resets_open_time(clock: FakeClock) -> None:
    breaker = make(clock, half_open_successes=2, half_open_permits=2, open_base=1.0)
    fail(breaker)
    clock.advance(1)
    trials = [breaker.try_acquire(), breaker.try_acquire()]
    breaker.on_success(trials[0], 0.01)  # type: ignore[arg-type]
    assert breaker.state is BreakerState.HALF_OPEN  # one success of the two needed
    breaker.on_success(trials[1], 0.01)  # type: ignore[arg-type]
    assert breaker.state is BreakerState.CLOSED
    assert breaker.closed_since == clock.monotonic()
    assert breaker.try_acquire() is PASS
    fail(breaker)
    assert open_for(breaker, clock) == pytest.approx(1.0)  # growth starts over after a close


def test_trial_failure_reopens_for_exponentially_longer_up_to_open_max(clock: FakeClock) -> None:
    breaker = make(clock, open_base=1.0, open_multiplier=2.0, open_max=10.0)
    fail(breaker)
    seen = [open_for(breaker, clock)]
    for _ in range(5):
        clock.advance(seen[-1])
        fail(breaker, "trial failed")  # the trial permit's failure
        seen.append(open_for(breaker, clock))
    assert seen == pytest.approx([1.0, 2.0, 4.0, 8.0, 10.0, 10.0])
    assert breaker.last_failure == "trial failed"


def test_open_time_survives_days_of_reopening_without_overflow(clock: FakeClock) -> None:
    # Regression: 10.0 ** 309 raised OverflowError out of on_failure, leaving the
    # breaker half-open with no open time at all.
    breaker = make(clock, open_base=1.0, open_multiplier=10.0, open_max=5.0)
    fail(breaker)
    for _ in range(400):
        clock.advance(5)
        fail(breaker)
        assert open_for(breaker, clock) == pytest.approx(5.0)


def test_jitter_stays_in_bounds_and_a_seeded_rng_repeats_it(clock: FakeClock) -> None:
    def open_times(seed: int, base: float, open_max: float) -> list[float]:
        config = BreakerConfig(**{**ONE_STRIKE, "jitter": 0.5, "open_base": base, "open_max": open_max})
        breaker = CircuitBreaker("b", config, clock=clock, rng=random.Random(seed))
        times = []
        for _ in range(200):
            fail(breaker)
            times.append(open_for(breaker, clock))
            breaker.reset()
        return times

    spread = open_times(7, 10.0, 100.0)
    assert all(5.0 <= t <= 15.0 for t in spread)
    assert len(set(spread)) > 100  # really jittered
    assert open_times(7, 10.0, 100.0) == spread
    assert open_times(8, 10.0, 100.0) != spread
    capped = open_times(7, 100.0, 100.0)
    assert all(50.0 <= t <= 100.0 for t in capped)  # jitter never pushes past open_max


# ------------------------------------------------------------ permits: expiry and release


def test_lost_trial_permit_expires_and_a_new_trial_is_admitted(clock: FakeClock) -> None:
    # resilience4j #903: a trial whose outcome never comes back must not wedge the breaker.
    breaker = make(clock, permit_timeout=30.0)
    fail(breaker)
    clock.advance(5)
    lost = breaker.try_acquire()
    assert lost is not None
    clock.advance(29)
    assert breaker.try_acquire() is None and not breaker.is_available()
    clock.advance(1)
    assert breaker.is_available()  # regression: the stale permit used to count here
    fresh = breaker.try_acquire()
    assert fresh is not None and fresh is not lost
    breaker.on_failure(lost, 31.0, "late")  # a stale outcome changes nothing
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.on_success(fresh, 0.01)
    assert breaker.state is BreakerState.CLOSED


def test_release_returns_a_trial_permit(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker)
    clock.advance(5)
    permit = breaker.try_acquire()
    assert permit is not None and breaker.try_acquire() is None
    breaker.release(permit)
    breaker.release(permit)  # twice is harmless
    assert breaker.state is BreakerState.HALF_OPEN
    again = breaker.try_acquire()
    assert again is not None and again.trial
    breaker.release(PASS)  # a closed-state permit has nothing to give back


# ------------------------------------------------------------ operator controls


def test_force_open_rejects_whatever_the_clock_says(clock: FakeClock) -> None:
    breaker = make(clock)
    clock.advance(100)
    breaker.force_open("maintenance")
    breaker.force_open("again")  # still open since the first time
    clock.advance(3)
    with pytest.raises(CircuitOpen, match=r"is forced_open \(for 3\.0s"):  # regression: was 1103.0s
        breaker.call(lambda: None)
    clock.advance(10_000)
    assert breaker.try_acquire() is None and not breaker.is_available()
    assert breaker.state is BreakerState.FORCED_OPEN


def test_force_closed_admits_everything_and_never_opens(clock: FakeClock) -> None:
    breaker = make(clock)
    breaker.force_closed()
    for _ in range(50):
        fail(breaker)
    assert breaker.state is BreakerState.FORCED_CLOSED
    assert breaker.try_acquire() is PASS


@pytest.mark.parametrize("start", ["open", "half_open", "forced_open", "forced_closed"])
def test_reset_closes_from_any_state_with_empty_counts(clock: FakeClock, start: str) -> None:
    breaker = make(clock, consecutive_failures=2)
    fail(breaker)
    fail(breaker)
    if start == "half_open":
        clock.advance(5)
        assert breaker.try_acquire() is not None
    elif start.startswith("forced"):
        getattr(breaker, start.replace("forced", "force"))()
    assert breaker.state.value == start
    breaker.reset()
    assert breaker.state is BreakerState.CLOSED and breaker.try_acquire() is PASS
    fail(breaker)
    assert breaker.state is BreakerState.CLOSED  # the count started over


# ------------------------------------------------------------ listeners


def test_listeners_see_every_transition_and_a_raising_one_breaks_nothing(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def on_event(self, event: Event) -> None:
            raise RuntimeError("listener bug")

    recorder = Recorder()
    config = BreakerConfig(**{**ONE_STRIKE, "consecutive_failures": 2})
    breaker = CircuitBreaker("gcp:eu", config, clock=clock, listeners=[Broken(), recorder])
    with caplog.at_level(logging.ERROR, logger="failover"):
        for _ in range(2):
            with pytest.raises(Unavailable):
                breaker.call(_raise, Unavailable("503"))
        clock.advance(5)
        assert breaker.call(lambda: 42) == 42
        breaker.force_open()
        breaker.reset()
    assert recorder.moves == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
        ("closed", "forced_open"),
        ("forced_open", "closed"),
    ]
    first = recorder.events[0]
    assert isinstance(first, BreakerTransition)
    assert first.target == "gcp:eu" and first.reason == "2 consecutive failures"
    assert [r.getMessage().startswith("listener") for r in caplog.records] == [True] * 5


# ------------------------------------------------------------ call()


def _raise(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize(
    ("exc", "counted"),
    [
        (Unavailable("503"), True),
        (ConnectionRefusedError("refused"), True),
        (TimeoutError("read timed out"), True),
        (KeyError("a bug, not the target"), False),  # unknown: not counted, as by the executor
        (NotFound("no such key"), False),  # the target answered: it is alive
        (FileNotFoundError("gone"), False),
    ],
)
def test_call_counts_target_failures_only(clock: FakeClock, exc: Exception, counted: bool) -> None:
    breaker = make(clock)
    with pytest.raises(type(exc)):
        breaker.call(_raise, exc)
    assert (breaker.state is BreakerState.OPEN) is counted


def test_call_passes_arguments_and_measures_duration_with_the_clock(clock: FakeClock) -> None:
    breaker = make(clock, consecutive_failures=0, slow_call_duration=2.0, minimum_calls=1, slow_call_rate=1.0)

    def slow_get(key: str, *, version: int) -> str:
        clock.advance(2.5)
        return f"{key}@{version}"

    assert breaker.call(slow_get, "k", version=3) == "k@3"
    assert breaker.state is BreakerState.OPEN
    assert breaker.last_failure is None  # slow, not failed


def test_keyboard_interrupt_releases_the_trial_permit(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker)
    clock.advance(5)
    with pytest.raises(KeyboardInterrupt):
        breaker.call(_raise, KeyboardInterrupt())
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.try_acquire() is not None  # the permit came back: not counted either way


def test_circuit_open_names_breaker_age_retry_time_and_last_failure(clock: FakeClock) -> None:
    breaker = make(clock, open_base=10.0)
    with pytest.raises(Unavailable):
        breaker.call(_raise, Unavailable("HTTP 503 from S3"))
    clock.advance(4)
    with pytest.raises(CircuitOpen) as caught:
        breaker.call(lambda: None)
    err = caught.value
    assert str(err) == (
        "circuit aws:us-east-1 is open (for 4.0s, retry in 6.0s; last failure: Unavailable) (target=aws:us-east-1)"
    )
    assert err.retry_in == pytest.approx(6.0) and err.temporary and err.target == "aws:us-east-1"
    assert breaker.rejection("get").operation == "get"


# ------------------------------------------------------------ store and sync


def test_two_breakers_share_transitions_through_a_store(clock: FakeClock) -> None:
    store = MemoryBreakerStore(clock)
    config = BreakerConfig(**{**ONE_STRIKE, "open_base": 10.0})
    recorder = Recorder()
    a = CircuitBreaker("azure:westeurope", config, clock=clock, store=store)
    b = CircuitBreaker("azure:westeurope", config, clock=clock, store=store, listeners=[recorder])
    b.sync()
    assert b.state is BreakerState.CLOSED and not recorder.events  # nothing saved yet
    fail(a)
    clock.advance(3)
    b.sync()
    assert b.state is BreakerState.OPEN and b.try_acquire() is None
    assert b.retry_in() == pytest.approx(7.0)  # durations travel, not clock readings
    assert recorder.moves == [("closed", "open")]
    assert recorder.events[0].reason == "shared: 1 consecutive failures"  # type: ignore[union-attr]
    assert "(for 0.0s, retry in 7.0s" in str(b.rejection())
    clock.advance(7)
    trial = b.try_acquire()
    assert trial is not None
    b.on_success(trial, 0.01)
    a.sync()
    assert a.state is BreakerState.CLOSED and a.try_acquire() is PASS
    a.force_open()
    b.sync()
    assert b.state is BreakerState.FORCED_OPEN


def test_adopting_a_close_forgets_failures_from_before_it(clock: FakeClock) -> None:
    # Regression: sync() kept the old window, so the first failure after a fleet-mate
    # closed the breaker re-opened it on the outage's failure rate.
    store = MemoryBreakerStore(clock)
    config = BreakerConfig(consecutive_failures=0, failure_rate=0.5, minimum_calls=4, window_size=10, jitter=0.0)
    a = CircuitBreaker("t", config, clock=clock, store=store)
    b = CircuitBreaker("t", config, clock=clock, store=store)
    for breaker in (a, b):
        for _ in range(4):
            fail(breaker)
        assert breaker.state is BreakerState.OPEN
    clock.advance(5)
    trial = a.try_acquire()
    a.on_success(trial, 0.01)  # type: ignore[arg-type]
    b.sync()
    assert b.state is BreakerState.CLOSED
    fail(b)
    assert b.state is BreakerState.CLOSED


# ------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("consecutive_failures", -1),
        ("failure_rate", 0.0),
        ("failure_rate", 1.5),
        ("slow_call_duration", 0.0),
        ("slow_call_rate", 0.0),
        ("slow_call_rate", 1.01),
        ("window", "sliding"),
        ("window_size", 0),
        ("minimum_calls", 0),
        ("half_open_permits", 0),
        ("half_open_successes", 0),
        ("permit_timeout", 0.0),
        ("open_base", 0.0),
        ("open_base", 301.0),  # above the default open_max
        ("open_multiplier", 0.5),
        ("jitter", -0.1),
        ("jitter", 1.0),
    ],
)
def test_bad_config_is_a_config_error_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        BreakerConfig(**{field: value})  # type: ignore[arg-type]


def test_a_breaker_needs_a_name_and_defaults_are_valid() -> None:
    with pytest.raises(ConfigError, match="name"):
        CircuitBreaker("")
    assert CircuitBreaker("x").state is BreakerState.CLOSED
    assert isinstance(ConfigError("x"), ValueError)


# ------------------------------------------------------------ the `circuitbreaker` package


@pytest.fixture
def guarded_upload() -> Iterator[Any]:
    """A provider call guarded by the user's own `@circuit`, removed from its global registry after."""
    name = f"upload-{next(_names)}"
    calls = []

    @circuitbreaker.circuit(failure_threshold=1, recovery_timeout=3600, name=name)
    def upload(key: str) -> None:
        calls.append(key)
        raise ConnectionResetError("reset by peer")

    upload.calls = calls  # type: ignore[attr-defined]
    yield upload
    circuitbreaker.CircuitBreakerMonitor.circuit_breakers.pop(name, None)


_names = itertools.count()


def test_circuitbreaker_error_is_unavailable_and_counts_against_the_target(
    clock: FakeClock, guarded_upload: Any
) -> None:
    breaker = make(clock, consecutive_failures=2)
    with pytest.raises(ConnectionResetError):
        breaker.call(guarded_upload, "a")  # the real failure opens the user's breaker
    with pytest.raises(circuitbreaker.CircuitBreakerError) as caught:
        breaker.call(guarded_upload, "b")  # rejected by it without calling
    assert guarded_upload.calls == ["a"]
    assert breaker.state is BreakerState.OPEN  # its rejection counted as our second failure
    assert breaker.last_failure == "CircuitBreakerError"
    mapped = classify(caught.value, target="aws:us-east-1", operation="upload")
    assert isinstance(mapped, Unavailable) and mapped.temporary
    assert "guarded by an open circuitbreaker" in str(mapped)


def test_permit_is_a_small_value() -> None:
    permit = Permit(trial=True, taken_at=1.0)
    assert (permit.trial, permit.taken_at) == (True, 1.0)
    assert not PASS.trial
    with pytest.raises(AttributeError):
        permit.extra = 1  # type: ignore[attr-defined]
