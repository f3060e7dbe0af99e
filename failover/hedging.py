"""Hedged calls: if the first target is slow, ask the next one too; first success wins.

A read that has not answered after ``hedge_after`` seconds is raced by an attempt on
the next target in the plan.  The first success is returned at once; slower attempts
are abandoned (their threads finish in the background) but their outcomes are still
recorded, because a target that answers late, or never, is exactly what its breaker
and health must learn about.  An attempt that outlives ``attempt_timeout`` is counted
as a timeout there and then, which also makes per-attempt timeouts hard limits for
hedged calls.  Every hedge spends from the retry budget, so hedging cannot double the
load on a fleet that is slow everywhere.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Generic, TypeVar

from failover.breaker import Permit
from failover.deadline import DEADLINE
from failover.errors import DeadlineExceeded, FailoverError, RetryBudgetExhausted, Timeout, classify

if TYPE_CHECKING:
    from failover.execution import Executor
    from failover.routing import Member

R = TypeVar("R")


class Attempt(Generic[R]):
    """One try on one target; its outcome is recorded exactly once, by whoever settles first."""

    def __init__(self, executor: Executor, member: Member, permit: Permit, operation: str, started: float) -> None:
        self.executor = executor
        self.member = member
        self.permit = permit
        self.operation = operation
        self.started = started
        self._settled = threading.Lock()

    def claim(self) -> bool:
        return self._settled.acquire(blocking=False)

    def finished(self, future: Future[R]) -> None:
        """Done callback: record the real outcome unless a timeout was recorded already."""
        exc = future.exception()
        duration = self.executor.clock.monotonic() - self.started
        if not self.claim():
            return
        if exc is None:
            self.executor.record_success(self.member, self.permit, duration)
        elif isinstance(exc, Exception):
            self.executor.record_error(self.member, self.permit, self.operation, exc, duration)
        else:
            self.member.breaker.release(self.permit)

    def timed_out(self, timeout: float) -> FailoverError:
        error: FailoverError = Timeout(
            f"no answer within the attempt timeout of {timeout}s", target=self.member.name, operation=self.operation
        )
        if self.claim():
            self.executor.record_failure(self.member, self.permit, error, timeout)
        return error


def run_hedged(
    executor: Executor,
    threads: ThreadPoolExecutor,
    operation: str,
    call: Callable[[Member], R],
    candidates: Iterator[tuple[Member, Permit]],
    overall: float,
) -> R:
    config = executor.config
    attempt_timeout = config.attempt_timeout
    # With only enforce_timeouts, the next target is asked when an attempt times out.
    # Only reads are hedged; other calls here (enforce_timeouts) ask the next target
    # when an attempt times out, never while it may still succeed (a write would land twice).
    hedged = config.hedge_after is not None and operation in executor.hedgeable
    hedge_after = (config.hedge_after if hedged else None) or attempt_timeout or math.inf
    clock = executor.clock
    in_flight: dict[Future[R], Attempt[R]] = {}
    errors: list[FailoverError] = []

    def launch() -> bool:
        for member, permit in candidates:
            now = clock.monotonic()
            attempt: Attempt[R] = Attempt(executor, member, permit, operation, now)
            limit = min(now + attempt_timeout, overall) if attempt_timeout else overall
            future = threads.submit(_attempt, call, member, limit)
            future.add_done_callback(attempt.finished)
            in_flight[future] = attempt
            return True
        return False

    more = launch()
    while in_flight:
        now = clock.monotonic()
        if now >= overall:
            raise DeadlineExceeded(
                f"{operation}: deadline passed with {len(in_flight)} attempt(s) in flight", operation=operation
            )
        wake = _next_event(in_flight, hedge_after if more else math.inf, attempt_timeout, overall)
        done, _ = wait(list(in_flight), timeout=max(0.0, wake - now), return_when=FIRST_COMPLETED)
        for future in done:
            attempt = in_flight.pop(future)
            exc = future.exception()
            if exc is None:
                return future.result()
            # Recording is the done callback's job; here we only decide what to do next.
            error = classify(exc, target=attempt.member.name, operation=operation)
            if error is None or not error.temporary:
                raise (error or exc) from (None if error is exc or error is None else exc)
            errors.append(error)
        now = clock.monotonic()
        for future, attempt in list(in_flight.items()):
            if attempt_timeout and now - attempt.started >= attempt_timeout:
                errors.append(attempt.timed_out(attempt_timeout))
                del in_flight[future]
        newest = max((a.started for a in in_flight.values()), default=-math.inf)
        if more and (not in_flight or now - newest >= hedge_after):
            if executor.budget.try_spend():
                more = launch()
            elif not in_flight:
                raise RetryBudgetExhausted(
                    f"{operation}: retry budget exhausted after {len(errors)} failed attempt(s)", operation=operation
                )
            else:
                more = False  # no budget for a hedge: wait for what is in flight
    raise executor.exhausted(operation, errors)


def _attempt(call: Callable[[Member], R], member: Member, deadline: float) -> R:
    token = DEADLINE.set(deadline)
    try:
        return call(member)
    finally:
        DEADLINE.reset(token)


def _next_event(
    in_flight: dict[Future[R], Attempt[R]], hedge_after: float, attempt_timeout: float | None, overall: float
) -> float:
    """The next moment something must happen: a hedge, an attempt timeout, the deadline."""
    started = [a.started for a in in_flight.values()]
    moments = [overall, max(started) + hedge_after]
    if attempt_timeout:
        moments.append(min(started) + attempt_timeout)
    return min(moments)
