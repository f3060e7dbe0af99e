"""What a `ChaosProvider` injects: immutable settings and outage windows, validated on creation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeGuard

from failover.errors import ConfigError, Unavailable

OutageKind = Literal["unavailable", "blackhole", "throttle"]
OUTAGE_KINDS: frozenset[str] = frozenset({"unavailable", "blackhole", "throttle"})

# Names of the counters in ``ChaosProvider.injected``.
FAULT_KINDS: tuple[str, ...] = ("error", "throttle", "blackhole", "latency")


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_rate(name: str, value: object) -> None:
    if not _is_number(value) or not 0 <= value <= 1:
        raise ConfigError(f"{name} must be a number in [0, 1], not {value!r}")


def check_seconds(name: str, value: object) -> None:
    if not _is_number(value) or value < 0:
        raise ConfigError(f"{name} must be a finite number of seconds >= 0, not {value!r}")


@dataclass(frozen=True, slots=True)
class ChaosSettings:
    """One consistent set of fault settings; `ChaosProvider.configure` swaps in a new one.

    Each call in scope draws one uniform number ``u`` and the bands
    ``[0, blackhole)``, ``[.., + error_rate)``, ``[.., + throttle_rate)`` pick its fault,
    so every rate is honoured exactly (they must add up to at most 1) and a given seed
    gives the same draw to the n-th call whatever the rates are.

    ``errors``: exception classes for the error band; one is picked per injected error.
    ``retry_after``: seconds carried by injected `Throttled` errors.
    ``latency``: seconds added (through ``clock.sleep``) to every call in scope that is
    not blackholed, before it fails or is delegated.
    ``blackhole_max``: how long a blackholed call hangs when the caller set no deadline.
    ``operations``: the operation names faults apply to (``"probe"`` included); None: all.
    """

    error_rate: float = 0.0
    errors: tuple[type[Exception], ...] = (Unavailable,)
    throttle_rate: float = 0.0
    retry_after: float = 1.0
    latency: float = 0.0
    blackhole: float = 0.0
    blackhole_max: float = 30.0
    operations: frozenset[str] | None = None

    def __post_init__(self) -> None:
        check_rate("error_rate", self.error_rate)
        check_rate("throttle_rate", self.throttle_rate)
        check_rate("blackhole", self.blackhole)
        check_seconds("latency", self.latency)
        check_seconds("retry_after", self.retry_after)
        check_seconds("blackhole_max", self.blackhole_max)
        total = self.blackhole + self.error_rate + self.throttle_rate
        if total > 1 + 1e-9:
            raise ConfigError(
                f"blackhole + error_rate + throttle_rate must be at most 1, got {total:g} "
                "(each call gets at most one fault)"
            )
        if not isinstance(self.errors, tuple) or not self.errors:
            raise ConfigError("errors must be a non-empty tuple of exception classes")
        for cls in self.errors:
            if not (isinstance(cls, type) and issubclass(cls, Exception)):
                raise ConfigError(f"errors must hold Exception subclasses, not {cls!r}")

    @property
    def active(self) -> bool:
        """Whether any fault is configured (outage windows aside)."""
        return bool(self.error_rate or self.throttle_rate or self.blackhole or self.latency)


@dataclass(frozen=True, slots=True)
class Outage:
    """Calls with ``start <= clock.monotonic() < end`` fail as ``kind`` says."""

    start: float
    end: float
    kind: OutageKind = "unavailable"

    def __post_init__(self) -> None:
        if not _is_number(self.start) or not _is_number(self.end):
            raise ConfigError(
                f"outage start and end must be finite numbers, not {self.start!r} and {self.end!r}"
            )
        if self.end < self.start:
            raise ConfigError(f"outage ends ({self.end}) before it starts ({self.start})")
        if self.kind not in OUTAGE_KINDS:
            kinds = ", ".join(sorted(OUTAGE_KINDS))
            raise ConfigError(f"outage kind must be one of {kinds}, not {self.kind!r}")

    def covers(self, now: float) -> bool:
        return self.start <= now < self.end


__all__ = ["FAULT_KINDS", "OUTAGE_KINDS", "ChaosSettings", "Outage", "OutageKind", "check_rate", "check_seconds"]
