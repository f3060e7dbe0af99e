"""A breaker's states, and the rules that move it between them (`BreakerConfig`)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from failover.clock import Clock
from failover.errors import ConfigError
from failover.windows import CountWindow, TimeWindow, Window


class BreakerState(str, enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    FORCED_CLOSED = "forced_closed"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """When to open, how long to stay open, how carefully to close.

    A rule set to ``None`` (or 0 for ``consecutive_failures``) is off.
    """

    consecutive_failures: int = 5
    failure_rate: float | None = 0.5
    slow_call_duration: float | None = None
    slow_call_rate: float = 1.0
    window: Literal["count", "time"] = "count"
    window_size: int = 100  # calls for a count window, seconds for a time window
    minimum_calls: int = 20
    half_open_permits: int = 1
    half_open_successes: int = 1
    permit_timeout: float = 30.0
    open_base: float = 5.0
    open_multiplier: float = 2.0
    open_max: float = 300.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        number, optional = (int, float), (int, float, type(None))
        _check(self, "consecutive_failures", int, lambda v: v >= 0, "must be >= 0")
        _check(self, "failure_rate", optional, lambda v: v is None or 0 < v <= 1, "must be in (0, 1] or None")
        _check(self, "slow_call_duration", optional, lambda v: v is None or v > 0, "must be > 0 seconds or None")
        _check(self, "slow_call_rate", number, lambda v: 0 < v <= 1, "must be in (0, 1]")
        _check(self, "window", str, lambda v: v in ("count", "time"), "must be 'count' or 'time'")
        _check(self, "window_size", int, lambda v: v >= 1, "must be >= 1")
        _check(self, "minimum_calls", int, lambda v: v >= 1, "must be >= 1")
        _check(self, "half_open_permits", int, lambda v: v >= 1, "must be >= 1")
        _check(self, "half_open_successes", int, lambda v: v >= 1, "must be >= 1")
        _check(self, "permit_timeout", number, lambda v: v > 0, "must be > 0 seconds")
        _check(self, "open_base", number, lambda v: v > 0, "must be > 0 seconds")
        _check(self, "open_max", number, lambda v: v >= self.open_base, f"must be >= open_base ({self.open_base})")
        _check(self, "open_multiplier", number, lambda v: v >= 1, "must be >= 1")
        _check(self, "jitter", number, lambda v: 0 <= v < 1, "must be in [0, 1)")

    def new_window(self, clock: Clock) -> Window:
        return CountWindow(self.window_size) if self.window == "count" else TimeWindow(self.window_size, clock)


def _check(
    config: BreakerConfig, name: str, kind: type | tuple[type, ...], ok: Callable[[Any], bool], rule: str
) -> None:
    """A `ConfigError` naming the field, the rule and the value given, for a wrong type too."""
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, kind) or not ok(value):
        raise ConfigError(f"BreakerConfig: {name} {rule}, got {value!r}")


__all__ = ["BreakerConfig", "BreakerState"]
