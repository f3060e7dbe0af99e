"""Hedged reads and enforced timeouts: real threads, bounded waits on events, no blind sleeps."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from failover import BreakerConfig, ExecutionConfig, FailoverStorage, Target
from failover.errors import AllTargetsFailed, NotFound
from failover.providers.memory import MemoryObjectStore


class Gate(MemoryObjectStore):
    """A store whose reads wait until the test opens the gate (or the wait times out)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def get(self, key: str) -> bytes:
        self.entered.set()
        self.gate.wait(timeout=5.0)
        return super().get(key)


@pytest.fixture
def stores() -> Iterator[tuple[Gate, MemoryObjectStore]]:
    slow, fast = Gate(), MemoryObjectStore()
    for store in (slow, fast):
        store.put("k", b"v")
    yield slow, fast
    slow.gate.set()


def storage(slow: MemoryObjectStore, fast: MemoryObjectStore, **execution: float | bool) -> FailoverStorage:
    return FailoverStorage(
        [Target("memory:slow", slow, priority=0), Target("memory:fast", fast, priority=1)],
        execution=ExecutionConfig(**execution),  # type: ignore[arg-type]
        breaker=BreakerConfig(consecutive_failures=100),
    )


def test_hedge_answers_from_the_second_target_when_the_first_is_slow(
    stores: tuple[Gate, MemoryObjectStore],
) -> None:
    slow, fast = stores
    with storage(slow, fast, hedge_after=0.02, attempt_timeout=3.0) as store:
        started = time.monotonic()
        assert store.get("k") == b"v"
        elapsed = time.monotonic() - started
    assert slow.entered.is_set()
    assert elapsed < 1.0, f"hedged read took {elapsed:.3f}s"


def test_no_hedge_when_the_first_answers_in_time(stores: tuple[Gate, MemoryObjectStore]) -> None:
    slow, fast = stores
    slow.gate.set()
    with storage(slow, fast, hedge_after=1.0) as store:
        for _ in range(20):
            assert store.get("k") == b"v"
        assert store.status()["memory:fast"].calls == 0


def test_abandoned_slow_attempt_is_still_recorded(stores: tuple[Gate, MemoryObjectStore]) -> None:
    slow, fast = stores
    with storage(slow, fast, hedge_after=0.02, attempt_timeout=3.0) as store:
        store.get("k")
        slow.gate.set()
        deadline = time.monotonic() + 5
        while store.status()["memory:slow"].calls == 0 and time.monotonic() < deadline:
            slow.entered.wait(0.01)
        assert store.status()["memory:slow"].calls == 1


def test_enforced_attempt_timeout_fails_over_from_a_hung_target(
    stores: tuple[Gate, MemoryObjectStore],
) -> None:
    slow, fast = stores
    with storage(slow, fast, attempt_timeout=0.05, enforce_timeouts=True) as store:
        started = time.monotonic()
        assert store.get("k") == b"v"
        assert time.monotonic() - started < 1.0
        assert store.status()["memory:slow"].last_error == "timeout"


def test_hedged_permanent_error_is_the_answer(stores: tuple[Gate, MemoryObjectStore]) -> None:
    slow, fast = stores
    slow.gate.set()
    with storage(slow, fast, hedge_after=0.5) as store, pytest.raises(NotFound):
        store.get("missing")


def test_hedged_call_with_every_target_failing_raises_all_failed() -> None:
    broken = [MemoryObjectStore(), MemoryObjectStore()]
    for store in broken:
        store.get = _refuse  # type: ignore[method-assign]
    with storage(broken[0], broken[1], hedge_after=0.01) as store, pytest.raises(AllTargetsFailed) as info:
        store.get("k")
    assert len(info.value.attempts) == 2


def _refuse(key: str) -> bytes:
    raise ConnectionRefusedError("refused")


def test_writes_are_never_hedged_even_with_enforced_timeouts() -> None:
    class SlowPut(MemoryObjectStore):
        def put(self, key, data, **kwargs):  # type: ignore[no-untyped-def,override]
            time.sleep(0.2)  # slower than hedge_after, well within attempt_timeout
            return super().put(key, data, **kwargs)

    slow, other = SlowPut(), MemoryObjectStore()
    with storage(slow, other, attempt_timeout=2.0, hedge_after=0.02, enforce_timeouts=True) as store:
        store.put("k", b"v")
    assert slow.get("k") == b"v"
    assert list(other.list()) == [], "a write raced to a second target would land twice"


def test_an_attempt_that_finished_as_its_time_ran_out_is_not_taken_for_a_straggler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The write finishes just as its attempt timeout passes, and the race looks before the
    # attempt's done callbacks have announced it: the write is done, so it must be the
    # answer, not timed out and written again to the next target.
    from failover.clock import FakeClock
    from failover.execution import hedging

    clock = FakeClock()
    waiting = threading.Event()  # the race is waiting for its attempts
    announced = threading.Event()
    original_finished = hedging.Raced.finished
    original_stragglers = hedging._Race.time_out_stragglers
    original_done = hedging._Race.done

    def late_announcement(self: hedging.Raced, future: object) -> None:
        announced.wait(5.0)  # held until the race is looking for stragglers
        original_finished(self, future)  # type: ignore[arg-type]

    def looking(self: hedging._Race[object]) -> bool:
        announced.set()
        return original_stragglers(self)

    def waits(self: hedging._Race[object], timeout: float) -> list[object]:
        waiting.set()
        return original_done(self, timeout)  # type: ignore[return-value]

    monkeypatch.setattr(hedging.Raced, "finished", late_announcement)
    monkeypatch.setattr(hedging._Race, "time_out_stragglers", looking)
    monkeypatch.setattr(hedging._Race, "done", waits)

    class JustInTime(MemoryObjectStore):
        def put(self, key: str, data: object, **options: object) -> object:
            waiting.wait(5.0)  # finish only once the race waits, callbacks in place
            result = super().put(key, data, **options)  # type: ignore[arg-type]
            clock.advance(0.2)  # the attempt took its whole timeout
            return result

    first, second = JustInTime(clock=clock), MemoryObjectStore(clock=clock)
    store = FailoverStorage(
        [Target("memory:a", first), Target("memory:b", second, priority=1)],
        execution=ExecutionConfig(attempt_timeout=0.1, enforce_timeouts=True),
        clock=clock,
    )
    try:
        store.put("k", b"v")
        assert [info.key for info in second.list()] == [], "the write was made twice"
        assert first.get("k") == b"v"
    finally:
        waiting.set()
        announced.set()
        store.close()
