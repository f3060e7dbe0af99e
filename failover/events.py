"""Events: what the library tells the application about state changes.

A listener is any object with ``on_event(event)``; `LoggingListener` writes each event
to the ``failover`` logger.  Listeners run on the thread that caused the event, after
every lock is released, and an exception from a listener is logged, never raised into
the call that triggered it.  `LoggingListener` redacts credentials from what it writes
(`failover.redact`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from failover.redact import redact

logger = logging.getLogger("failover")


@dataclass(frozen=True, slots=True)
class BreakerTransition:
    target: str
    old: str
    new: str
    reason: str


@dataclass(frozen=True, slots=True)
class HealthChanged:
    target: str
    healthy: bool
    reason: str


@dataclass(frozen=True, slots=True)
class FailedOver:
    """Traffic left its preferred target for another one."""

    from_target: str
    to_target: str
    reason: str


@dataclass(frozen=True, slots=True)
class FailedBack:
    """Traffic returned to a better target it had left ``away_seconds`` before."""

    target: str
    away_seconds: float


@dataclass(frozen=True, slots=True)
class PanicMode:
    entered: bool


@dataclass(frozen=True, slots=True)
class RepairQuarantined:
    """``target`` refused the repair of ``key`` at ``version`` permanently (a bad request,
    invalid input): the row stays owed but is no longer retried.  A newer write of the
    key is tried afresh."""

    target: str
    key: str
    version: str
    op: str
    error: str

    def __str__(self) -> str:
        return f"repair of {self.key!r} on {self.target} quarantined ({self.op} {self.version}): {self.error}"


Event = BreakerTransition | HealthChanged | FailedOver | FailedBack | PanicMode | RepairQuarantined


class Listener(Protocol):
    def on_event(self, event: Event) -> None: ...


class LoggingListener:
    """Logs transitions at WARNING (something broke) or INFO (something recovered)."""

    def __init__(self, log: logging.Logger = logger) -> None:
        self._log = log

    def on_event(self, event: object) -> None:
        if isinstance(event, BreakerTransition):
            level = logging.WARNING if event.new == "open" else logging.INFO
            self._log.log(
                level, "breaker %s: %s -> %s (%s)", event.target, event.old, event.new, redact(event.reason)
            )
        elif isinstance(event, HealthChanged):
            level = logging.INFO if event.healthy else logging.WARNING
            state = "healthy" if event.healthy else "unhealthy"
            self._log.log(level, "target %s is %s (%s)", event.target, state, redact(event.reason))
        elif isinstance(event, FailedOver):
            self._log.warning(
                "traffic failed over from %s to %s (%s)", event.from_target, event.to_target, redact(event.reason)
            )
        elif isinstance(event, FailedBack):
            self._log.info("traffic failed back to %s after %.1fs away", event.target, event.away_seconds)
        elif isinstance(event, PanicMode):
            if event.entered:
                self._log.error("panic mode entered: every target looks down, trying all of them")
            else:
                self._log.info("panic mode left: a target is up again, routing as usual")
        else:  # events of other components (standby pools...) describe themselves
            self._log.info("%s", redact(str(event)))


class Emitter:
    """Delivers events to a fixed set of listeners, shielding the caller from their errors."""

    __slots__ = ("listeners",)

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self.listeners: tuple[Listener, ...] = tuple(listeners)

    def emit(self, event: Event) -> None:
        for listener in self.listeners:
            try:
                listener.on_event(event)
            except Exception:  # a broken listener must not break traffic
                logger.exception("listener %r failed on %s", listener, redact(repr(event)))


__all__ = [
    "BreakerTransition",
    "Emitter",
    "Event",
    "FailedBack",
    "FailedOver",
    "HealthChanged",
    "Listener",
    "LoggingListener",
    "PanicMode",
    "RepairQuarantined",
]
