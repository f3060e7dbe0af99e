"""A counter whose increment needs no lock.

``next()`` on an `itertools.count` is a single C call, atomic under the GIL, so the
hot path only calls it.  Reading the value consumes one number too; reads are rare
(status, metrics) and serialised by a lock, which keeps the arithmetic exact.
"""

from __future__ import annotations

import itertools
import threading


class AtomicCounter:
    __slots__ = ("_count", "_lock", "_reads", "increment")

    def __init__(self) -> None:
        self._count = itertools.count()
        self._lock = threading.Lock()
        self._reads = 0
        # Bound once: calling it costs one C call, no Python frame.
        self.increment = self._count.__next__

    @property
    def value(self) -> int:
        with self._lock:
            # Each earlier read consumed one number; the current read consumes this one.
            value = next(self._count) - self._reads
            self._reads += 1
            return value

    def __repr__(self) -> str:
        return f"AtomicCounter({self.value})"


__all__ = ["AtomicCounter"]
