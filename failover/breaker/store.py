"""Where breakers keep the state a fleet shares: state name, open count, open time left.

Windows of call outcomes stay in each process (sharing them would cost a network
round trip per call); transitions are shared, and `CircuitBreaker.sync()` adopts what
another process decided.  A store may also count failure streaks across the fleet
(`FleetFailures`): a breaker that fails tells it (never on a success after a success,
so a healthy target costs nothing), and when the processes together reach the
consecutive-failure threshold the store saves the breaker open for all of them.  Times
are stored as durations ("open for 12 s more"), never as clock readings, because
monotonic clocks differ between processes.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from failover.clock import Clock, SystemClock
from failover.errors import ConfigError


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


@runtime_checkable
class FleetFailures(Protocol):
    """A store that counts consecutive failures across every breaker of a name.

    Neither call may wait for anything remote: a breaker calls them on a caller's thread.
    """

    def failed(self, name: str, threshold: int, opens: int, open_for: float, reason: str) -> None:
        """One more failure in a row; at ``threshold`` across the fleet, save the breaker
        open (its ``opens``-th opening) for ``open_for`` seconds."""
        ...

    def recovered(self, name: str) -> None:
        """A success ended a failure streak: the fleet's count starts again."""
        ...


def check_window(failure_window: object) -> None:
    """A fleet streak's window: a finite number of seconds above 0."""
    if isinstance(failure_window, bool) or not isinstance(failure_window, (int, float)):
        raise ConfigError(f"failure_window: must be a number of seconds, got {failure_window!r}")
    if not 0 < failure_window < math.inf:
        raise ConfigError(f"failure_window: must be > 0 and finite, got {failure_window!r}")


class MemoryBreakerStore:
    """A store shared by breakers of one process (the default is no store at all), which
    also counts their failure streaks together (`FleetFailures`)."""

    def __init__(self, clock: Clock | None = None, *, sync_interval: float = 1.0, failure_window: float = 10.0) -> None:
        check_window(failure_window)
        self._clock = clock or SystemClock()
        self.sync_interval = sync_interval
        self._failure_window = failure_window
        self._lock = threading.Lock()
        self._states: dict[str, tuple[StoredState, float]] = {}
        self._streaks: dict[str, tuple[int, float]] = {}  # failures in a row, time of the last

    def save(self, name: str, state: StoredState) -> None:
        with self._lock:
            self._states[name] = (state, self._clock.monotonic())
            self._streaks.pop(name, None)  # a transition ends the fleet's streak

    def failed(self, name: str, threshold: int, opens: int, open_for: float, reason: str) -> None:
        now = self._clock.monotonic()
        with self._lock:
            count, last = self._streaks.get(name, (0, now))
            streak = (count if now - last <= self._failure_window else 0) + 1
            self._streaks[name] = (0, now) if streak >= threshold else (streak, now)
            if streak < threshold or self._decided(name):
                return
            reason = f"{streak} consecutive failures across the fleet: {reason}"
            self._states[name] = (StoredState("open", opens, open_for, reason), self._clock.monotonic())

    def recovered(self, name: str) -> None:
        with self._lock:
            self._streaks.pop(name, None)

    def _decided(self, name: str) -> bool:
        """Forced by an operator, or open already: a fleet streak changes nothing (lock held)."""
        entry = self._states.get(name)
        if entry is None:
            return False
        state, saved_at = entry
        still_open = state.state == "open" and state.open_for > self._clock.monotonic() - saved_at
        return still_open or state.state.startswith("forced")

    def load(self, name: str) -> StoredState | None:
        with self._lock:
            entry = self._states.get(name)
        if entry is None:
            return None
        state, saved_at = entry
        elapsed = self._clock.monotonic() - saved_at
        return replace(state, open_for=max(0.0, state.open_for - elapsed))


__all__ = ["BreakerStore", "FleetFailures", "MemoryBreakerStore", "StoredState", "check_window"]
