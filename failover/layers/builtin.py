"""The layers the library provides: the attempt deadline and an observer hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from failover.deadline import DEADLINE, Deadline
from failover.errors import ConfigError
from failover.layers.base import Attempt, Invoke

if TYPE_CHECKING:
    from failover.routing.router import Member

_set_deadline = DEADLINE.set
_reset_deadline = DEADLINE.reset


class AttemptTimeout:
    """Publishes the attempt's deadline (`failover.deadline`) to a provider that reads it
    (``reads_deadline = True``: the cloud adapters cut their SDK timeouts to it, the chaos
    provider's blackhole waits exactly until it).  Left out for other providers."""

    def wrap(self, member: Member, inner: Invoke) -> Invoke | None:
        if not member.reads_deadline:
            return None

        def invoke(attempt: Attempt) -> Any:
            token = _set_deadline(Deadline(attempt.deadline, attempt.now))
            try:
                return inner(attempt)
            finally:
                _reset_deadline(token)

        return invoke

    def __repr__(self) -> str:
        return "AttemptTimeout()"


class Observe:
    """Tells ``hook(attempt, seconds, error)`` about every attempt once it is over: the
    seam for metrics and traces.  ``error`` is the exception the attempt raised, or
    None.  A hook that raises is a bug in the hook: its exception propagates."""

    def __init__(self, hook: Callable[[Attempt, float, BaseException | None], None]) -> None:
        if not callable(hook):
            raise ConfigError(f"Observe(hook): hook must be callable, not {hook!r}")
        self.hook = hook

    def wrap(self, member: Member, inner: Invoke) -> Invoke:
        hook = self.hook

        def invoke(attempt: Attempt) -> Any:
            now = attempt.now
            began = now()
            try:
                result = inner(attempt)
            except BaseException as exc:
                hook(attempt, now() - began, exc)
                raise
            hook(attempt, now() - began, None)
            return result

        return invoke

    def __repr__(self) -> str:
        return f"Observe({self.hook!r})"


__all__ = ["AttemptTimeout", "Observe"]
