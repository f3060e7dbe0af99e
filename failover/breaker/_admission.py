"""What a breaker answers a call that asks to go through: a `Permit` when it lets the call
through (the one shared `PASS` while closed, a trial permit of its own while half-open), or,
when it rejects the call, the `CircuitOpen` error saying which breaker, in what state since
when, and how long until a trial call.  They stand apart from `failover.breaker.circuit`
because they hold no breaker state: the execution layer passes permits around without a
breaker at hand, and the error is only written when a call is turned away, never on the
path of one that goes through.
"""

from __future__ import annotations

from failover.breaker.config import BreakerState
from failover.errors import CircuitOpen


class Permit:
    """Proof that a call was let through; trial permits remember when they were taken."""

    __slots__ = ("taken_at", "trial")

    def __init__(self, trial: bool, taken_at: float) -> None:
        self.trial = trial
        self.taken_at = taken_at


# Closed-state calls all share one permit: no allocation on the hot path.
PASS = Permit(trial=False, taken_at=0.0)


def rejection_error(
    name: str,
    state: BreakerState,
    reason: str,
    last_failure: str | None,
    *,
    since: float,
    retry_in: float,
    operation: str | None,
) -> CircuitOpen:
    """The error for a call that breaker ``name`` rejected, in ``state`` for ``since`` seconds."""
    if state is BreakerState.FORCED_OPEN:
        # No trial call will come: only an operator closes it.
        message = f"circuit {name} is forced_open (for {since:.1f}s, until reset: {reason})"
    else:
        last = f"; last failure: {last_failure}" if last_failure else ""
        message = f"circuit {name} is {state.value} (for {since:.1f}s, retry in {retry_in:.1f}s{last})"
    return CircuitOpen(message, target=name, operation=operation, retry_in=retry_in)


__all__ = ["PASS", "Permit", "rejection_error"]
