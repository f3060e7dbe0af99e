"""The per-loop watchdog that bounds async attempts: each attempt is cancelled when its
own deadline falls due, with one timer on the loop for all of them.

Every test runs on `failover.aio.virtual.run` (virtual time, debug mode, no task left
pending)."""

from __future__ import annotations

import asyncio

import pytest

from failover import ExecutionConfig, FakeClock, Target
from failover.aio import FailoverStorage
from failover.aio.virtual import run
from failover.aio.watchdog import Watchdog
from failover.errors import FailoverError, Timeout
from tests.unit.test_aio_storage import Scripted


async def _timed(watchdog: Watchdog, clock: FakeClock, delay: float, seconds: float) -> tuple[str, object]:
    started = clock.monotonic()
    try:
        await watchdog.bounded(asyncio.sleep(delay), seconds, "aws:one", "get")
    except Timeout:
        return "timeout", clock.monotonic() - started
    return "answered", clock.monotonic() - started


def test_each_attempt_is_cancelled_at_its_own_deadline_with_one_timer_on_the_loop() -> None:
    clock = FakeClock()

    async def main() -> list[tuple[str, object]]:
        watchdog = Watchdog(asyncio.get_running_loop())
        calls = []
        for i in range(5):  # deadlines at 1.0, 1.5, 2.0, 2.5, 3.0
            calls.append(asyncio.ensure_future(_timed(watchdog, clock, 3600.0 if i % 2 else 0.2, 1.0)))
            await asyncio.sleep(0.5)
        timers = len(asyncio.get_running_loop()._scheduled)  # type: ignore[attr-defined]
        results = await asyncio.gather(*calls)
        assert timers <= 2  # the watchdog's and this test's own sleep
        assert len(watchdog) == 0
        return results

    assert run(main(), clock) == [
        ("answered", pytest.approx(0.2)),
        ("timeout", pytest.approx(1.0)),
        ("answered", pytest.approx(0.2)),
        ("timeout", pytest.approx(1.0)),
        ("answered", pytest.approx(0.2)),
    ]


def test_a_deadline_earlier_than_the_queued_ones_still_expires_on_time() -> None:
    clock = FakeClock()

    async def main() -> list[tuple[str, object]]:
        watchdog = Watchdog(asyncio.get_running_loop())
        late = asyncio.ensure_future(_timed(watchdog, clock, 3600.0, 10.0))
        await asyncio.sleep(0)
        early = asyncio.ensure_future(_timed(watchdog, clock, 3600.0, 1.0))  # out of order
        return list(await asyncio.gather(early, late))

    assert run(main(), clock) == [("timeout", pytest.approx(1.0)), ("timeout", pytest.approx(10.0))]


def test_the_callers_cancellation_is_not_turned_into_a_timeout() -> None:
    clock = FakeClock()

    async def main() -> None:
        watchdog = Watchdog(asyncio.get_running_loop())
        started = clock.monotonic()
        call = asyncio.ensure_future(watchdog.bounded(asyncio.sleep(3600.0), 5.0, "aws:one", "get"))
        await asyncio.sleep(1.0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert clock.monotonic() - started == pytest.approx(1.0)

    run(main(), clock)


def test_a_caller_cancelling_after_the_deadline_fired_still_sees_its_cancellation() -> None:
    clock = FakeClock()

    async def hangs_on() -> None:
        try:
            await asyncio.sleep(3600.0)
        except asyncio.CancelledError:
            await asyncio.sleep(1.0)  # cleaning up while the caller cancels too
            raise

    async def main() -> None:
        watchdog = Watchdog(asyncio.get_running_loop())
        call = asyncio.ensure_future(watchdog.bounded(hangs_on(), 1.0, "aws:one", "get"))
        await asyncio.sleep(1.5)  # the deadline fired at 1.0; the attempt is cleaning up
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    run(main(), clock)


def test_a_timeout_error_raised_by_the_provider_is_not_the_watchdogs() -> None:
    clock = FakeClock()

    async def refuses() -> None:
        raise TimeoutError("socket read")

    async def main() -> None:
        watchdog = Watchdog(asyncio.get_running_loop())
        with pytest.raises(TimeoutError, match="socket read"):
            await watchdog.bounded(refuses(), 5.0, "aws:one", "get")

    run(main(), clock)


def test_a_thousand_calls_in_flight_each_time_out_at_the_attempt_timeout() -> None:
    clock = FakeClock()
    hangs = Scripted()
    hangs.delay = 3600.0
    storage = FailoverStorage([Target("aws:one", hangs)], execution=ExecutionConfig(attempt_timeout=2.0), clock=clock)

    async def one() -> tuple[str, object]:
        started = clock.monotonic()
        try:
            await storage.get("k")
        except FailoverError as exc:
            return exc.kind, clock.monotonic() - started
        return "answered", clock.monotonic() - started

    async def main() -> list[tuple[str, object]]:
        calls = []
        for _ in range(10):  # 100 more every 100 ms
            calls += [asyncio.ensure_future(one()) for _ in range(100)]
            await asyncio.sleep(0.1)
        return list(await asyncio.gather(*calls))

    assert run(main(), clock) == [("timeout", pytest.approx(2.0))] * 1000
    assert hangs.cancelled == 1000


def test_a_facade_used_on_a_second_loop_is_still_bounded() -> None:
    clock = FakeClock()
    a, b = Scripted(), Scripted()
    b.store.put("k", b"v")
    a.delay = 3600.0
    storage = FailoverStorage(
        [Target("aws:one", a), Target("aws:two", b, priority=1)],
        execution=ExecutionConfig(attempt_timeout=2.0),
        clock=clock,
    )
    for _ in range(2):  # a loop each time, as asyncio.run does
        started = clock.monotonic()
        assert run(storage.get("k"), clock) == b"v"
        assert clock.monotonic() - started == pytest.approx(2.0)
