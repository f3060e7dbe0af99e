"""Health of one target: passive statistics from real calls and the verdict of active probes.

Passive: every routed call records its latency and outcome here (EWMA latency, EWMA
error rate, counts).  Active: a `failover.health.checker.HealthChecker` feeds probe results to
`record_probe`, which applies rise/fall thresholds so a single blip flips nothing.

The router reads ``healthy``, ``up_since`` and ``latency`` without a lock, and a probe in
flight never delays a call.  A success only notes its latency (one C-level append); the
averages fold what was noted, in order, when they are read, with the figures of an
average updated on every call.

For `status()`, calls and errors are also counted over the last ``status_window``
seconds (`failover.windows.RecentCounts`), with the calls that were not routing
decisions (a half-open breaker's trial call, a call pinned to this one target such as a
replication write or a repair) counted apart, so the traffic share counts client
traffic only.  The last error keeps the time it happened.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from failover.clock import Clock, SystemClock
from failover.counter import AtomicCounter
from failover.errors import ConfigError
from failover.events import Emitter, HealthChanged
from failover.redact import redact
from failover.windows import RecentCounts


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """``rise`` probe successes in a row make a target healthy, ``fall`` failures unhealthy.

    ``status_window``: the seconds over which `status()` counts recent calls, errors and
    traffic share, and after which a recovered target's last error is no longer shown.
    """

    rise: int = 2
    fall: int = 3
    latency_alpha: float = 0.2
    error_alpha: float = 0.1
    status_window: float = 60.0

    def __post_init__(self) -> None:
        if self.rise < 1 or self.fall < 1:
            raise ConfigError(f"rise and fall must be >= 1, got rise={self.rise} fall={self.fall}")
        for name in ("latency_alpha", "error_alpha"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ConfigError(f"{name} must be in (0, 1], got {value}")
        window = self.status_window
        if isinstance(window, bool) or not isinstance(window, (int, float)) or not 0 < window < math.inf:
            raise ConfigError(f"status_window must be a finite number of seconds > 0, got {window!r}")


def _pending_limit(config: HealthConfig) -> int:
    """How many unread success samples a health keeps: enough that an older one would
    weigh under 1e-9 in either average (between 16 and 65,536)."""
    alpha = min(config.latency_alpha, config.error_alpha)
    if alpha >= 1:
        return 16
    return max(16, min(1 << 16, math.ceil(math.log(1e-9) / math.log(1.0 - alpha))))


class TargetHealth:
    """Health view of one target.  Writers take a short lock; readers take none."""

    __slots__ = (
        "_error_alpha",
        "_error_rate",
        "_fall_count",
        "_latency",
        "_latency_alpha",
        "_lock",
        "_pending",
        "_rise_count",
        "calls",
        "config",
        "count_call",
        "emitter",
        "errors",
        "healthy",
        "last_error",
        "last_error_at",
        "note_success",
        "probe_reason",
        "target",
        "unrouted",
        "up_since",
        "version",
        "window",
    )

    def __init__(
        self,
        target: str,
        config: HealthConfig | None = None,
        *,
        now: float = -math.inf,
        emitter: Emitter | None = None,
        healthy: bool = True,
        clock: Clock | None = None,
    ) -> None:
        self.target = target
        self.emitter = emitter or Emitter()
        self.config = config or HealthConfig()
        self._lock = threading.Lock()
        # Healthy until a probe says otherwise, unless the owner starts from "unknown"
        # (``healthy=False``) and waits for ``rise`` good probes.
        self.healthy = healthy
        self.up_since = now  # -inf: healthy since before we started watching
        self._latency: float | None = None  # EWMA seconds of successful calls (`latency`)
        self._error_rate = 0.0  # EWMA of temporary failures among calls (`error_rate`)
        # Successes' latencies not folded into the averages yet: a success only appends
        # (one C call), and whoever reads an average folds them, in order.  Bounded: an
        # older sample would weigh less than 1e-9 of the average by the time it is read.
        self._pending: deque[float] = deque(maxlen=_pending_limit(self.config))
        self.note_success = self._pending.append
        self.calls = AtomicCounter()
        self.errors = AtomicCounter()
        self.unrouted = AtomicCounter()  # trial calls and calls pinned to this target
        counted = (self.calls, self.errors, self.unrouted)
        self.window = RecentCounts(counted, self.config.status_window, clock or SystemClock())
        self.count_call = self.calls.increment
        # `record_success` is ``window.tick()`` when ``window.next_mark`` is reached, then
        # ``count_call()`` and ``note_success(latency)``: the executor's fast lane makes
        # those calls itself (two C calls, no frame of their own), so keep them its steps.
        self._latency_alpha = self.config.latency_alpha
        self._error_alpha = self.config.error_alpha
        self.version = 0  # bumped whenever ``healthy`` flips; routers cache on it
        self.last_error: str | None = None
        self.last_error_at: float | None = None  # clock time of ``last_error``
        self.probe_reason = "no probe yet"
        self._rise_count = 0
        self._fall_count = 0

    # ------------------------------------------------------------ passive

    def record_success(self, latency: float, now: float | None = None) -> None:
        """A call succeeded in ``latency`` seconds, ending at ``now`` on the health's clock
        (read here when not given: the executor passes the time it has just read)."""
        # No lock: counters are atomic, and two racing EWMA updates lose one sample's
        # weight at worst, which an average of thousands of calls does not notice.
        recent = self.window
        if (recent.clock() if now is None else now) >= recent.next_mark:  # a new second: note the totals first
            recent.tick()
        self.count_call()
        self.note_success(latency)  # folded into the averages when they are read

    @property
    def latency(self) -> float | None:
        """EWMA seconds of successful calls (None before the first)."""
        if self._pending:
            self._fold()
        return self._latency

    @latency.setter
    def latency(self, value: float | None) -> None:
        self._pending.clear()
        self._latency = value

    @property
    def error_rate(self) -> float:
        """EWMA of temporary failures among calls (0 to 1)."""
        if self._pending:
            self._fold()
        return self._error_rate

    def _fold(self) -> None:
        """Apply the pending successes to the averages, oldest first, as if each had been
        applied when it was recorded."""
        pending, latency, rate = self._pending, self._latency, self._error_rate
        latency_alpha, error_alpha = self._latency_alpha, self._error_alpha
        while True:
            try:
                sample = pending.popleft()
            except IndexError:  # another reader folded the rest
                break
            latency = sample if latency is None else latency + latency_alpha * (sample - latency)
            if rate:
                rate -= error_alpha * rate
        self._latency, self._error_rate = latency, rate

    def record_failure(self, error: str) -> None:
        recent = self.window
        now = recent.clock()
        if now >= recent.next_mark:
            recent.tick()
        self.calls.increment()
        self.errors.increment()
        if self._pending:
            self._fold()  # the successes before this failure count first
        self._error_rate += self._error_alpha * (1.0 - self._error_rate)
        self.last_error = error
        self.last_error_at = now

    def answered(self) -> int:
        """Calls the target has answered so far: successes, and answers such as not found."""
        # Two reads, not a snapshot: a call recorded between them can shift the figure by
        # one, which a watcher of silence (`failover.aio.hedging`) takes as news: it starts over.
        return self.calls.value - self.errors.value

    def record_unrouted(self) -> None:
        """Note that the next recorded call is not a routing decision: a trial call, or a
        call pinned to this target.  It still counts for health, not for traffic share."""
        recent = self.window
        if recent.clock() >= recent.next_mark:
            recent.tick()
        self.unrouted.increment()

    def recent(self) -> tuple[int, int, int]:
        """Calls, errors and unrouted calls of the last ``config.status_window`` seconds."""
        calls, errors, unrouted = self.window.recent()
        return calls, errors, unrouted

    # ------------------------------------------------------------ active

    def record_probe(self, ok: bool, now: float, reason: str = "") -> bool | None:
        """Apply one probe result; return the new ``healthy`` if it changed, else None.

        A flip is also emitted as a `HealthChanged` event to ``emitter``.
        """
        flipped = self._apply_probe(ok, now, reason)
        if flipped is not None:
            why = (
                f"{self.config.rise} probes in a row ok"
                if flipped
                else f"{self.config.fall} probes in a row failed, last: {self.probe_reason}"
            )
            self.emitter.emit(HealthChanged(self.target, flipped, why))
        return flipped

    def _apply_probe(self, ok: bool, now: float, reason: str) -> bool | None:
        with self._lock:
            reason = redact(reason) if reason else reason
            self.probe_reason = reason or ("probe ok" if ok else "probe failed")
            if ok:
                self._fall_count = 0
                self._rise_count += 1
                if not self.healthy and self._rise_count >= self.config.rise:
                    self.healthy = True
                    self.up_since = now
                    self.version += 1
                    return True
            else:
                self._rise_count = 0
                self._fall_count += 1
                if reason:
                    self.last_error = reason
                    self.last_error_at = now
                if self.healthy and self._fall_count >= self.config.fall:
                    self.healthy = False
                    self.version += 1
                    return False
            return None

    def __repr__(self) -> str:
        state = "healthy" if self.healthy else "unhealthy"
        return f"TargetHealth({self.target!r}, {state}, latency={self.latency}, error_rate={self.error_rate:.3f})"


__all__ = ["HealthConfig", "TargetHealth"]
