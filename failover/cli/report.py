"""How `failover drill` shows a drill: rich tables on a console (readable at 80 columns), or plain JSON."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from failover.cli.timeline import Row, build_rows, seconds_of, short_name, timeline_table
from failover.execution.status import PoolStatus

if TYPE_CHECKING:
    from failover.cli.demo import DrillResult
    from failover.cli.drill_verdict import EpisodeSummary, Summary


def rows_of(result: DrillResult) -> list[Row]:
    return build_rows(
        seconds_of(result.config.duration), result.targets, result.ops, result.events, result.breakers, result.backlog
    )


def title_of(result: DrillResult) -> str:
    config = result.config
    where = "local servers" if config.real else "in memory"
    clock = "wall clock" if config.real or config.realtime else "simulated clock"
    return (
        f"Game day: {', '.join(config.scenarios)} ({len(result.ops)} calls, writes={config.writes}, {where}, "
        f"{clock}, seed {config.seed})"
    )


def render(console: Console, result: DrillResult, summary: Summary) -> None:
    console.print(timeline_table(rows_of(result), result.targets, title_of(result), width=console.width))
    console.print(_summary_table(result, summary))
    if len(summary.episodes) > 1:
        console.print(_episodes_table(summary.episodes))
    console.print(_status_table(result.status))
    for criterion in summary.criteria:
        mark = Text("PASS ", style="bold green") if criterion.ok else Text("FAIL ", style="bold red")
        console.print(mark + Text(f"{criterion.name}: {criterion.detail}"))
    console.print(Text(_footnote(result), style="dim"))


def summary_rows(result: DrillResult, summary: Summary) -> list[tuple[str, str]]:
    """The summary as (name, value) pairs: the terminal table and the HTML report share it."""
    config, first, check, latency = result.config, summary.first, summary.check, summary.latency
    failover = (
        "never" if first.failover_at is None else f"t={first.failover_at:.2f}s (timeline row {int(first.failover_at)})"
    )
    return [
        ("calls", f"{summary.ops} ({summary.reads} reads, {summary.writes} writes, writes={config.writes})"),
        ("client-visible errors", f"{summary.client_errors} ({summary.stale_reads} stale reads)"),
        ("failed attempts retried elsewhere", str(summary.retried)),
        ("failover", failover),
        ("time to failover", _seconds(first.time_to_failover) + " (first failed call on the primary → FAILOVER)"),
        ("first call rerouted", _at(first.rerouted_at) + " (a retry on the next target, within the call)"),
        ("breaker opened after", _seconds(first.breaker_opened_after)),
        ("time to failback", _seconds(first.time_to_failback) + " after recovery"),
        ("  of which hysteresis", _seconds(first.hysteresis) + f" (failback_after={config.failback_after:g}s)"),
        (
            "latency",
            f"p50 {_ms(latency.p50)}, p99 {_ms(latency.p99)}, p99.9 {_ms(latency.p999)}, max {_ms(latency.max)}",
        ),
        (
            "written keys read back",
            f"{summary.written_keys_read} during the drill, {check.read_back}/{check.keys} at the end",
        ),
        (
            "acknowledged writes lost",
            f"{check.lost} of {check.acknowledged} ({check.copies_checked} copies checked on {check.targets} targets, "
            f"{check.missing_copies} missing, {check.repair_passes} repair passes)",
        ),
        ("traffic share", ", ".join(f"{short_name(n)} {s:.1%}" for n, s in summary.traffic_share.items())),
        ("drill time", f"{config.duration:g}s drill in {result.wall_seconds:.2f}s of real time"),
    ]


def _summary_table(result: DrillResult, summary: Summary) -> Table:
    table = Table(title="Summary", title_justify="left", show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in summary_rows(result, summary):
        table.add_row(name, value)
    return table


def _episodes_table(episodes: tuple[EpisodeSummary, ...]) -> Table:
    table = Table(title="Scenarios", title_justify="left", header_style="bold")
    for column in ("#", "scenario", "outage", "failover", "breaker", "failback", "hysteresis"):
        table.add_column(column, overflow="fold")
    for i, e in enumerate(episodes, 1):
        table.add_row(
            str(i),
            e.scenario,
            f"t={e.outage_at:.1f}s",
            _at(e.failover_at),
            _seconds(e.breaker_opened_after),
            _at(e.failback_at),
            _seconds(e.hysteresis),
        )
    return table


def _status_table(status: PoolStatus) -> Table:
    table = Table(title="store.status()", title_justify="left", header_style="bold")
    for column in ("target", "role", "health", "breaker", "latency", "errors/calls", "share", "last error"):
        table.add_column(column, overflow="fold")
    for t in status.targets:
        table.add_row(*t.cells())
    if status.panic:
        table.caption = "PANIC: every target looks down"
    return table


def _footnote(result: DrillResult) -> str:
    return (
        f"Writes are replicated (writes={result.config.writes}); every key written is read back, and at the end "
        "each one is read directly on every target. Times are drill seconds."
    )


def to_json(result: DrillResult, summary: Summary) -> dict[str, Any]:
    config, check, latency = result.config, summary.check, summary.latency
    return {
        "passed": summary.passed,
        "config": {
            **dataclasses.asdict(config),
            "calls": config.calls,
            "outage_at": config.outage_at,
            "recovery_at": config.recovery_at,
            "failback_after": config.failback_after,
        },
        "targets": list(result.targets),
        "criteria": [dataclasses.asdict(c) for c in summary.criteria],
        "ops": summary.ops,
        "reads": summary.reads,
        "writes": summary.writes,
        "client_errors": summary.client_errors,
        "stale_reads": summary.stale_reads,
        "retried_attempts": summary.retried,
        "failover_at_s": summary.failover_at,
        "time_to_failover_s": summary.time_to_failover,
        "breaker_opened_after_s": summary.first.breaker_opened_after,
        "time_to_failback_s": summary.time_to_failback,
        "hysteresis_s": summary.hysteresis,
        "latency_ms": {k: round(v * 1000, 3) for k, v in dataclasses.asdict(latency).items()},
        "written_keys_read": summary.written_keys_read,
        "lost_writes": check.lost,
        "write_check": dataclasses.asdict(check),
        "episodes": [_episode_json(e) for e in summary.episodes],
        "traffic_share": summary.traffic_share,
        "status": {"panic": result.status.panic, "targets": [_target_json(t) for t in result.status.targets]},
        "timeline": [_row_json(row) for row in rows_of(result)],
        "wall_seconds": result.wall_seconds,
    }


def _episode_json(episode: EpisodeSummary) -> dict[str, Any]:
    return {
        **dataclasses.asdict(episode),
        "time_to_failover": episode.time_to_failover,
        "time_to_failback": episode.time_to_failback,
        "hysteresis": episode.hysteresis,
    }


def _target_json(target: Any) -> dict[str, Any]:
    row = dataclasses.asdict(target)
    row["breakers"] = dict(target.breakers)  # a Mapping, maybe read-only: JSON wants a dict
    return row


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "second": row.second,
        "served": row.served,
        "took": row.took,
        "retried": row.absorbed,
        "errors": row.errors,
        "p50_ms": round(row.percentile(50) * 1000, 3),
        "p99_ms": round(row.percentile(99) * 1000, 3),
        "p999_ms": round(row.percentile(99.9) * 1000, 3),
        "max_latency_ms": round(row.max_latency * 1000, 3),
        "breakers": row.breakers,
        "backlog": row.backlog,
        "events": [text for text, _ in row.events],
    }


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}s"


def _at(value: float | None) -> str:
    return "never" if value is None else f"t={value:.2f}s"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


__all__ = ["render", "rows_of", "summary_rows", "title_of", "to_json"]
