"""How `failover drill` shows a drill: rich tables on a console, or plain JSON."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from failover.cli.timeline import Row, build_rows, seconds_of, short_name, timeline_table
from failover.execution.status import PoolStatus

if TYPE_CHECKING:
    from failover.cli.demo import DrillResult, Summary


def rows_of(result: DrillResult) -> list[Row]:
    targets = [t.name for t in result.status.targets]
    return build_rows(seconds_of(result.config.duration), targets, result.ops, result.events, result.breakers)


def render(console: Console, result: DrillResult, summary: Summary) -> None:
    config = result.config
    targets = [t.name for t in result.status.targets]
    clock = "wall clock" if config.realtime else "simulated clock"
    title = (
        f"Game day: {config.fault} outage of {targets[0]} at t={config.outage_at:g}s, "
        f"healed at t={config.recovery_at:g}s ({config.rate} calls/s, {clock}, seed {config.seed})"
    )
    console.print(timeline_table(rows_of(result), targets, title))
    console.print(_summary_table(result, summary))
    console.print(_status_table(result.status))
    for criterion in summary.criteria:
        mark = Text("PASS ", style="bold green") if criterion.ok else Text("FAIL ", style="bold red")
        console.print(mark + Text(f"{criterion.name}: {criterion.detail}"))
    console.print(Text(_footnote(summary, targets[0]), style="dim"))


def _summary_table(result: DrillResult, summary: Summary) -> Table:
    config = result.config
    table = Table(title="Summary", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("calls", f"{summary.ops} ({summary.reads} reads, {summary.writes} writes)"),
        ("client-visible errors", str(summary.client_errors)),
        ("failed attempts retried elsewhere", str(summary.retried)),
        (
            "time to failover",
            _seconds(summary.time_to_failover) + " (first failed call on primary → first call served by secondary)",
        ),
        ("breaker opened after", _seconds(summary.breaker_opened_after)),
        ("time to failback", _seconds(summary.time_to_failback) + " after recovery"),
        ("  of which hysteresis", _seconds(summary.hysteresis) + f" (failback_after={config.failback_after:g}s)"),
        ("traffic share", ", ".join(f"{short_name(n)} {s:.1%}" for n, s in summary.traffic_share.items())),
        ("drill time", f"{config.duration:g}s drill in {result.wall_seconds:.2f}s of real time"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _status_table(status: PoolStatus) -> Table:
    table = Table(title="store.status()", title_justify="left", header_style="bold")
    for column in ("target", "role", "health", "breaker", "latency", "errors/calls", "share", "last error"):
        table.add_column(column)
    for t in status.targets:
        table.add_row(*t.cells())
    if status.panic:
        table.caption = "PANIC: every target looks down"
    return table


def _footnote(summary: Summary, primary: str) -> str:
    return (
        f"Note: {summary.writes_off_primary} writes taken by other targets while {short_name(primary)} was out "
        "live only on the target that took them (the drill runs without replication, writes=), so it reads "
        "only the seeded keys, present on every target. Times are drill seconds."
    )


def to_json(result: DrillResult, summary: Summary) -> dict[str, Any]:
    config = result.config
    return {
        "passed": summary.passed,
        "config": {
            **dataclasses.asdict(config),
            "outage_at": config.outage_at,
            "recovery_at": config.recovery_at,
            "failback_after": config.failback_after,
        },
        "criteria": [dataclasses.asdict(c) for c in summary.criteria],
        "ops": summary.ops,
        "reads": summary.reads,
        "writes": summary.writes,
        "client_errors": summary.client_errors,
        "retried_attempts": summary.retried,
        "time_to_failover_s": summary.time_to_failover,
        "breaker_opened_after_s": summary.breaker_opened_after,
        "time_to_failback_s": summary.time_to_failback,
        "hysteresis_s": summary.hysteresis,
        "traffic_share": summary.traffic_share,
        "writes_off_primary": summary.writes_off_primary,
        "status": {"panic": result.status.panic, "targets": [_target_json(t) for t in result.status.targets]},
        "timeline": [_row_json(row) for row in rows_of(result)],
        "wall_seconds": result.wall_seconds,
    }


def _target_json(target: Any) -> dict[str, Any]:
    row = dataclasses.asdict(target)
    row["breakers"] = dict(target.breakers)  # a Mapping, maybe read-only: JSON wants a dict
    return row


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "second": row.second,
        "served": row.served,
        "retried": row.absorbed,
        "errors": row.errors,
        "max_latency_ms": round(row.max_latency * 1000, 3),
        "breakers": row.breakers,
        "events": [text for text, _ in row.events],
    }


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}s"


__all__ = ["render", "rows_of", "to_json"]
