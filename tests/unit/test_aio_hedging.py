"""Hedged async reads: tasks raced after hedge_after, the losers cancelled, nothing leaked.

Each test runs on `failover.aio.virtual.run`, in asyncio debug mode, which fails when a
task is still pending after the call returns."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from failover import ExecutionConfig, FakeClock, Target
from failover.aio import FailoverStorage
from failover.aio.virtual import run
from failover.errors import DeadlineExceeded, NotFound, Unavailable
from failover.events import Event, Hedged, HedgeWon
from tests.unit.test_aio_storage import Scripted


class Heard:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


def hedged(**execution: Any) -> tuple[FailoverStorage, Scripted, Scripted, FakeClock, Heard]:
    clock = FakeClock()
    a, b = Scripted(), Scripted()
    for store in (a, b):
        store.store.put("k", b"v")
    heard = Heard()
    config = ExecutionConfig(**{"hedge_after": 0.05, **execution})
    targets = [Target("aws:one", a), Target("aws:two", b, priority=1)]
    return FailoverStorage(targets, execution=config, clock=clock, listeners=[heard]), a, b, clock, heard


def test_a_slow_primary_is_hedged_and_the_loser_is_cancelled() -> None:
    storage, a, b, clock, heard = hedged()
    a.delay = 10.0
    started = clock.monotonic()

    assert run(storage.get("k"), clock) == b"v"
    assert clock.monotonic() - started == pytest.approx(0.05, abs=1e-5)
    assert (a.calls, a.cancelled, b.calls) == (1, 1, 1)
    assert [type(e) for e in heard.events if isinstance(e, (Hedged, HedgeWon))] == [Hedged, HedgeWon]
    # Stopped, not answered: the loser is recorded neither way, its permit given back.
    assert storage.pool.healths["aws:one"].calls.value == 0
    assert storage.pool.executor_for("get").budget.spent == 1


def test_a_fast_primary_is_not_hedged() -> None:
    storage, a, b, clock, _ = hedged()
    a.delay = 0.01
    assert run(storage.get("k"), clock) == b"v"
    assert b.calls == 0 and a.cancelled == 0


def test_a_primary_that_fails_is_retried_on_the_next_target_at_once() -> None:
    storage, a, _, clock, _ = hedged()
    a.fail = Unavailable("503")
    started = clock.monotonic()
    assert run(storage.get("k"), clock) == b"v"
    assert clock.monotonic() == started
    assert storage.pool.healths["aws:one"].errors.value == 1


def test_the_preferred_targets_not_found_is_the_answer() -> None:
    storage, _, b, clock, _ = hedged()
    with pytest.raises(NotFound):
        run(storage.get("missing"), clock)
    assert b.calls == 0


def test_attempts_that_outlive_the_deadline_are_cancelled() -> None:
    storage, a, b, clock, _ = hedged(attempt_timeout=None, deadline=1.0)
    a.delay = b.delay = 3600.0
    started = clock.monotonic()
    with pytest.raises(DeadlineExceeded):
        run(storage.get("k"), clock)
    assert clock.monotonic() - started == pytest.approx(1.0, abs=1e-5)
    assert (a.cancelled, b.cancelled) == (1, 1)


def test_a_caller_that_cancels_a_hedged_read_cancels_every_attempt() -> None:
    storage, a, b, clock, _ = hedged()
    a.delay = b.delay = 3600.0

    async def main() -> None:
        call = asyncio.ensure_future(storage.get("k"))
        await asyncio.sleep(1.0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    run(main(), clock)
    assert (a.cancelled, b.cancelled) == (1, 1)
    for name in ("aws:one", "aws:two"):
        assert storage.pool.member(name).breaker.state.value == "closed"


def test_without_budget_for_a_hedge_the_call_waits_for_the_primary() -> None:
    storage, a, b, clock, _ = hedged(retry_burst=1.0, retry_ratio=0.0, retry_floor_per_second=0.0)
    storage.pool.executor_for("get").budget.try_spend()  # the one token, gone
    a.delay = 1.0
    started = clock.monotonic()
    assert run(storage.get("k"), clock) == b"v"
    assert clock.monotonic() - started == pytest.approx(1.0, abs=1e-5)
    assert b.calls == 0


async def reads_for(storage: FailoverStorage, seconds: float, clock: FakeClock, every: float = 0.1) -> list[float]:
    """Hedged reads of "k", one every ``every`` seconds for ``seconds``: how long each took."""
    took = []
    ends = clock.monotonic() + seconds
    while clock.monotonic() < ends:
        started = clock.monotonic()
        assert await storage.get("k") == b"v"
        took.append(clock.monotonic() - started)
        await asyncio.sleep(every)
    return took


def test_a_silent_primary_opens_its_breaker_under_hedged_reads() -> None:
    storage, a, _, clock, _ = hedged(attempt_timeout=1.0)
    a.delay = 3600.0  # never answers: every read is won by the hedge

    async def main() -> list[float]:
        took = await reads_for(storage, 3.0, clock)
        await asyncio.sleep(1.0)  # the losers left running reach their attempt timeout
        return took

    took = run(main(), clock)
    assert storage.pool.member("aws:one").breaker.state.value == "open"
    # Once the primary had answered nothing for an attempt timeout, its losers ran on
    # and timed out there, as the sync race's do.
    assert storage.pool.healths["aws:one"].errors.value >= 5
    assert took[-1] == pytest.approx(0.0, abs=1e-9)  # no longer asked first: no hedge to wait for
    assert a.calls == a.cancelled


def test_a_primary_slower_than_the_hedge_every_time_still_has_its_answers_heard() -> None:
    storage, a, _, clock, _ = hedged(attempt_timeout=1.0)
    a.delay = 0.3  # answers, but always after the hedge has won

    async def main() -> None:
        await reads_for(storage, 3.0, clock)
        await asyncio.sleep(1.0)

    run(main(), clock)
    health = storage.pool.healths["aws:one"]
    assert storage.pool.member("aws:one").breaker.state.value == "closed"
    assert health.errors.value == 0
    assert health.answered() > 0  # the losers left running answered, and were recorded
    assert a.cancelled > 0  # the others were cancelled as usual


def test_the_losers_left_running_are_cancelled_by_aclose() -> None:
    storage, a, _, clock, _ = hedged(attempt_timeout=1.0)
    a.delay = 3600.0

    async def main() -> int:
        await reads_for(storage, 1.5, clock)
        left = len(storage._aread.probes)
        await storage.aclose()
        assert not storage._aread.probes
        return left

    assert run(main(), clock) > 0
    assert a.calls == a.cancelled


def test_a_slow_primary_that_still_answers_is_never_counted_silent() -> None:
    storage, a, _, clock, _ = hedged(attempt_timeout=1.0)

    async def main() -> None:
        for round_ in range(30):
            a.delay = 0.01 if round_ % 4 == 0 else 3600.0  # one read in four it beats the hedge
            assert await storage.get("k") == b"v"
            await asyncio.sleep(0.1)

    run(main(), clock)
    assert storage.pool.member("aws:one").breaker.state.value == "closed"
    assert storage.pool.healths["aws:one"].errors.value == 0
    assert a.cancelled > 15


def test_without_an_attempt_timeout_a_cancelled_loser_is_never_counted() -> None:
    storage, a, _, clock, _ = hedged(attempt_timeout=None, deadline=10.0)
    a.delay = 3600.0
    run(reads_for(storage, 3.0, clock), clock)  # fails if a loser were left running
    assert storage.pool.member("aws:one").breaker.state.value == "closed"
    assert storage.pool.healths["aws:one"].errors.value == 0


def test_reads_cancelled_by_their_caller_never_count_as_silence() -> None:
    storage, a, b, clock, _ = hedged(attempt_timeout=1.0)
    a.delay = b.delay = 3600.0

    async def main() -> None:
        for _ in range(30):
            call = asyncio.ensure_future(storage.get("k"))
            await asyncio.sleep(0.1)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

    run(main(), clock)
    assert storage.pool.healths["aws:one"].errors.value == 0
