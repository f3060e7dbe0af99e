"""Health of one target: passive statistics from real calls and the verdict of active probes.

Passive: every routed call records its latency and outcome here (EWMA latency, EWMA
error rate, counts).  Active: a `failover.checker.HealthChecker` feeds probe results to
`record_probe`, which applies rise/fall thresholds so a single blip flips nothing.

The router reads ``healthy``, ``up_since`` and ``latency`` as plain attributes: it never
waits for a lock, and a probe in flight never delays a call.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from failover.counter import AtomicCounter
from failover.errors import ConfigError
from failover.events import Emitter, HealthChanged


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """``rise`` probe successes in a row make a target healthy, ``fall`` failures unhealthy."""

    rise: int = 2
    fall: int = 3
    latency_alpha: float = 0.2
    error_alpha: float = 0.1

    def __post_init__(self) -> None:
        if self.rise < 1 or self.fall < 1:
            raise ConfigError(f"rise and fall must be >= 1, got rise={self.rise} fall={self.fall}")
        for name in ("latency_alpha", "error_alpha"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ConfigError(f"{name} must be in (0, 1], got {value}")


class TargetHealth:
    """Health view of one target.  Writers take a short lock; readers take none."""

    __slots__ = (
        "_count_call",
        "_error_alpha",
        "_fall_count",
        "_latency_alpha",
        "_lock",
        "_rise_count",
        "calls",
        "config",
        "emitter",
        "error_rate",
        "errors",
        "healthy",
        "last_error",
        "latency",
        "probe_reason",
        "target",
        "up_since",
        "version",
    )

    def __init__(
        self,
        target: str,
        config: HealthConfig | None = None,
        *,
        now: float = -math.inf,
        emitter: Emitter | None = None,
        healthy: bool = True,
    ) -> None:
        self.target = target
        self.emitter = emitter or Emitter()
        self.config = config or HealthConfig()
        self._lock = threading.Lock()
        # Healthy until a probe says otherwise, unless the owner starts from "unknown"
        # (``healthy=False``) and waits for ``rise`` good probes.
        self.healthy = healthy
        self.up_since = now  # -inf: healthy since before we started watching
        self.latency: float | None = None  # EWMA seconds of successful calls
        self.error_rate = 0.0  # EWMA of temporary failures among calls
        self.calls = AtomicCounter()
        self.errors = AtomicCounter()
        self._count_call = self.calls.increment
        self._latency_alpha = self.config.latency_alpha
        self._error_alpha = self.config.error_alpha
        self.version = 0  # bumped whenever ``healthy`` flips; routers cache on it
        self.last_error: str | None = None
        self.probe_reason = "no probe yet"
        self._rise_count = 0
        self._fall_count = 0

    # ------------------------------------------------------------ passive

    def record_success(self, latency: float) -> None:
        # No lock: counters are atomic, and two racing EWMA updates lose one sample's
        # weight at worst, which an average of thousands of calls does not notice.
        self._count_call()
        previous = self.latency
        self.latency = latency if previous is None else previous + self._latency_alpha * (latency - previous)
        if self.error_rate:
            self.error_rate -= self._error_alpha * self.error_rate

    def record_failure(self, error: str) -> None:
        self.calls.increment()
        self.errors.increment()
        self.error_rate += self._error_alpha * (1.0 - self.error_rate)
        self.last_error = error

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
                if self.healthy and self._fall_count >= self.config.fall:
                    self.healthy = False
                    self.version += 1
                    return False
            return None

    def __repr__(self) -> str:
        state = "healthy" if self.healthy else "unhealthy"
        return f"TargetHealth({self.target!r}, {state}, latency={self.latency}, error_rate={self.error_rate:.3f})"
