"""What `status()` returns: one row per target, plain data, printable as a table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TargetStatus:
    name: str
    priority: int
    role: str  # preferred, standby, down, or panic
    healthy: bool
    breakers: Mapping[str, str]  # operation class ("all", "read", "write") -> state
    latency_ms: float | None
    error_rate: float
    calls: int
    errors: int
    traffic_share: float
    last_error: str | None

    def cells(self) -> tuple[str, str, str, str, str, str, str, str]:
        """The row as text: target, role, health, breaker, latency, errors/calls, share, last error."""
        latency = "-" if self.latency_ms is None else f"{self.latency_ms:.2f}ms"
        return (
            self.name,
            self.role,
            "up" if self.healthy else "DOWN",
            self.breaker,
            latency,
            f"{self.errors}/{self.calls}",
            f"{self.traffic_share:.0%}",
            self.last_error or "",
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
        header = ("target", "role", "health", "breaker", "latency", "errors", "share", "last error")
        rows = [header, *(t.cells() for t in self.targets)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        if self.panic:
            lines.append("PANIC: every target looks down; trying all of them")
        if self.quarantined:
            lines.append(f"{self.quarantined} repair(s) quarantined: a target refused them (see failed())")
        return "\n".join(lines)
