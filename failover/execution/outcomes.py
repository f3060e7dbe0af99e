"""What an executor makes of each attempt's outcome, and of a call with no target left.

Shared by the sync `Executor` and the async one: the breaker and health records, the
rules for a retry (idempotency, attempts, deadline, budget), and the error a call ends
with when every target failed or none could be tried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from failover.breaker.circuit import Permit
from failover.classification import Verdict, judge
from failover.clock import Clock
from failover.errors import AllTargetsFailed, DeadlineExceeded, FailoverError, RetryBudgetExhausted, Unsupported
from failover.events import Event, RetryRefused
from failover.execution.budget import RetryBudget
from failover.execution.config import ExecutionConfig
from failover.execution.lookup import Lookup
from failover.routing.router import Member, Router

# In panic mode calls bypass breakers; this permit makes the breaker ignore the outcome.
BYPASS = Permit(trial=False, taken_at=0.0)


class Outcomes:
    """The records and verdicts of an executor (see the module docstring)."""

    router: Router
    config: ExecutionConfig
    clock: Clock
    budget: RetryBudget
    emit: Callable[[Event], None] | None
    _max_attempts: int

    def _check_retry(
        self,
        operation: str,
        errors: list[FailoverError],
        idempotent: bool,
        overall: float,
        skipped: list[str] | None = None,
    ) -> None:
        last = errors[-1]
        if not idempotent:
            raise last
        if len(errors) >= self._max_attempts:
            raise self.exhausted(operation, errors, skipped or ())
        if self.clock.monotonic() >= overall:
            raise DeadlineExceeded(
                f"{operation}: deadline of {self.config.deadline}s passed after {len(errors)} attempt(s)",
                operation=operation,
            ) from last
        if not self.budget.try_spend():
            if self.emit is not None:
                self.emit(RetryRefused(last.target or "", operation))
            raise RetryBudgetExhausted(
                f"{operation}: retry budget exhausted ({self.budget.ratio:.0%} of calls); "
                f"not retrying after {last.target}: {last.kind}",
                target=last.target,
                operation=operation,
            ) from last

    def record_error(
        self, member: Member, permit: Permit, operation: str, exc: Exception, duration: float
    ) -> FailoverError | None:
        """Record a failed attempt; return it as a `FailoverError`, or None when the caller
        must re-raise ``exc`` unchanged (an unrecognised exception, or a foreign answer)."""
        judged = judge(exc, target=member.name, operation=operation, classifier=self.config.classifier)
        if judged is None:
            # Not a provider failure we understand: a bug, which the caller re-raises.
            member.breaker.release(permit)
            return None
        if isinstance(judged, Verdict) or not judged.fails_over:
            # The target answered (not found, a bad request...): it is alive.
            self.record_success(member, permit, duration)
            return None if isinstance(judged, Verdict) else judged
        self.record_failure(member, permit, judged, duration)
        return judged

    def record_failure(self, member: Member, permit: Permit, error: FailoverError, duration: float) -> None:
        if permit is not BYPASS:
            member.breaker.on_failure(permit, duration, error.kind)
        member.health.record_failure(error.kind)

    def record_success(self, member: Member, permit: Permit, duration: float) -> None:
        if permit is not BYPASS:
            member.breaker.on_success(permit, duration)
        member.health.record_success(duration)

    def report_failure(self, member: Member, operation: str, exc: Exception) -> FailoverError:
        """Record an error raised after ``run`` returned (a lazy listing failing midway)."""
        permit = member.breaker.try_acquire() or BYPASS
        error = self.record_error(member, permit, operation, exc, 0.0)
        if error is None:
            raise exc
        return error

    def exhausted(
        self,
        operation: str,
        errors: list[FailoverError],
        skipped: Sequence[str] = (),
        lookup: Lookup | None = None,
        *,
        alone: bool = False,
    ) -> FailoverError:
        """The call's error once no target is left to try.  A call that only one target
        could take (``alone``: a call pinned to it) gets that target's own error."""
        if lookup is not None:
            answer = lookup.answer(operation, errors, skipped)
            if answer is not None:
                return answer
        if not errors:
            supported = any(operation in m.operations for m in self.router.members)
            if not supported:
                return Unsupported(f"no target supports {operation}", operation=operation)
            return AllTargetsFailed(
                f"{operation}: no target was eligible (each was excluded or its breaker rejected the call)",
                operation=operation,
                skipped=skipped,
            )
        if len(errors) == 1 and not skipped and (alone or len(self.router.members) == 1):
            return errors[0]
        return AllTargetsFailed(
            f"{operation}: all {len(errors)} attempted target(s) failed",
            operation=operation,
            attempts=errors,
            skipped=skipped,
        )


__all__ = ["BYPASS", "Outcomes"]
