"""Sliding windows of call outcomes: the breaker's rate rules, and the recent counts of `status()`.

For the breaker a call is recorded as failed and/or slow; the window answers ``(calls,
failures, slow)``.  Failures are recorded with the breaker's lock held; plain successes
are not, because they are nearly every call and must stay cheap.

`RecentCounts` keeps running totals and where they stood at each second boundary, so
the last N seconds can be read off at status time for the cost of one clock read per
call.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from failover.clock import Clock
from failover.counter import AtomicCounter
from failover.errors import ConfigError


class Window(Protocol):
    # A fast, not-slow success; safe to call without the breaker's lock.
    @property
    def record_success(self) -> Callable[[], object]: ...

    def record(self, failed: bool, slow: bool, now: float) -> tuple[int, int, int]:
        """Record a failed and/or slow call (breaker lock held); return `totals`."""
        ...

    def clear(self) -> None: ...


class CountWindow:
    """The last ``size`` calls.

    Every call takes a sequence number from an `itertools.count`, whose ``next`` is
    atomic, so a success needs no lock at all.  Failed and slow calls are kept as
    sequence numbers in deques; the window is every number above ``latest - size``.
    """

    __slots__ = ("_cleared_at", "_failed", "_seq", "_slow", "record_success", "size")

    def __init__(self, size: int) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"count window size must be an int >= 1, got {size!r}")
        self.size = size
        self._seq = itertools.count(1)
        # A success only takes a number: the bound C method, with no Python frame.
        self.record_success = self._seq.__next__
        self._failed: deque[int] = deque()
        self._slow: deque[int] = deque()
        self._cleared_at = 0

    def clear(self) -> None:
        self._cleared_at = next(self._seq)
        self._failed.clear()
        self._slow.clear()

    def record(self, failed: bool, slow: bool, now: float) -> tuple[int, int, int]:
        seq = next(self._seq)
        if failed:
            self._failed.append(seq)
        if slow:
            self._slow.append(seq)
        oldest = seq - self.size
        for marks in (self._failed, self._slow):
            while marks and marks[0] <= oldest:
                marks.popleft()
        calls = min(seq - self._cleared_at, self.size)
        return calls, len(self._failed), len(self._slow)


class TimeWindow:
    """Calls of the last ``seconds``, kept in one-second buckets (Resilience4j's scheme).

    Buckets rotate with time, so unlike `CountWindow` a success takes a (short) lock.
    """

    __slots__ = ("_buckets", "_clock", "_lock", "seconds")

    def __init__(self, seconds: int, clock: Clock) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
            raise ConfigError(f"time window must be a whole number of seconds >= 1, got {seconds!r}")
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        # bucket: [epoch second, calls, failures, slow]
        self._buckets = [[-1, 0, 0, 0] for _ in range(seconds)]

    def clear(self) -> None:
        with self._lock:
            for bucket in self._buckets:
                bucket[:] = [-1, 0, 0, 0]

    def record_success(self) -> None:
        now = self._clock.monotonic()
        with self._lock:
            self._add(now, False, False)

    def record(self, failed: bool, slow: bool, now: float) -> tuple[int, int, int]:
        with self._lock:
            self._add(now, failed, slow)
            return self._totals(now)

    def _add(self, now: float, failed: bool, slow: bool) -> None:
        second = int(now)
        bucket = self._buckets[second % self.seconds]
        if bucket[0] != second:
            bucket[:] = [second, 0, 0, 0]
        bucket[1] += 1
        bucket[2] += failed
        bucket[3] += slow

    def _totals(self, now: float) -> tuple[int, int, int]:
        oldest = int(now) - self.seconds
        calls = failures = slow = 0
        for second, bucket_calls, bucket_failures, bucket_slow in self._buckets:
            if second > oldest:
                calls += bucket_calls
                failures += bucket_failures
                slow += bucket_slow
        return calls, failures, slow


class RecentCounts:
    """A few running totals and their values in the last ``seconds``.

    A writer calls ``tick()`` when the clock has reached ``next_mark`` (the callers
    inline that comparison), then increments its counters as usual.  ``tick`` notes
    where the totals stood when a new second began; ``recent()`` subtracts the oldest
    note inside the window from the totals now.  Seconds without a call leave no note,
    and need none: the totals did not move in them.
    """

    __slots__ = ("_lock", "_marks", "clock", "counters", "next_mark", "seconds")

    def __init__(self, counters: Sequence[AtomicCounter], seconds: float, clock: Clock) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
            raise ConfigError(f"status window must be a finite number of seconds > 0, got {seconds!r}")
        self.counters = tuple(counters)
        self.seconds = float(seconds)
        self.clock = clock.monotonic  # bound once: read on every recorded call
        self.next_mark = -math.inf
        self._lock = threading.Lock()
        # (second, totals before the first call of that second), oldest first
        self._marks: deque[tuple[float, tuple[int, ...]]] = deque()

    def tick(self) -> None:
        now = self.clock()
        with self._lock:
            if now < self.next_mark:
                return  # another thread noted this second first
            second = math.floor(now)
            self._marks.append((second, tuple(c.value for c in self.counters)))
            self.next_mark = second + 1
            while self._marks and self._marks[0][0] < second - self.seconds - 1:
                self._marks.popleft()

    def recent(self) -> tuple[int, ...]:
        """Each counter's increments in the last ``seconds`` (to the second)."""
        start = math.floor(self.clock() - self.seconds)
        with self._lock:
            now = tuple(c.value for c in self.counters)
            base = next((totals for second, totals in self._marks if second >= start), now)
        return tuple(n - b for n, b in zip(now, base, strict=True))


__all__ = ["CountWindow", "RecentCounts", "TimeWindow", "Window"]
