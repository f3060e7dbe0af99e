"""Events: what the library tells the application about state changes.

A listener is any object with ``on_event(event)``; `LoggingListener` writes each event
to the ``failover`` logger, once, at the event's ``level``.  Listeners run on the
thread that caused the event, after every lock is released, and an exception from a
listener is logged, never raised into the call that triggered it.

A replicated write holds its events back until it has let go of the key it writes
(`held_back`), so a listener may write through the facade itself.

Every event names its ``target`` and carries ``at``, the wall-clock time it happened
(``time.time()``: for logs, dashboards and timelines; no decision of the library reads
it).  ``str(event)`` is a one-line description; `LoggingListener` redacts credentials
from it (`failover.redact`).

State changes (a breaker opening, a failover, a quarantined repair) are logged at INFO
and above.  What happens on individual calls (a hedge, a retry, a retry refused by the
budget) is logged at DEBUG: during an outage it happens on every call, and metrics
count it better than logs do.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from failover.redact import redact

logger = logging.getLogger("failover")


def _now() -> float:
    return time.time()


def _stamp() -> Any:
    """The ``at`` field: stamped at creation, ignored by equality (two events saying the
    same thing compare equal).  A fresh field per class: dataclasses fill fields in."""
    return field(default_factory=_now, compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class BreakerTransition:
    target: str
    old: str
    new: str
    reason: str
    at: float = _stamp()

    @property
    def level(self) -> int:
        return logging.WARNING if self.new in ("open", "forced_open") else logging.INFO

    def __str__(self) -> str:
        return f"breaker {self.target}: {self.old} -> {self.new} ({self.reason})"


@dataclass(frozen=True, slots=True)
class HealthChanged:
    target: str
    healthy: bool
    reason: str
    at: float = _stamp()

    @property
    def level(self) -> int:
        return logging.INFO if self.healthy else logging.WARNING

    def __str__(self) -> str:
        return f"target {self.target} is {'healthy' if self.healthy else 'unhealthy'} ({self.reason})"


@dataclass(frozen=True, slots=True)
class FailedOver:
    """Traffic left its preferred target ``from_target`` for ``target``."""

    from_target: str
    target: str
    reason: str
    at: float = _stamp()

    level = logging.WARNING

    @property
    def to_target(self) -> str:
        return self.target

    def __str__(self) -> str:
        return f"traffic failed over from {self.from_target} to {self.target} ({self.reason})"


@dataclass(frozen=True, slots=True)
class FailedBack:
    """Traffic returned to a better target it had left ``away_seconds`` before."""

    target: str
    away_seconds: float
    at: float = _stamp()

    level = logging.INFO

    def __str__(self) -> str:
        return f"traffic failed back to {self.target} after {self.away_seconds:.1f}s away"


@dataclass(frozen=True, slots=True)
class PanicMode:
    """Every target looks down (``entered``), so calls try all of them; or one is up again.
    ``target`` is ``"*"``: the event concerns every target of the facade."""

    entered: bool
    target: str = "*"
    at: float = _stamp()

    @property
    def level(self) -> int:
        return logging.ERROR if self.entered else logging.INFO

    def __str__(self) -> str:
        if self.entered:
            return "panic mode entered: every target looks down, trying all of them"
        return "panic mode left: a target is up again, routing as usual"


@dataclass(frozen=True, slots=True)
class Hedged:
    """A read on ``after`` was slow, so ``target`` was asked too (``waited`` seconds in)."""

    target: str
    operation: str
    after: str
    waited: float
    at: float = _stamp()

    level = logging.DEBUG

    def __str__(self) -> str:
        return f"{self.operation}: hedged on {self.target} after {self.waited * 1000:.0f} ms on {self.after}"


@dataclass(frozen=True, slots=True)
class HedgeWon:
    """A hedge (not the call's first attempt) returned the answer of ``operation``."""

    target: str
    operation: str
    at: float = _stamp()

    level = logging.DEBUG

    def __str__(self) -> str:
        return f"{self.operation}: the hedge on {self.target} answered first"


@dataclass(frozen=True, slots=True)
class Retried:
    """``operation`` failed on ``after`` (an error of ``kind``) and is tried on ``target``."""

    target: str
    operation: str
    after: str
    kind: str
    at: float = _stamp()

    level = logging.DEBUG

    def __str__(self) -> str:
        return f"{self.operation}: retrying on {self.target} after {self.kind} on {self.after}"


@dataclass(frozen=True, slots=True)
class RetryRefused:
    """The retry budget refused to retry ``operation`` after it failed on ``target``, or,
    with ``hedge``, refused a hedge beside the slow attempt on ``target`` (which goes on)."""

    target: str
    operation: str
    hedge: bool = False
    at: float = _stamp()

    level = logging.DEBUG

    def __str__(self) -> str:
        if self.hedge:
            return f"{self.operation}: retry budget exhausted, no hedge beside {self.target}"
        return f"{self.operation}: retry budget exhausted, not retrying after {self.target}"


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
    at: float = _stamp()

    level = logging.ERROR

    def __str__(self) -> str:
        return f"repair of {self.key!r} on {self.target} quarantined ({self.op} {self.version}): {self.error}"


@dataclass(frozen=True, slots=True)
class BacklogChanged:
    """``target`` fell behind (``rows`` writes owed to it while it is down) or caught up
    (``rows == 0``: every write owed to it is repaired)."""

    target: str
    rows: int
    at: float = _stamp()

    @property
    def level(self) -> int:
        return logging.WARNING if self.rows else logging.INFO

    def __str__(self) -> str:
        if self.rows:
            return f"{self.target} is down and owes {self.rows} write(s); they wait in the repair journal"
        return f"{self.target} caught up: every write it owed is repaired"


@dataclass(frozen=True, slots=True)
class DnsPublished:
    """``record`` (name and type) now answers ``values`` on DNS provider ``target``."""

    target: str
    record: str
    values: tuple[str, ...]
    at: float = _stamp()

    level = logging.INFO

    def __str__(self) -> str:
        return f"dns {self.record} -> {','.join(self.values)} on {self.target}"


Event = (
    BreakerTransition
    | HealthChanged
    | FailedOver
    | FailedBack
    | PanicMode
    | Hedged
    | HedgeWon
    | Retried
    | RetryRefused
    | RepairQuarantined
    | BacklogChanged
    | DnsPublished
)


class Listener(Protocol):
    def on_event(self, event: Event) -> None: ...


class LoggingListener:
    """Logs each event once, at its ``level``, with its fields in ``extra=``.

    The record's ``failover_event`` is the event's type name, ``failover_target`` its
    target and ``failover_fields`` a dict of its other fields (strings redacted), so a
    structured log handler can index them.  Events of other components (standby pools)
    follow the same convention; one without a ``level`` is logged at INFO.
    """

    def __init__(self, log: logging.Logger = logger) -> None:
        self._log = log

    def on_event(self, event: object) -> None:
        level = getattr(event, "level", logging.INFO)
        if not self._log.isEnabledFor(level):
            return
        extra = {
            "failover_event": type(event).__name__,
            "failover_target": getattr(event, "target", ""),
            "failover_fields": _fields(event),
        }
        self._log.log(level, "%s", redact(str(event)), extra=extra)


def _fields(event: object) -> dict[str, Any]:
    if not dataclasses.is_dataclass(event):
        return {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        out[f.name] = redact(value) if isinstance(value, str) else value
    return out


class Emitter:
    """Delivers events to a fixed set of listeners, shielding the caller from their errors.

    Inside `held_back` (a write holding a key's lock, say) events wait until the block
    ends, so that a listener may call back into the library without deadlocking on it."""

    __slots__ = ("listeners",)

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self.listeners: tuple[Listener, ...] = tuple(listeners)

    def emit(self, event: Event) -> None:
        waiting = _HELD_BACK.get()
        if waiting is not None and waiting.hold(self, event):
            return
        self.deliver(event)

    def deliver(self, event: Event) -> None:
        for listener in self.listeners:
            try:
                listener.on_event(event)
            except Exception:  # a broken listener must not break traffic
                logger.exception("listener %r failed on %s", listener, redact(repr(event)))


class _HeldBack:
    """Events emitted inside one `held_back` block, delivered when it ends.  A late one
    (from a worker thread that outlived the block with a copy of its context) is
    delivered at once: nothing is held for a block that is over."""

    def __init__(self) -> None:
        self._events: list[tuple[Emitter, Event]] = []
        self._open = True
        self._lock = threading.Lock()

    def hold(self, emitter: Emitter, event: Event) -> bool:
        with self._lock:
            if self._open:
                self._events.append((emitter, event))
            return self._open

    def release(self) -> None:
        with self._lock:
            self._open = False
            events, self._events = self._events, []
        for emitter, event in events:
            emitter.deliver(event)


# The held-back block of the current context, if any: a context variable, like the
# attempt deadline (`failover.deadline`), so that each call and thread has its own.
_HELD_BACK: contextvars.ContextVar[_HeldBack | None] = contextvars.ContextVar("failover_held_back", default=None)


@contextlib.contextmanager
def held_back() -> Iterator[None]:
    """Hold back the events emitted inside the block until it ends (nested: the outermost)."""
    if _HELD_BACK.get() is not None:
        yield
        return
    waiting = _HeldBack()
    token = _HELD_BACK.set(waiting)
    try:
        yield
    finally:
        _HELD_BACK.reset(token)
        waiting.release()


__all__ = [
    "BacklogChanged",
    "BreakerTransition",
    "DnsPublished",
    "Emitter",
    "Event",
    "FailedBack",
    "FailedOver",
    "HealthChanged",
    "HedgeWon",
    "Hedged",
    "Listener",
    "LoggingListener",
    "PanicMode",
    "RepairQuarantined",
    "Retried",
    "RetryRefused",
    "held_back",
]
