"""What `status()` returns: one row per target, plain data, printable as a table.

Calls, errors, the passive verdict and the traffic share cover the last ``window``
seconds (``HealthConfig.status_window``, 60 by default), so in an incident the table
shows where traffic goes now, not where it went since start; ``calls`` and ``errors``
keep the totals.  The share counts routed calls only: trial calls of a half-open
breaker and calls pinned to one target (replication writes, repairs) are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Recent errors among recent calls from which the passive verdict is "degraded", "failing".
DEGRADED_AT = 0.1
FAILING_AT = 0.5


def passive_verdict(calls: int, errors: int) -> str:
    """``up``, ``degraded`` (10 % of recent calls failed) or ``failing`` (half of them)."""
    if not calls or errors < calls * DEGRADED_AT:
        return "up"
    return "failing" if errors >= calls * FAILING_AT else "degraded"


@dataclass(frozen=True, slots=True)
class TargetStatus:
    name: str
    priority: int
    role: str  # preferred, standby, drained, down, or panic
    healthy: bool  # the health checks' verdict (always True without them); see ``passive``
    breakers: Mapping[str, str]  # operation class ("all", "read", "write") -> state
    latency_ms: float | None
    error_rate: float
    calls: int  # since start, every call (routed, pinned and trial)
    errors: int  # since start
    traffic_share: float  # of routed calls in the last ``window`` seconds
    last_error: str | None  # None once the target has been fine for a whole window
    recent_calls: int = 0  # in the last ``window`` seconds, every call
    recent_errors: int = 0
    passive: str = "up"  # from recent_errors / recent_calls: up, degraded, failing
    last_error_age: float | None = None  # seconds since ``last_error``
    window: float = 60.0
    drained: str | None = None  # why an operator drained it (`Facade.drain`), or None
    forced: str | None = None  # why an operator forced its breaker open or closed, or None

    @property
    def health(self) -> str:
        """``DOWN`` when the health checks say so, else the passive verdict."""
        return self.passive if self.healthy else "DOWN"

    def cells(self) -> tuple[str, str, str, str, str, str, str, str]:
        """The row as text: target, role, health, breaker, latency, recent errors/calls, share, last error."""
        latency = "-" if self.latency_ms is None else f"{self.latency_ms:.2f}ms"
        last = self.last_error or ""
        if last and self.last_error_age is not None:
            last = f"{last} ({self.last_error_age:.0f}s ago)"
        return (
            self.name,
            self.role,
            self.health,
            self.breaker,
            latency,
            f"{self.recent_errors}/{self.recent_calls}",
            f"{self.traffic_share:.0%}",
            last,
        )

    @property
    def breaker(self) -> str:
        """The breaker state, or ``read=... write=...`` when split by operation class."""
        if len(self.breakers) == 1:
            return next(iter(self.breakers.values()))
        return " ".join(f"{op}={state}" for op, state in self.breakers.items())


@dataclass(frozen=True, slots=True)
class PoolStatus:
    targets: tuple[TargetStatus, ...]
    panic: bool
    quarantined: int = 0  # replicated storage: repairs a target refused for good (`failed()`)

    def __getitem__(self, name: str) -> TargetStatus:
        for row in self.targets:
            if row.name == name:
                return row
        raise KeyError(name)

    def __str__(self) -> str:
        window = f"{self.targets[0].window:g}s" if self.targets else ""
        header = ("target", "role", "health", "breaker", "latency", f"errors {window}", f"share {window}", "last error")
        rows = [header, *(t.cells() for t in self.targets)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        if self.panic:
            lines.append("PANIC: every target looks down; trying all of them")
        if self.quarantined:
            lines.append(f"{self.quarantined} repair(s) quarantined: a target refused them (see failed())")
        return "\n".join(lines)


__all__ = ["DEGRADED_AT", "FAILING_AT", "PoolStatus", "TargetStatus", "passive_verdict"]
