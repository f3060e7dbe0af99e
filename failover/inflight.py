"""Writes still on their way to a target, abandoned ones included.

A write that timed out, or that ``enforce_timeouts`` abandoned, may still land on the
target later, after a newer write was acknowledged there, and roll that replica back.
So a target is settled for a key only when no older write to it is still outstanding:
`Replication` counts every write to each (target, key) from the moment it starts until
its call returns on whichever thread runs it.  A target that took a write while an
older one was still outstanding keeps owing the newer version; the repairer waits
until the older write has finished, then checks what the target holds and, if it went
backwards, writes the newer version again, conditionally on what it saw.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


class InFlight:
    """Counts of writes started and not finished, per (target, key)."""

    def __init__(self, on_idle: Callable[[str, str], None]) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._on_idle = on_idle  # told when the last outstanding write of a pair finishes

    def track(self, target: str, key: str, call: Callable[[], R]) -> R:
        pair = (target, key)
        with self._lock:
            self._counts[pair] = self._counts.get(pair, 0) + 1
        try:
            return call()
        finally:
            with self._lock:
                left = self._counts[pair] - 1
                if left:
                    self._counts[pair] = left
                else:
                    del self._counts[pair]
            if not left:
                self._on_idle(target, key)

    def busy(self, target: str, key: str) -> bool:
        """Is a write of ``key`` to ``target`` still outstanding (not counting the caller's own,
        once it has returned)?"""
        return (target, key) in self._counts


__all__ = ["InFlight"]
