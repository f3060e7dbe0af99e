"""Layers: what runs around one attempt on one target, in a documented order you can change.

Each target gets a stack, outermost first::

    guard            breaker permit, then the outcome recorded in breaker and health, and
                     the error classified (`failover.classification`); fixed and outermost,
                     since a permit must bracket everything below it
    ...layers        ExecutionConfig(layers=...), outermost first; the default is
                     (AttemptTimeout(),)
    provider         the adapter itself, which may be a provider-shaped wrapper such as
                     failover.providers.chaos.ChaosProvider (fault injection)

around which the cross-target loop (`failover.execution`) routes, retries on another
target within the retry budget and the call's deadline, and hedges.

A layer is any object with ``wrap(member, inner) -> Invoke | None``: it is asked once
per target, when the facade is built, and returns the function that runs an `Attempt`
by calling ``inner(attempt)`` (or not), or None when it has nothing to do for that
target, which leaves it out of the stack at no cost per call.  A layer may raise any
`failover.errors.FailoverError`, which counts as the target's own outcome, or `Skip`,
which moves the call to the next target without counting against this one (a rate
limiter or bulkhead that is full)::

    class ConcurrencyLimit:
        def __init__(self, limit: int) -> None:
            self.limit = limit

        def wrap(self, member, inner):
            slots = threading.BoundedSemaphore(self.limit)

            def invoke(attempt):
                if not slots.acquire(blocking=False):
                    raise Skip(f"{attempt.member.name}: {self.limit} calls in flight")
                try:
                    return inner(attempt)
                finally:
                    slots.release()

            return invoke

    FailoverStorage(targets, execution=ExecutionConfig(layers=(ConcurrencyLimit(32), AttemptTimeout())))

Telemetry attaches in one piece as an *instrument* (``FailoverStorage(targets,
instruments=[...])``, see `check_instruments`): an object with any of ``wrap`` (a layer,
put outermost, above ``ExecutionConfig.layers``, so it sees whole attempts),
``wrap_call`` (a `CallLayer` around each facade call: a trace's span), ``on_event``
(a listener: counters of failovers) and ``attach(facade)`` (read the facade's status
when scraped).  Without instruments a call pays nothing for them.
"""

from failover.layers.base import Attempt, CallLayer, Invoke, Layer, Skip, check_instruments, compose
from failover.layers.builtin import AttemptTimeout, Observe

__all__ = [
    "Attempt",
    "AttemptTimeout",
    "CallLayer",
    "Invoke",
    "Layer",
    "Observe",
    "Skip",
    "check_instruments",
    "compose",
]
