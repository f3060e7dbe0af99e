"""Writes still on their way to a target, abandoned ones included.

A write that timed out, or that ``enforce_timeouts`` abandoned, may still land on the
target later, after a newer write was acknowledged there, and roll that replica back.
So a target is settled for a key only when no older write to it is still outstanding:
`Replication` counts every write to each (target, key) from the moment it starts until
its call returns on whichever thread runs it.  A call that returned with a timeout is
outstanding too, for ``grace`` seconds more: its request may already be on the wire,
or queued in the server, and be applied after the client gave up.  A target that took
a write while an older one was outstanding keeps owing the newer version; the repairer
waits until the older write has finished (or its grace has passed), then checks what
the target holds and, if it went backwards, writes the newer version again,
conditionally on what it saw.

A process that opens a journal inherits its rows without knowing which writes the
process before it still had on the wire (it may have been killed mid-write, and a
dead process's requests still arrive).  Every pair owed at opening is therefore
outstanding for ``grace`` seconds (`InFlight.inherit`): repairs of a journal left by
another process start that much later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

R = TypeVar("R")


class InFlight:
    """Counts of writes started and not finished, per (target, key)."""

    def __init__(
        self, on_idle: Callable[[str, str], None], *, now: Callable[[], float], grace: float = 10.0
    ) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._doubtful: dict[tuple[str, str], float] = {}  # timed out: may land until then
        self._lock = threading.Lock()
        self._on_idle = on_idle  # told when the last outstanding write of a pair finishes
        self._now = now
        self._grace = grace

    def track(self, target: str, key: str, call: Callable[[], R]) -> R:
        pair = (target, key)
        with self._lock:
            self._counts[pair] = self._counts.get(pair, 0) + 1
        try:
            return call()
        except BaseException as exc:
            if _timed_out(exc):
                with self._lock:
                    self._doubtful[pair] = self._now() + self._grace
            raise
        finally:
            with self._lock:
                left = self._counts[pair] - 1
                if left:
                    self._counts[pair] = left
                else:
                    del self._counts[pair]
            if not left:
                self._on_idle(target, key)

    def inherit(self, pairs: Iterable[tuple[str, str]]) -> int:
        """Treat each (target, key) as written by someone else, possibly still on its way:
        outstanding for ``grace`` seconds from now.  Returns how many pairs."""
        if not self._grace:
            return 0
        until = self._now() + self._grace
        count = 0
        with self._lock:
            for pair in pairs:
                self._doubtful[pair] = max(until, self._doubtful.get(pair, until))
                count += 1
        return count

    def busy(self, target: str, key: str) -> bool:
        """Is a write of ``key`` to ``target`` still outstanding (not counting the caller's own,
        once it has returned)?"""
        pair = (target, key)
        if pair in self._counts:
            return True
        until = self._doubtful.get(pair)
        if until is None:
            return False
        if self._now() < until:
            return True
        with self._lock:
            if self._doubtful.get(pair) == until:
                del self._doubtful[pair]
        return False


def _timed_out(exc: BaseException) -> bool:
    """Did the call give up waiting (so its request may still be applied)?"""
    kind = getattr(exc, "kind", None)
    return isinstance(exc, TimeoutError) or kind in ("timeout", "deadline_exceeded")


__all__ = ["InFlight"]
