"""The retry budget: retries stay a bounded fraction of calls, so failing over cannot
multiply the load on a fleet that is failing everywhere."""

from __future__ import annotations

import threading

from failover.clock import Clock
from failover.counter import AtomicCounter


class RetryBudget:
    """Retries may be at most ``ratio`` of calls, plus ``floor_per_second``, in bursts of ``burst``.

    A token bucket: each call deposits ``ratio`` tokens, time deposits the floor, a
    retry withdraws one.  Deposits are counted with an atomic counter and folded
    into the bucket only when a retry asks, so calls that need no retry pay one
    C-level increment.  The bucket starts full.
    """

    def __init__(self, ratio: float, floor_per_second: float, burst: float, clock: Clock) -> None:
        self.ratio = ratio
        self.floor_per_second = floor_per_second
        self.burst = burst
        self._clock = clock
        self._calls = AtomicCounter()
        self.record_call = self._calls.increment
        self._lock = threading.Lock()
        self._tokens = burst
        self._calls_seen = 0
        self._last_refill = clock.monotonic()
        self.spent = 0
        self.refused = 0

    def try_spend(self) -> bool:
        with self._lock:
            now = self._clock.monotonic()
            calls = self._calls.value
            earned = (calls - self._calls_seen) * self.ratio
            earned += (now - self._last_refill) * self.floor_per_second
            self._calls_seen = calls
            self._last_refill = now
            self._tokens = min(self.burst, self._tokens + earned)
            if self._tokens >= 1:
                self._tokens -= 1
                self.spent += 1
                return True
            self.refused += 1
            return False


__all__ = ["RetryBudget"]
