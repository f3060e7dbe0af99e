"""Many threads on one breaker: no deadlock, legal transitions, exact lock-free counts.

Nothing here sleeps.  Threads start together on a barrier and are joined with a
timeout, so a deadlock fails the test instead of hanging the suite.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable

from failover.breaker.circuit import PASS, BreakerConfig, BreakerState, CircuitBreaker
from failover.clock import FakeClock, SystemClock
from failover.counter import AtomicCounter
from failover.events import BreakerTransition, Event
from failover.windows import CountWindow

THREADS = 16
JOIN_TIMEOUT = 60.0

LEGAL = {
    ("closed", "open"),
    ("open", "half_open"),
    ("half_open", "open"),
    ("half_open", "closed"),
} | {
    (old, new)
    for old in ("closed", "open", "half_open", "forced_open", "forced_closed")
    for new in ("forced_open", "forced_closed", "closed")
    if old != new
}


class Transitions:
    def __init__(self) -> None:
        self.seen: list[BreakerTransition] = []  # list.append is atomic

    def on_event(self, event: Event) -> None:
        assert isinstance(event, BreakerTransition)
        self.seen.append(event)


def run_threads(work: Callable[[int], None], count: int = THREADS) -> None:
    """Start ``count`` threads together, join them with a timeout, re-raise the first error."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            work(index)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    # Switch threads every few bytecodes rather than every 5 ms: otherwise each thread
    # runs most of its loop alone and the races this file looks for rarely happen.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(JOIN_TIMEOUT)
    finally:
        sys.setswitchinterval(interval)
    assert not [t for t in threads if t.is_alive()], "threads still running: deadlock or livelock"
    if errors:
        raise errors[0]


def hammer(breaker: CircuitBreaker, seed: int, iterations: int) -> None:
    rng = random.Random(seed)
    for _ in range(iterations):
        permit = breaker.try_acquire()
        if permit is None:
            continue
        roll = rng.random()
        duration = rng.uniform(0.0, 0.2)
        if roll < 0.05:
            breaker.release(permit)  # an abandoned call
        elif roll < 0.45:
            breaker.on_failure(permit, duration, "Unavailable")
        else:
            breaker.on_success(permit, duration)


def check_quiescent(breaker: CircuitBreaker, transitions: Transitions) -> None:
    cfg = breaker.config
    assert isinstance(breaker.state, BreakerState)
    assert all((e.old, e.new) in LEGAL for e in transitions.seen), {(e.old, e.new) for e in transitions.seen}
    opened = [e for e in transitions.seen if e.new == "open"]
    assert opened, "the mix of failures should have opened it at least once"
    if breaker.state is BreakerState.OPEN:
        assert 0 <= breaker.retry_in() <= cfg.open_max
    # Every thread has finished, so every permit was answered or lost: a reset breaker
    # must behave like a fresh one.
    breaker.reset()
    assert breaker.try_acquire() is PASS


def test_sixteen_threads_on_a_system_clock_breaker() -> None:
    transitions = Transitions()
    config = BreakerConfig(
        consecutive_failures=3,
        failure_rate=0.5,
        minimum_calls=10,
        slow_call_duration=0.15,
        half_open_permits=2,
        open_base=0.0005,  # real time: short enough to cycle through every state
        open_max=0.002,
    )
    breaker = CircuitBreaker("hammered", config, clock=SystemClock(), listeners=[transitions])
    run_threads(lambda i: hammer(breaker, i, 20_000))
    assert {e.new for e in transitions.seen} >= {"open", "half_open", "closed"}
    check_quiescent(breaker, transitions)


def test_sixteen_threads_while_one_advances_a_fake_clock() -> None:
    clock = FakeClock()
    transitions = Transitions()
    config = BreakerConfig(consecutive_failures=2, half_open_permits=3, open_base=1.0, open_max=8.0)
    breaker = CircuitBreaker("ticking", config, clock=clock, listeners=[transitions])
    operator_done = threading.Event()
    hammers = THREADS - 2
    hammers_done = threading.Barrier(hammers + 1)  # the hammers and the clock

    def work(index: int) -> None:
        if index == 0:  # time runs until every caller has finished
            while hammers_done.n_waiting < hammers:
                clock.advance(0.01)
            hammers_done.wait(JOIN_TIMEOUT)
            return
        if index == 1:  # an operator flipping switches meanwhile, ending with a reset
            for n in range(300):
                (breaker.force_open, breaker.force_closed, breaker.reset)[n % 3]()
            operator_done.set()
            return
        # Callers race the operator, then go on for a fixed count after its last reset:
        # a forced state cannot swallow every call, so the breaker must open on its own.
        while not operator_done.is_set():
            hammer(breaker, index, 50)
        hammer(breaker, index, 5_000)
        hammers_done.wait(JOIN_TIMEOUT)

    run_threads(work)
    check_quiescent(breaker, transitions)


def test_half_open_admits_exactly_its_permits_under_a_stampede() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("stampede", BreakerConfig(consecutive_failures=1, half_open_permits=3), clock=clock)
    breaker.on_failure(PASS, 0.0, "down")
    clock.advance(breaker.retry_in())
    granted: list[object] = []
    run_threads(lambda _: granted.append(breaker.try_acquire()))
    assert len([p for p in granted if p is not None]) == 3
    assert breaker.state is BreakerState.HALF_OPEN


def test_no_lock_is_held_across_the_guarded_call() -> None:
    breaker = CircuitBreaker("io", BreakerConfig(), clock=SystemClock())
    inside, other_done = threading.Event(), threading.Event()

    def slow_call() -> str:
        inside.set()
        # Another thread completes a whole call while this one is still inside.
        assert other_done.wait(JOIN_TIMEOUT)
        return "slow"

    def other() -> None:
        assert inside.wait(JOIN_TIMEOUT)
        breaker.call(lambda: None)
        breaker.on_failure(PASS, 0.0, "x")  # the locked path too
        other_done.set()

    thread = threading.Thread(target=other, daemon=True)
    thread.start()
    assert breaker.call(slow_call) == "slow"
    thread.join(JOIN_TIMEOUT)
    assert not thread.is_alive()


def test_atomic_counter_is_exact_under_sixteen_threads() -> None:
    counter = AtomicCounter()
    reads: list[int] = []

    def work(index: int) -> None:
        increment = counter.increment
        for n in range(20_000):
            increment()
            if index == 0 and n % 1_000 == 0:
                reads.append(counter.value)  # reads race the increments and must not skew them

    run_threads(work)
    assert counter.value == THREADS * 20_000
    assert reads == sorted(reads) and all(0 < r <= THREADS * 20_000 for r in reads)


def test_count_window_successes_need_no_lock_and_none_is_lost() -> None:
    window = CountWindow(10**9)

    def work(_: int) -> None:
        success = window.record_success
        for _ in range(20_000):
            success()

    run_threads(work)
    assert window.record(True, False, 0.0) == (THREADS * 20_000 + 1, 1, 0)
