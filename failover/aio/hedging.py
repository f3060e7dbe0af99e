"""Hedged reads as tasks: the first success wins and every other attempt is cancelled.

The rules are those of `failover.execution.hedging` (the same `_Race` decides when to
hedge, what a failure or a `NotFound` means and what the call ends with); only the
attempts differ.  Each is a task bounded by its own attempt timeout
(`AsyncExecutor.bounded`), so an attempt that runs out is cancelled inside the provider and counted as a `Timeout`.
When the call ends, whichever way (a success, an error, the deadline, or the caller
cancelling it), the attempts still in flight are cancelled and awaited before the call
returns: no task outlives its call (silence aside, below) and each loser's connection is released.  A loser
cancelled that way gives its breaker permit back and is recorded neither way: it was
stopped, not answered.  Every hedge spends from the retry budget, as in the sync race.

Silence is the exception.  The sync race lets a loser run on and counts it as a
`Timeout` at ``attempt_timeout``; a cancelled loser tells nothing, so a target that has
stopped answering would lose every race unnoticed, its breaker never opening and every
read paying ``hedge_after``.  So a `Silence` watches each target's answered calls
(`failover.health.target_health.TargetHealth.answered`, fed by sync and async calls
alike), and a loser whose target has answered nothing for ``attempt_timeout`` or more
is not cancelled: it runs on, to its own attempt timeout, held by the executor
(`AsyncExecutor.probes`, cancelled by the facade's ``aclose``), and its outcome is
recorded as any attempt's.  A silent target then times out and its breaker opens; a
slow one answers, which starts the watch over, so losers are cancelled again.  Without
an ``attempt_timeout`` no loser is kept, nor for a call its caller cancelled.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from failover.breaker.circuit import Permit
from failover.errors import DeadlineExceeded
from failover.events import HedgeWon
from failover.execution.hedging import Raced, _next_event, _Race
from failover.execution.lookup import Lookup
from failover.routing.router import Member

if TYPE_CHECKING:
    from failover.aio.executor import AsyncExecutor, Call

R = TypeVar("R")
# asyncio fires a timer up to its clock's resolution early; woken that early, the shared
# rules (a hedge is due once ``now - started >= hedge_after``) would find nothing due
# and the loop would wait again for no time at all.  A microsecond more settles it.
_SLACK = 1e-6


async def race(
    runner: AsyncExecutor,
    operation: str,
    call: Call[R],
    candidates: Iterator[tuple[Member, Permit]],
    overall: float,
    lookup: Lookup | None,
    skipped: list[str],
    left_out: Callable[[], list[str]],
) -> R:
    """Race attempts as described in the module docstring."""
    fresh = lookup.for_call() if lookup is not None else None
    return await _TaskRace(runner, operation, call, candidates, overall, fresh, skipped, left_out).run_tasks()


class _TaskRace(_Race[R]):
    """`_Race` with tasks for threads: ``in_flight`` holds the `Raced` attempts running,
    as in the sync race, so the inherited rules read it as is; ``running`` maps each
    attempt's task to it."""

    def __init__(
        self,
        runner: AsyncExecutor,
        operation: str,
        call: Call[R],
        candidates: Iterator[tuple[Member, Permit]],
        overall: float,
        lookup: Lookup | None,
        skipped: list[str],
        left_out: Callable[[], list[str]],
    ) -> None:
        # No thread pool: attempts are tasks on the running loop.
        super().__init__(runner.executor, None, operation, call, candidates, overall, lookup, skipped, left_out)  # type: ignore[arg-type]
        self.twins = runner.twins
        self.bounded = runner.bounded
        self.awaited = call
        self.silence = runner.silence
        self.probes = runner.probes
        self.running: dict[asyncio.Task[R], Raced] = {}

    def launch(self) -> bool:
        """Start the next candidate's attempt as a task; False when none is left."""
        executor = self.executor
        monotonic = executor.clock.monotonic
        for member, permit in self.candidates:
            now = monotonic()
            timeout = self.attempt_timeout
            limit = min(now + timeout, self.overall) if timeout else self.overall
            hedge = bool(self.in_flight)
            attempt = Raced(
                executor, permit, member, self.operation, self.call, now, limit, monotonic, self.launched, hedge=hedge
            )
            if self.launched and executor.emit is not None:
                self.announce(executor.emit, member.name, now, hedge)
            try:
                task = asyncio.ensure_future(self._attempt(attempt))  # the caller's context goes with it
            except BaseException:
                member.breaker.release(permit)  # never started: give the permit back
                raise
            task.add_done_callback(functools.partial(_record, attempt))
            self.running[task] = attempt
            self.in_flight[attempt] = None
            self.launched += 1
            return True
        self.drained = True
        return False

    async def _attempt(self, attempt: Raced) -> R:
        awaited = self.awaited(self.twins[attempt.member])
        # Bounded by the attempt timeout alone: the call's deadline is the race's to
        # enforce (`DeadlineExceeded`, as in the sync race), not each attempt's.
        if not self.attempt_timeout:
            return await awaited
        return await self.bounded(awaited, self.attempt_timeout, attempt.member.name, self.operation)

    async def run_tasks(self) -> R:
        """`_Race.run`, awaited: wait for the next attempt to finish or the next hedge."""
        by_caller = True  # cancelled (or interrupted) from outside, until the race says otherwise
        try:
            result = await self._race()
            by_caller = False
            return result
        except Exception:
            by_caller = False
            raise
        finally:
            if not by_caller:
                self._keep_silent_losers()
            await self._cancel_in_flight()

    def _keep_silent_losers(self) -> None:
        """Take the losers whose targets have been silent out of the race, still running:
        their own attempt timeout ends them, and the executor holds them until then."""
        timeout = self.attempt_timeout
        if not timeout:
            return
        now = self.executor.clock.monotonic()
        for task, attempt in list(self.running.items()):
            if self.silence.silent_for(attempt.member, now) >= timeout:
                del self.running[task], self.in_flight[attempt]
                self.probes.add(task)
                task.add_done_callback(self.probes.discard)

    async def _race(self) -> R:
        operation, executor = self.operation, self.executor
        more = self.launch()
        while self.in_flight:
            now = executor.clock.monotonic()
            if now >= self.overall:
                raise DeadlineExceeded(
                    f"{operation}: deadline passed with {len(self.in_flight)} attempt(s) in flight",
                    operation=operation,
                )
            hedge_after = self.hedge_after if more else math.inf
            wake = _next_event(self.in_flight, hedge_after, None, self.overall)
            wait = max(0.0, wake - now) + _SLACK
            done, _ = await asyncio.wait(self.running, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                attempt = self.running.pop(task)
                del self.in_flight[attempt]
                exc = task.exception()
                if exc is None:
                    if attempt.hedge and executor.emit is not None:
                        executor.emit(HedgeWon(attempt.member.name, operation))
                    return task.result()
                more = self.settle(attempt, exc, more)
            more = self.maybe_hedge(more)
        if self.answer is not None:
            _, error, cause = self.answer
            raise error from (None if error is cause else cause)
        if self.errors and (self.lookup is None or self.lookup.first is None):
            self.skipped[:0] = self.left_out()
        raise executor.exhausted(operation, self.errors, self.skipped, self.lookup)

    async def _cancel_in_flight(self) -> None:
        """Cancel the attempts still running and wait until each has stopped."""
        tasks = list(self.running)
        self.running.clear()
        self.in_flight.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


class Silence:
    """How long each target has answered nothing, as seen by the losers of hedged reads.

    Keyed by target name, the count of calls the target had answered
    (`TargetHealth.answered`) when that count was first seen, and the time it was seen.
    A count that moved means the target answered meanwhile: the watch starts over.
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, float]] = {}

    def silent_for(self, member: Member, now: float) -> float:
        """Seconds, up to ``now``, in which ``member`` is known to have answered nothing."""
        answered = member.health.answered()
        seen = self._seen.get(member.name)
        if seen is None or seen[0] != answered:
            self._seen[member.name] = (answered, now)
            return 0.0
        return now - seen[1]


def _record(attempt: Raced, task: asyncio.Task[Any]) -> None:
    """Done callback: the attempt's outcome in its breaker and health; a cancelled one
    gives its permit back."""
    if task.cancelled():
        if attempt.claim():
            attempt.member.breaker.release(attempt.permit)
        return
    attempt.error = task.exception()
    attempt.done = True
    attempt.finished()


__all__ = ["Silence", "race"]
