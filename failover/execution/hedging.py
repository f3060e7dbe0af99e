"""Hedged calls: if the first target is slow, ask the next one too; first success wins.

Only a success wins early.  A permanent answer (`NotFound`, a bad request) from one
attempt waits for the attempts still in flight, since the slow primary may be about to
return the object a hedge did not find; it is the answer only when nothing in flight,
or still allowed, could do better (`failover.execution.lookup` says when a read by key goes on).

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

import contextvars
import functools
import math
import threading
from collections.abc import Callable, Iterator
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from failover.breaker.circuit import PASS, Permit
from failover.classification import Verdict, judge
from failover.errors import DeadlineExceeded, FailoverError, NotFound, RetryBudgetExhausted, Timeout
from failover.events import Event, Hedged, HedgeWon, Retried, RetryRefused
from failover.layers.base import Attempt, Skip, call_provider

if TYPE_CHECKING:
    from failover.execution.executor import Executor
    from failover.execution.lookup import Lookup
    from failover.execution.workers import Workers
    from failover.routing.router import Member, Plan

R = TypeVar("R")


class Raced(Attempt):
    """An attempt of a hedged call, run on a worker thread: its outcome is recorded exactly
    once, by whoever settles first (the attempt finishing, or the race timing it out)."""

    __slots__ = ("_settled", "done", "error", "executor", "hedge", "permit", "result")

    def __init__(self, executor: Executor, permit: Permit, *args: Any, hedge: bool = False) -> None:
        super().__init__(*args)
        self.executor = executor
        self.permit = permit
        self.hedge = hedge  # launched beside a slow attempt still in flight, not after a failure
        self._settled = threading.Lock()
        self.done = False  # the call has returned or raised: ``result`` or ``error`` is set
        self.result: Any = None
        self.error: BaseException | None = None

    def claim(self) -> bool:
        return self._settled.acquire(blocking=False)

    def work(self, run: Callable[[Attempt], Any], context: contextvars.Context, report: SimpleQueue[Raced]) -> None:
        """On a worker: make the attempt in the caller's ``context``, record its outcome,
        then ``report`` it to the race (recorded first, so a caller woken by it sees it)."""
        try:
            self.result = context.run(run, self)
        except BaseException as exc:  # the race judges it; a worker must not die of it
            self.error = exc
        self.done = True
        self.finished()
        report.put(self)

    def finished(self) -> None:
        """Record the real outcome unless a timeout was recorded already."""
        duration = self.executor.clock.monotonic() - self.started
        if not self.claim():
            return
        exc = self.error
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
    threads: Workers,
    operation: str,
    call: Callable[[Member], R],
    candidates: Iterator[tuple[Member, Permit]],
    overall: float,
    lookup: Lookup | None = None,
    skipped: list[str] | None = None,
    left_out: Callable[[], list[str]] | None = None,
) -> R:
    """Race attempts as described in the module docstring; only a success wins early.

    ``skipped`` is filled by ``candidates`` as it passes over open breakers;
    ``left_out()`` names the targets the plan left out, asked only by a call that fails
    or hears a `NotFound`, so a hedged success never pays for it."""
    fresh = lookup.for_call() if lookup is not None else None
    race: _Race[R] = _Race(executor, threads, operation, call, candidates, overall, fresh, skipped, left_out)
    return race.run()


class _Race(Generic[R]):
    """The attempts of one hedged call and what they have said so far."""

    def __init__(
        self,
        executor: Executor,
        threads: Workers,
        operation: str,
        call: Callable[[Member], R],
        candidates: Iterator[tuple[Member, Permit]],
        overall: float,
        lookup: Lookup | None,
        skipped: list[str] | None,
        left_out: Callable[[], list[str]] | None,
    ) -> None:
        config = executor.config
        self.executor = executor
        self.threads = threads
        self.operation = operation
        self.call = call
        self.candidates = candidates
        self.overall = overall
        self.lookup = lookup
        self.attempt_timeout = config.attempt_timeout
        self.hedge_after = _hedge_delay(executor, operation)
        self.in_flight: dict[Raced, None] = {}  # in the order launched
        # Finished attempts, in the order they finish: one queue read wakes the caller.
        self.finished: SimpleQueue[Raced] = SimpleQueue()
        self.errors: list[FailoverError] = []
        # A permanent answer (bad request, not found) waits here while an attempt in
        # flight, or one still allowed, could do better; the earliest launched wins.
        self.answer: tuple[int, FailoverError, BaseException] | None = None
        self.skipped: list[str] = [] if skipped is None else skipped
        self.left_out: Callable[[], list[str]] = list if left_out is None else left_out
        self.launched = 0
        self.drained = False  # every candidate has been launched

    def launch(self) -> bool:
        monotonic = self.executor.clock.monotonic
        for member, permit in self.candidates:
            now = monotonic()
            timeout = self.attempt_timeout
            limit = min(now + timeout, self.overall) if timeout else self.overall
            hedge = bool(self.in_flight)
            attempt = Raced(
                self.executor,
                permit,
                member,
                self.operation,
                self.call,
                now,
                limit,
                monotonic,
                self.launched,
                hedge=hedge,
            )
            if self.launched and self.executor.emit is not None:
                self.announce(self.executor.emit, member.name, now, hedge)
            self.in_flight[attempt] = None
            self.launched += 1
            try:
                _hand_off(self.threads, attempt, self.finished)
            except BaseException:
                del self.in_flight[attempt]
                self.launched -= 1
                raise
            return True
        self.drained = True
        return False

    def adopt(self, attempt: Raced, report: SimpleQueue[Raced]) -> None:
        """Race on from ``attempt``, launched already, which reports on ``report``."""
        self.finished = report
        self.in_flight[attempt] = None
        self.launched += 1

    def run(self) -> R:
        operation, executor = self.operation, self.executor
        more = self.launch() if not self.in_flight else True
        while self.in_flight:
            now = executor.clock.monotonic()
            if now >= self.overall:
                raise DeadlineExceeded(
                    f"{operation}: deadline passed with {len(self.in_flight)} attempt(s) in flight",
                    operation=operation,
                )
            hedge_after = self.hedge_after if more else math.inf
            wake = _next_event(self.in_flight, hedge_after, self.attempt_timeout, self.overall)
            for attempt in self.done(max(0.0, wake - now)):
                if attempt not in self.in_flight:
                    continue  # timed out already: its late outcome was recorded, not awaited
                del self.in_flight[attempt]
                exc = attempt.error
                if exc is None:
                    if attempt.hedge and executor.emit is not None:
                        executor.emit(HedgeWon(attempt.member.name, operation))
                    result: R = attempt.result
                    return result
                more = self.settle(attempt, exc, more)
            if self.time_out_stragglers():
                more = self.reopened(more)
            more = self.maybe_hedge(more)
        if self.answer is not None:
            _, error, cause = self.answer
            raise error from (None if error is cause else cause)
        if self.errors and (self.lookup is None or self.lookup.first is None):
            self.skipped[:0] = self.left_out()
        raise executor.exhausted(operation, self.errors, self.skipped, self.lookup)

    def done(self, timeout: float) -> list[Raced]:
        """The attempts that finish within ``timeout`` seconds (at least one, unless none does)."""
        try:
            done = [self.finished.get(timeout=timeout)]
        except Empty:
            done = []
        while not self.finished.empty():
            done.append(self.finished.get_nowait())
        # Returned, but still recording its outcome before it reports: it is finished
        # all the same, and must not be taken for a straggler.
        done += [attempt for attempt in self.in_flight if attempt.done and attempt not in done]
        return done

    def settle(self, attempt: Raced, exc: BaseException, more: bool) -> bool:
        """Note a failed attempt (recording is the done callback's job); may we launch more?"""
        if isinstance(exc, Skip):  # a layer passed the target by: on to the next, no retry spent
            self.skipped.append(attempt.member.name)
            return self.launch() if more and not self.in_flight else more
        judged = judge(
            exc, target=attempt.member.name, operation=self.operation, classifier=self.executor.config.classifier
        )
        if judged is None or isinstance(judged, Verdict):
            raise exc  # unrecognised, or a foreign answer: the caller's, unchanged
        if judged.fails_over:
            self.errors.append(judged)
            return self.reopened(more)
        if self.lookup is not None and self.lookup.first is None and isinstance(judged, NotFound):
            self.skipped[:0] = self.left_out()  # the lookup's first answer: who was out of reach?
        unreachable = bool(self.errors or self.skipped)
        if self.lookup is not None and self.lookup.goes_on(judged, unreachable):
            if not self.in_flight and more:
                more = self.launch()  # not a retry: the target answered
            return more
        lookups_answer = self.lookup is not None and isinstance(judged, NotFound)
        if not lookups_answer and (self.answer is None or attempt.order < self.answer[0]):
            self.answer = (attempt.order, judged, exc)
        # A permanent answer: no new attempts, only those in flight.  A NotFound from
        # the preferred target stays the lookup's, so that if an attempt in flight then
        # fails, the read goes on (`reopened`) and the answer says who was unreachable.
        return False

    def announce(self, emit: Callable[[Event], None], target: str, now: float, hedge: bool) -> None:
        """Tell listeners about an attempt after the first: a hedge, or a retry."""
        if hedge:
            first = min(self.in_flight, key=lambda a: a.started)
            emit(Hedged(target, self.operation, first.member.name, now - first.started))
        elif self.errors:
            last = self.errors[-1]
            emit(Retried(target, self.operation, last.target or "", last.kind))

    def reopened(self, more: bool) -> bool:
        """After a failure: a NotFound heard so far is no longer authoritative, so ask the rest."""
        if self.lookup is not None and self.lookup.first is not None and self.answer is None:
            return not self.drained
        return more

    def time_out_stragglers(self) -> bool:
        timeout = self.attempt_timeout
        if not timeout:
            return False
        now = self.executor.clock.monotonic()
        timed_out = False
        for attempt in list(self.in_flight):
            if now - attempt.started >= timeout and not attempt.done:
                self.errors.append(attempt.timed_out(timeout))
                del self.in_flight[attempt]
                timed_out = True
        return timed_out

    def maybe_hedge(self, more: bool) -> bool:
        if not more:
            return False
        now = self.executor.clock.monotonic()
        newest = max((a.started for a in self.in_flight), default=-math.inf)
        if self.in_flight and now - newest < self.hedge_after:
            return True
        if self.executor.budget.try_spend():
            return self.launch()
        if self.executor.emit is not None:
            # Refused after the target still in flight (no hedge), or the last that failed.
            after = [a.member.name for a in self.in_flight] or [e.target or "" for e in self.errors]
            self.executor.emit(RetryRefused(after[-1] if after else "", self.operation, hedge=bool(self.in_flight)))
        if not self.in_flight:
            raise RetryBudgetExhausted(
                f"{self.operation}: retry budget exhausted after {len(self.errors)} failed attempt(s)",
                operation=self.operation,
            )
        return False  # no budget for a hedge: wait for what is in flight


def lead_hedged(
    executor: Executor,
    threads: Workers,
    plan: Plan,
    lead: Member,
    started: float,
    overall: float,
    operation: str,
    call: Callable[[Member], R],
    lookup: Lookup | None,
) -> R:
    """A hedged read whose lead (`Plan.leads`) is behind a closed breaker: its attempt goes
    to a worker at once, and the race is set up only if no success came back by the
    time a hedge is due.  Most hedged reads end in that first wait, so the happy path
    costs little more than the hand-off itself; the rest race on exactly as `run_hedged`
    would have, from the lead's attempt in flight."""
    timeout = executor.config.attempt_timeout
    limit = min(started + timeout, overall) if timeout else overall
    monotonic = executor.clock.monotonic
    attempt = Raced(executor, PASS, lead, operation, call, started, limit, monotonic, 0)
    report: SimpleQueue[Raced] = SimpleQueue()
    _hand_off(threads, attempt, report)
    try:
        # Measured from the call's start, which is the attempt's: no clock read here.
        done = report.get(timeout=max(0.0, min(_hedge_delay(executor, operation), limit - started)))
    except Empty:
        done = None
    if done is not None:
        if done.error is None:
            result: R = done.result
            return result
        report.put(done)  # a failure: the race judges it
    members = plan.members
    behind_open: list[str] = []
    rest = executor._candidates(members[members.index(lead) + 1 :], operation, plan.panic, behind_open)
    left_out = functools.partial(executor._left_out, members, frozenset(), operation)
    fresh = lookup.for_call() if lookup is not None else None
    race: _Race[R] = _Race(executor, threads, operation, call, rest, overall, fresh, behind_open, left_out)
    race.adopt(attempt, report)
    return race.run()


def _hand_off(threads: Workers, attempt: Raced, report: SimpleQueue[Raced]) -> None:
    """Start ``attempt`` on a worker, reporting on ``report``; if it cannot start, its
    permit is given back.  The caller's context variables (a trace's current span, a
    request id for logs) go with it.  A caller submits last: the worker cannot start
    before the caller lets go of the GIL, so work left after this delays the attempt."""
    job = functools.partial(attempt.work, attempt.member.stack or call_provider, contextvars.copy_context(), report)
    try:
        threads.submit(job)
    except BaseException:
        attempt.member.breaker.release(attempt.permit)  # never started: give the permit back
        raise


def _hedge_delay(executor: Executor, operation: str) -> float:
    """Seconds after an attempt's start before the next one is launched beside it."""
    config = executor.config
    # Only reads are hedged; other calls here (enforce_timeouts) ask the next target
    # when an attempt times out, never while it may still succeed (a write would land twice).
    hedged = config.hedge_after is not None and operation in executor.hedgeable
    return (config.hedge_after if hedged else None) or config.attempt_timeout or math.inf


def _next_event(
    in_flight: dict[Raced, None], hedge_after: float, attempt_timeout: float | None, overall: float
) -> float:
    """The next moment something must happen: a hedge, an attempt timeout, the deadline."""
    started = [a.started for a in in_flight]
    moments = [overall, max(started) + hedge_after]
    if attempt_timeout:
        moments.append(min(started) + attempt_timeout)
    return min(moments)


__all__ = ["Raced", "lead_hedged", "run_hedged"]
