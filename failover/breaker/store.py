"""Where breakers keep the state a fleet shares: state name, open count, open time left.

Windows of call outcomes stay in each process (sharing them would cost a network
round trip per call); only transitions are shared, and `CircuitBreaker.sync()` adopts
what another process decided.  Times are stored as durations ("open for 12 s more"),
never as clock readings, because monotonic clocks differ between processes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Protocol

from failover.clock import Clock, SystemClock


@dataclass(frozen=True, slots=True)
class StoredState:
    state: str
    opens: int
    open_for: float
    reason: str = ""


class BreakerStore(Protocol):
    """Where breakers share their state.  A store may set ``sync_interval`` (seconds):
    how often a started facade adopts what other processes saved (default 1 s)."""

    def save(self, name: str, state: StoredState) -> None: ...

    def load(self, name: str) -> StoredState | None:
        """The saved state with ``open_for`` counted down to now, or None."""
        ...


class MemoryBreakerStore:
    """A store shared by breakers of one process (the default is no store at all)."""

    def __init__(self, clock: Clock | None = None, *, sync_interval: float = 1.0) -> None:
        self._clock = clock or SystemClock()
        self.sync_interval = sync_interval
        self._lock = threading.Lock()
        self._states: dict[str, tuple[StoredState, float]] = {}

    def save(self, name: str, state: StoredState) -> None:
        with self._lock:
            self._states[name] = (state, self._clock.monotonic())

    def load(self, name: str) -> StoredState | None:
        with self._lock:
            entry = self._states.get(name)
        if entry is None:
            return None
        state, saved_at = entry
        elapsed = self._clock.monotonic() - saved_at
        return replace(state, open_for=max(0.0, state.open_for - elapsed))


__all__ = ["BreakerStore", "MemoryBreakerStore", "StoredState"]
