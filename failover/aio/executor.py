"""The cross-target loop, awaited: the async twin of `failover.execution.executor.Executor.run`.

An `AsyncExecutor` runs over a sync `Executor` of a `failover.execution.pool.Pool` and
shares everything but the loop itself: the router and its cached plan, each target's
breaker and health, the retry budget, the classification of errors, the `NotFound`
rules (`failover.execution.lookup`) and the error a call ends with.  So sync and async
calls through one pool are one stream of evidence per target.

What differs is how an attempt is bounded.  On a loop an attempt can be stopped where
it stands, so ``attempt_timeout`` and ``deadline`` are hard limits for every call
(`AsyncExecutor.bounded`: the attempt is cancelled inside the provider, which
releases its connection; one `failover.aio.watchdog.Watchdog` per loop holds the
deadlines, so attempts put no timer of their own on the loop's heap), and hedged
reads are tasks whose losers are cancelled (`failover.aio.hedging`).  Each target's
layers (``ExecutionConfig.layers``) are sync code around a sync call and are not run
by async calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import sys
from asyncio import get_running_loop
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from failover.aio._time import bounded
from failover.aio.hedging import Silence, race
from failover.aio.watchdog import Watchdog
from failover.breaker.circuit import PASS, BreakerState
from failover.errors import FailoverError
from failover.events import Retried
from failover.execution.executor import BYPASS, ByName, Executor, as_call
from failover.execution.lookup import Lookup
from failover.routing.router import Member

R = TypeVar("R")
# What a facade asks of one target: the awaitable call on its async provider.
Call = Callable[[Member[Any]], Awaitable[R]]

_CLOSED = BreakerState.CLOSED


class AsyncExecutor:
    """Runs async calls through ``executor``'s router, breakers, health and budget, on
    the async provider ``providers`` gives for each target name.

    Each member of the pool gets a twin: a `Member` with the same breaker and health
    whose ``provider`` is the async one, so a call is ``lambda m: m.provider.get(key)``
    on either side.  A pool built on async providers is its own twin."""

    def __init__(self, executor: Executor, providers: Mapping[str, object]) -> None:
        self.executor = executor
        self.router = executor.router
        # Looked up per attempt: a member of the pool, to its twin on the async provider.
        self.twins: dict[Member, Member[Any]] = {m: _twin(m, providers[m.target.name]) for m in executor.router.members}
        config = executor.config
        self._attempt_timeout = config.attempt_timeout if config.attempt_timeout is not None else math.inf
        self._deadline = config.deadline if config.deadline is not None else math.inf
        self._hedging = config.hedge_after is not None
        self._monotonic = executor.clock.monotonic
        self._watchdog: Watchdog | None = None  # for the loop it was made on
        self.silence = Silence()  # of targets whose hedged attempts are cancelled unanswered
        # Losers of hedged reads left running on a silent target (`failover.aio.hedging`).
        self.probes: set[asyncio.Task[Any]] = set()

    def bounded(self, awaitable: Awaitable[R], seconds: float, target: str, operation: str) -> Awaitable[R]:
        """``awaitable``, to be cancelled after ``seconds`` of loop time with `Timeout`.

        Returned for the caller to await, not awaited here: one coroutine less per attempt.
        """
        if sys.version_info < (3, 11):  # no Task.cancelling: a scope per attempt
            return bounded(awaitable, seconds, target, operation)
        loop = asyncio.get_running_loop()
        watchdog = self._watchdog
        if watchdog is None or watchdog.loop is not loop:
            # A facade used from a new loop (asyncio.run again): the old loop's is dropped.
            watchdog = self._watchdog = Watchdog(loop)
        return watchdog.bounded(awaitable, seconds, target, operation)

    async def run(
        self,
        operation: str,
        call: Call[R] | ByName,
        *,
        idempotent: bool = True,
        exclude: frozenset[str] = frozenset(),
        lookup: Lookup | None = None,
    ) -> R:
        """Await ``call(member)`` on the best target, then the next ones on errors that
        fail over; the rules are `Executor.run`'s (see the module docstring for what differs).

        ``call`` may be a call by name (`ByName`), as for `Executor.run`: the arguments of
        the async provider method named ``operation``, which saves a closure per call."""
        sync = self.executor
        monotonic = self._monotonic
        started = monotonic()
        sync.budget.record_call()
        router = self.router
        plan = router.cached
        if plan.epoch != router.epoch or started >= plan.valid_until:
            plan = router.replan(started)
        members = router.reorder(plan.members) if router.shuffles else plan.members
        panic = plan.panic
        if exclude:
            members, panic = sync._without(members, exclude, panic)
        overall = started + self._deadline
        if self._hedging and operation in sync.hedgeable:
            behind_open: list[str] = []
            candidates = sync._candidates(members, operation, panic, behind_open)
            return await race(
                self,
                operation,
                as_call(operation, call),
                candidates,
                overall,
                lookup,
                behind_open,
                lambda: self._left(members, exclude, operation),
            )
        errors: list[FailoverError] | None = None  # allocated on the first failure only
        skipped: list[str] | None = None  # behind an open breaker
        for member in members:
            if operation not in member.operations:
                continue
            breaker = member.breaker
            # A closed breaker's permit is the shared PASS: skip the call to try_acquire.
            permit = PASS if breaker.state is _CLOSED else breaker.try_acquire()
            if permit is None:
                if not panic:
                    skipped = [member.name] if skipped is None else [*skipped, member.name]
                    continue
                permit = BYPASS
            if errors:
                try:
                    sync._check_retry(operation, errors, idempotent, overall, skipped)
                except BaseException:
                    breaker.release(permit)  # taken for an attempt that will not be made
                    raise
                if sync.emit is not None:
                    last = errors[-1]
                    sync.emit(Retried(member.name, operation, last.target or "", last.kind))
            # The first attempt reuses the call's start: one clock read less per call.
            attempt_start = monotonic() if errors or (lookup and lookup.first) else started
            end = attempt_start + self._attempt_timeout
            limit = (end if end < overall else overall) - attempt_start
            try:
                twin = self.twins[member]
                awaited = getattr(twin.provider, operation)(*call) if call.__class__ is tuple else call(twin)  # type: ignore[operator]
                if limit == math.inf:
                    result = await awaited
                elif (watchdog := self._watchdog) is not None and watchdog.loop is get_running_loop():
                    result = await watchdog.bounded(awaited, limit, member.name, operation)  # `bounded`, inlined
                else:
                    result = await self.bounded(awaited, limit, member.name, operation)
            except Exception as exc:
                error = sync.record_error(member, permit, operation, exc, monotonic() - attempt_start)
                if error is None:
                    raise
                if not error.fails_over:
                    if lookup is not None and lookup.first is None:
                        # The first answer of a lookup: were more preferred targets out of reach?
                        lookup = lookup.for_call()
                        skipped = self._left(members, exclude, operation) + (skipped or [])
                    if lookup is not None and lookup.goes_on(error, bool(errors or skipped)):
                        continue
                    raise error from (None if error is exc else exc)
                if errors is None:
                    errors = []
                errors.append(error)
                continue
            except BaseException:
                breaker.release(permit)  # cancelled by the caller: neither a success nor a failure
                raise
            ended = monotonic()
            duration = ended - attempt_start
            if permit is PASS and breaker.count_success is not None and not breaker.consecutive_failures:
                breaker.count_success()  # `CircuitBreaker.on_success`, inlined: no failure streak to end
            elif permit is not BYPASS:
                breaker.on_success(permit, duration)
            # `TargetHealth.record_success`, inlined as in the sync fast lane: no frame of its own.
            health = member.health
            if ended >= health.window.next_mark:
                health.window.tick()
            health.count_call()
            health.note_success(duration)
            return result
        if errors and (lookup is None or lookup.first is None):
            skipped = self._left(members, exclude, operation) + (skipped or [])
        raise sync.exhausted(operation, errors or [], skipped or (), lookup, alone=len(members) == 1)

    async def stop_probes(self) -> None:
        """Cancel the losers still running on silent targets, on this loop, and wait for them."""
        loop = get_running_loop()
        running = [task for task in self.probes if task.get_loop() is loop]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)

    def _left(self, members: tuple[Member, ...], exclude: frozenset[str], operation: str) -> list[str]:
        return self.executor._left_out(members, exclude, operation)

    def report_failure(self, member: Member, operation: str, exc: Exception) -> FailoverError:
        """Record an error raised after ``run`` returned (a listing failing midway)."""
        return self.executor.report_failure(member, operation, exc)


def _twin(member: Member, provider: object) -> Member[Any]:
    """``member`` with ``provider`` for its own: same target name, breaker and health."""
    if provider is member.provider:
        return member
    return Member(
        dataclasses.replace(member.target, provider=provider), member.breaker, member.health, member.operations
    )


__all__ = ["AsyncExecutor", "Call"]
