"""Running one logical call across the targets of a pool.

The cross-target loop, then each target's stack (`failover.layers`), outermost first::

    overall deadline ─ retry on the next target (budgeted) ─ hedging
        ─ guard: breaker permit, error classification, breaker + health record
        ─ the layers of ExecutionConfig(layers=...) (default: the attempt deadline)
        ─ provider call

* An error that fails over (`FailoverError.fails_over`: temporary or persistent) counts
  against the target and the call moves to the next target in the router's plan; a
  permanent one is the answer (`failover.classification` has the whole rule, and the
  hook to change it).  Reads by key pass a `Lookup`: their `NotFound` is the answer
  only when a target that would hold the object said so (`failover.execution.lookup`).
* A breaker permit, once taken, is given back or spent on every path out of an attempt.
* Retries are budgeted (`RetryBudget`): when every target is failing, retries could
  multiply the load on a struggling fleet, so beyond a fraction of calls they stop.
* Operations that are not idempotent are never retried on another target.
* Hedged reads (``hedge_after``) live in `failover.execution.hedging`.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from failover.breaker.circuit import PASS, BreakerState, Permit
from failover.clock import Clock
from failover.errors import FailoverError
from failover.events import Emitter, Retried
from failover.execution.budget import RetryBudget
from failover.execution.config import DEFAULT_LAYERS, ExecutionConfig
from failover.execution.hedging import lead_hedged, run_hedged
from failover.execution.lookup import Lookup
from failover.execution.outcomes import BYPASS, Outcomes
from failover.execution.workers import Workers
from failover.layers.base import Attempt, Skip, compose
from failover.routing.router import Member, Plan, Router

R = TypeVar("R")

_CLOSED = BreakerState.CLOSED
_FORCED_OPEN = BreakerState.FORCED_OPEN

#: A call by name: the arguments of the provider's method named like the operation.
#: The hot reads pass one, so a call that goes straight to its lead makes no closure.
ByName = tuple[Any, ...]


def as_call(operation: str, call: Callable[[Member], R] | ByName) -> Callable[[Member], R]:
    """``call`` as a function of the member (a call by name becomes one)."""
    if not isinstance(call, tuple):
        return call
    args = call
    return lambda member: getattr(member.provider, operation)(*args)


class Executor(Outcomes):
    """Runs calls for one facade: plan, permit, attempt, record, fail over."""

    def __init__(
        self,
        router: Router,
        config: ExecutionConfig,
        clock: Clock,
        hedgeable: frozenset[str] = frozenset(),
        emitter: Emitter | None = None,
    ) -> None:
        self.router = router
        # Hedges, retries and refused retries are told only to listeners that exist:
        # None spares a healthy call even the check of an empty tuple.
        self.emit = emitter.emit if emitter is not None and emitter.listeners else None
        self.hedgeable = hedgeable
        self.config = config
        self.clock = clock
        self.budget = RetryBudget(config.retry_ratio, config.retry_floor_per_second, config.retry_burst, clock)
        self._attempt_timeout = config.attempt_timeout if config.attempt_timeout is not None else math.inf
        self._deadline = config.deadline if config.deadline is not None else math.inf
        self._max_attempts = config.max_attempts or len(router.members)
        self._hedging = config.hedge_after is not None
        self._concurrent = self._hedging or config.enforce_timeouts
        self._threads: Workers | None = None
        self._threads_lock = threading.Lock()
        self._monotonic = clock.monotonic
        self._record_call = self.budget.record_call
        # Each target's stack of layers, built once (None: no layer takes part for it).
        for member in router.members:
            member.stack = compose(config.layers, member)

    def run(
        self,
        operation: str,
        call: Callable[[Member], R] | ByName,
        lookup: Lookup | None = None,
        *,
        idempotent: bool = True,
        exclude: frozenset[str] = frozenset(),
    ) -> R:
        """Call ``call(member)`` on the best target, then the next ones on errors that fail over.

        Reads (the router's ``hedgeable`` operations) are hedged when ``hedge_after`` is set.
        Targets named in ``exclude`` are skipped (a resumed listing avoids the one
        that just failed it).  A read by key passes a `Lookup` (see `failover.execution.lookup`),
        by position on the hot path: a call with keywords costs more.  ``call`` may
        also be a call by name (`ByName`): the arguments of the provider method named
        ``operation``.
        """
        started = self._monotonic()
        self._record_call()
        plan = self.router.current(started)
        if self._hedging and not exclude and operation in self.hedgeable:
            lead = plan.leads.get(operation)
            if lead is not None and lead.breaker.state is _CLOSED:
                overall = started + self._deadline
                hedged = as_call(operation, call)
                return lead_hedged(self, self._thread_pool(), plan, lead, started, overall, operation, hedged, lookup)
        return self._planned(plan, started, operation, as_call(operation, call), idempotent, exclude, lookup)

    def run_lead_first(
        self,
        operation: str,
        call: Callable[[Member], R] | ByName,
        lookup: Lookup | None = None,
        *,
        idempotent: bool = True,
        exclude: frozenset[str] = frozenset(),
    ) -> R:
        """`run` for an executor that neither hedges nor enforces timeouts, with a fast lane.

        Most calls go to the plan's lead for their operation (`Plan.leads`), behind a
        closed breaker, and succeed there.  Such a call is made here straight away, through
        the lead's stack of layers, recording only what `run` would record for it; anything
        else (an exclusion, a lead that is not closed, a failure, a layer passing the lead
        by) goes the general way, from where the lane left off.
        """
        monotonic = self._monotonic
        started = monotonic()
        self._record_call()
        router = self.router
        plan = router.cached
        if plan.epoch != router.epoch or started >= plan.valid_until:
            plan = router.replan(started)
        lead = plan.leads.get(operation)
        if lead is None or exclude or lead.breaker.state is not _CLOSED:
            return self._planned(plan, started, operation, as_call(operation, call), idempotent, exclude, lookup)
        stack = lead.stack
        errors: list[FailoverError] | None
        skipped: list[str] | None
        result: R
        try:
            if stack is not None:
                overall = started + self._deadline
                end = started + self._attempt_timeout
                deadline = end if end < overall else overall
                result = stack(Attempt(lead, operation, as_call(operation, call), started, deadline, monotonic, 0))
            elif isinstance(call, tuple):
                result = getattr(lead.provider, operation)(*call)
            else:
                result = call(lead)
        except Skip:
            lead.breaker.release(PASS)  # passed by, not tried: nothing to record
            errors, skipped, tried = None, [lead.name], 0
        except Exception as exc:
            tried = 1
            lookup, errors, skipped = self._failed(
                lead, PASS, operation, exc, started, plan.members, exclude, lookup, None, None
            )
        except BaseException:
            lead.breaker.release(PASS)
            raise
        else:
            ended = monotonic()
            duration = ended - started
            breaker = lead.breaker
            if breaker.count_success is not None and not breaker.consecutive_failures:
                breaker.count_success()  # `CircuitBreaker.on_success`, inlined: no failure streak to end
            else:
                breaker.on_success(PASS, duration)
            # `TargetHealth.record_success`, inlined: its steps, without its frame.
            health = lead.health
            if ended >= health.window.next_mark:
                health.window.tick()
            health.count_call()
            health.note_success(duration)
            return result
        # On from the members after the lead: those before it cannot take the call.
        members = plan.members
        rest = iter(members[members.index(lead) + 1 :])
        overall = started + self._deadline
        general = as_call(operation, call)
        return self._attempts(
            operation, general, members, rest, False, overall, idempotent, exclude, lookup, errors, skipped, tried
        )

    def _planned(
        self,
        plan: Plan,
        started: float,
        operation: str,
        call: Callable[[Member], R],
        idempotent: bool,
        exclude: frozenset[str],
        lookup: Lookup | None,
    ) -> R:
        """The call over ``plan``'s members: hedged, raced against its timeout, or in turn."""
        members = self.router.reorder(plan.members) if self.router.shuffles else plan.members
        panic = plan.panic
        if exclude:
            members, panic = self._without(members, exclude, panic)
        overall = started + self._deadline
        if self._concurrent and (
            (self._hedging and operation in self.hedgeable) or (idempotent and self.config.enforce_timeouts)
        ):
            behind_open: list[str] = []
            candidates = self._candidates(members, operation, panic, behind_open)
            left_out = functools.partial(self._left_out, members, exclude, operation)
            return run_hedged(
                self, self._thread_pool(), operation, call, candidates, overall, lookup, behind_open, left_out
            )
        return self._attempts(
            operation, call, members, iter(members), panic, overall, idempotent, exclude, lookup, None, None, 0
        )

    def _attempts(
        self,
        operation: str,
        call: Callable[[Member], R],
        members: tuple[Member, ...],
        remaining: Iterator[Member],
        panic: bool,
        overall: float,
        idempotent: bool,
        exclude: frozenset[str],
        lookup: Lookup | None,
        errors: list[FailoverError] | None,  # allocated on the first failure only
        skipped: list[str] | None,  # behind an open breaker, or passed by a layer
        tried: int,  # attempts made so far: the next one's `Attempt.order`
    ) -> R:
        """Try the ``remaining`` members of ``members`` in turn until one answers."""
        monotonic = self._monotonic
        for member in remaining:
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
                    self._check_retry(operation, errors, idempotent, overall, skipped)
                except BaseException:
                    breaker.release(permit)  # taken for an attempt that will not be made
                    raise
                if self.emit is not None:
                    last = errors[-1]
                    self.emit(Retried(member.name, operation, last.target or "", last.kind))
            attempt_start = monotonic()
            stack = member.stack
            try:
                if stack is None:
                    result = call(member)
                else:
                    end = attempt_start + self._attempt_timeout
                    deadline = end if end < overall else overall
                    result = stack(Attempt(member, operation, call, attempt_start, deadline, monotonic, tried))
            except Skip:
                breaker.release(permit)  # passed by, not tried: nothing to record
                skipped = [member.name] if skipped is None else [*skipped, member.name]
                continue
            except Exception as exc:
                tried += 1
                lookup, errors, skipped = self._failed(
                    member, permit, operation, exc, attempt_start, members, exclude, lookup, errors, skipped
                )
                continue
            except BaseException:
                member.breaker.release(permit)
                raise
            ended = monotonic()
            duration = ended - attempt_start
            if permit is PASS and breaker.count_success is not None and not breaker.consecutive_failures:
                breaker.count_success()  # `CircuitBreaker.on_success`, inlined: no failure streak to end
            elif permit is not BYPASS:
                breaker.on_success(permit, duration)
            member.health.record_success(duration, ended)
            return result
        if errors and (lookup is None or lookup.first is None):
            skipped = self._left_out(members, exclude, operation) + (skipped or [])
        raise self.exhausted(operation, errors or [], skipped or (), lookup, alone=len(members) == 1)

    def _failed(
        self,
        member: Member,
        permit: Permit,
        operation: str,
        exc: Exception,
        attempt_start: float,
        members: tuple[Member, ...],
        exclude: frozenset[str],
        lookup: Lookup | None,
        errors: list[FailoverError] | None,
        skipped: list[str] | None,
    ) -> tuple[Lookup | None, list[FailoverError] | None, list[str] | None]:
        """Record the attempt that raised ``exc`` (being handled); raise when it is the
        call's answer, else return the ``lookup``, ``errors`` and ``skipped`` to go on with."""
        error = self.record_error(member, permit, operation, exc, self._monotonic() - attempt_start)
        if error is None:
            raise exc
        if not error.fails_over:
            if lookup is not None and lookup.first is None:
                # The first answer of a lookup: were more preferred targets out of reach?
                lookup = lookup.for_call()
                skipped = self._left_out(members, exclude, operation) + (skipped or [])
            if lookup is not None and lookup.goes_on(error, bool(errors or skipped)):
                return lookup, errors, skipped
            raise error from (None if error is exc else exc)
        return lookup, [error] if errors is None else [*errors, error], skipped

    def _without(
        self, members: tuple[Member, ...], exclude: frozenset[str], panic: bool
    ) -> tuple[tuple[Member, ...], bool]:
        """The plan less ``exclude``; if that leaves nothing, every other target, in panic.

        A read that must avoid the targets still owing a key may find the only holders
        behind open breakers: trying them beats failing with nothing, as in panic mode.
        A target an operator forced open is never tried: when only such targets are
        left (a call pinned to one), the call gets its breaker's `CircuitOpen`.
        """
        kept = tuple(m for m in members if m.name not in exclude)
        if kept:
            return kept, panic
        others = [m for m in self.router.members if m.name not in exclude]
        usable = tuple(m for m in others if m.breaker.state is not _FORCED_OPEN)
        if others and not usable:
            raise others[0].breaker.rejection()
        return usable, True

    def _left_out(self, members: tuple[Member, ...], exclude: frozenset[str], operation: str) -> list[str]:
        """Targets that could take ``operation`` but are not in this call's plan (unhealthy,
        breaker open or forced open).  Only failed calls ask, so the cost is theirs."""
        return [
            m.name
            for m in self.router.members
            if m not in members and m.name not in exclude and operation in m.operations
        ]

    def _candidates(
        self, members: tuple[Member, ...], operation: str, panic: bool, skipped: list[str]
    ) -> Iterator[tuple[Member, Permit]]:
        """Members that can take the call, each with its permit, taken as they are reached;
        those behind an open breaker are added to ``skipped``."""
        for member in members:
            if operation not in member.operations:
                continue
            permit = member.breaker.try_acquire()
            if permit is None:
                if not panic:
                    skipped.append(member.name)
                    continue
                permit = BYPASS
            yield member, permit

    def _thread_pool(self) -> Workers:
        with self._threads_lock:
            if self._threads is None:
                # Attempts to a blackholed target hold a thread until they time out,
                # so the pool must outlast a burst of them; threads start on demand.
                workers = max(64, 8 * len(self.router.members))
                self._threads = Workers(workers, "failover-attempt")
            return self._threads

    def close(self) -> None:
        """Stop the worker threads of hedged calls; abandoned attempts finish on their own."""
        with self._threads_lock:
            if self._threads is not None:
                self._threads.close()
                self._threads = None


__all__ = ["BYPASS", "DEFAULT_LAYERS", "ByName", "ExecutionConfig", "Executor", "as_call"]
