"""What the dashboard shows, as plain JSON-able data: each facade's targets read from
``facade.status()`` (and the replication journal's backlog), and the recent events.

Everything here is read when a page or the API asks, never on a call's path: the only
work the dashboard adds to traffic is appending an event to a bounded ring when one is
emitted.  Text that may carry an error message is redacted (`failover.redact`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from failover.redact import redact
from failover.replication.versioning import timestamp_of

# Per-call events (hedges, retries, refused retries) are DEBUG: during an outage there is
# one per call, and they would push the state changes out of the ring within a second.
EVENT_LEVEL = logging.INFO


class EventRing:
    """The last ``size`` events at INFO and above, oldest first; safe to append from any
    thread (listeners run on the thread that caused the event)."""

    def __init__(self, size: int) -> None:
        self._events: deque[Any] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, event: object) -> None:
        if getattr(event, "level", logging.INFO) < EVENT_LEVEL:
            return
        with self._lock:
            self._events.append(event)

    def rows(self, now: float) -> list[dict[str, Any]]:
        """The events newest first, each with its wall time ``at`` and ``age`` at ``now``."""
        with self._lock:
            events = list(self._events)
        return [event_row(event, now) for event in reversed(events)]


def event_row(event: object, now: float) -> dict[str, Any]:
    at = getattr(event, "at", None)
    level = getattr(event, "level", logging.INFO)
    return {
        "type": type(event).__name__,
        "target": str(getattr(event, "target", "")),
        "level": logging.getLevelName(level).lower() if isinstance(level, int) else "info",
        "at": at,
        "age": None if not isinstance(at, (int, float)) else max(0.0, now - at),
        "text": redact(str(event)),
    }


def facade_view(name: str, facade: Any, now_ns: int) -> dict[str, Any]:
    """One facade: its kind, panic, quarantined repairs, and a row per target."""
    status = facade.status()
    replication = getattr(facade, "replication", None)
    owed = replication.journal.backlog() if replication is not None else None
    return {
        "name": name,
        "kind": str(getattr(facade, "kind", name)),
        "panic": status.panic,
        "quarantined": status.quarantined,
        "replication": owed is not None,
        "targets": [target_row(row, owed, now_ns) for row in status.targets],
    }


def target_row(row: Any, owed: dict[str, Any] | None, now_ns: int) -> dict[str, Any]:
    return {
        "name": row.name,
        "priority": row.priority,
        "role": row.role,
        "health": row.health,
        "healthy": row.healthy,
        "breaker": row.breaker,
        "breakers": dict(row.breakers),
        "latency_ms": None if row.latency_ms is None else round(row.latency_ms, 3),
        "traffic_share": round(row.traffic_share, 4),
        "recent_calls": row.recent_calls,
        "recent_errors": row.recent_errors,
        "calls": row.calls,
        "errors": row.errors,
        "window": row.window,
        "last_error": None if row.last_error is None else redact(row.last_error),
        "last_error_age": row.last_error_age,
        "backlog": None if owed is None else backlog_cell(owed.get(row.name), now_ns),
    }


def backlog_cell(backlog: Any, now_ns: int) -> dict[str, Any]:
    """Rows owed and the age of the oldest write owed (its version's timestamp)."""
    if backlog is None:
        return {"rows": 0, "bytes": 0, "oldest_age": None, "quarantined": 0}
    oldest = timestamp_of(backlog.oldest) if backlog.oldest else 0
    return {
        "rows": backlog.rows,
        "bytes": backlog.bytes,
        "oldest_age": max(0, now_ns - oldest) / 1e9 if oldest else None,
        "quarantined": backlog.quarantined,
    }


def failed_view(name: str, exc: Exception) -> dict[str, Any]:
    """A facade whose status could not be read: named, with the redacted reason, so one
    broken facade does not blank the others."""
    return {"name": name, "error": redact(f"{type(exc).__name__}: {exc}"), "targets": []}


def document(
    facades: Iterable[dict[str, Any]], events: list[dict[str, Any]], *, controls: bool, now: float
) -> dict[str, Any]:
    return {"generated_at": now, "controls": controls, "facades": list(facades), "events": events}


__all__ = [
    "EVENT_LEVEL",
    "EventRing",
    "backlog_cell",
    "document",
    "event_row",
    "facade_view",
    "failed_view",
    "target_row",
]
