"""Recording a game day: calls and events stamped on the drill's clock, one row per second.

`Recorder` is a `failover.events.Listener`; the drill also notes its own actions
(``chaos: ... down``) in it so they sit in the same timeline as the library's events.
`build_rows` folds everything into `Row`s and `timeline_table` draws them with rich.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text

from failover.clock import Clock
from failover.events import BreakerTransition, Event, FailedBack, FailedOver, HealthChanged, PanicMode


@dataclass(frozen=True, slots=True)
class Note:
    """Something the drill itself did (inject a fault, heal), shown among the events."""

    text: str


@dataclass(frozen=True, slots=True)
class Stamped:
    at: float  # seconds since the drill began
    event: Event | Note


@dataclass(frozen=True, slots=True)
class OpRecord:
    """One client call: when, what, who served it, which attempts failed before."""

    start: float  # seconds since the drill began
    end: float
    kind: str  # "read" or "write"
    served_by: str | None  # None: the client saw an error
    failed_on: tuple[str, ...] = ()  # targets whose attempt failed and was retried elsewhere
    error: str | None = None


class Recorder:
    """Keeps every event with the drill time it happened at."""

    def __init__(self, clock: Clock, origin: float) -> None:
        self._clock = clock
        self._origin = origin
        self.events: list[Stamped] = []

    def now(self) -> float:
        return self._clock.monotonic() - self._origin

    def on_event(self, event: Event) -> None:
        self.events.append(Stamped(self.now(), event))

    def note(self, text: str) -> None:
        self.events.append(Stamped(self.now(), Note(text)))


@dataclass(slots=True)
class Row:
    second: int
    served: dict[str, int]
    absorbed: int = 0  # failed attempts the client never saw (retried on another target)
    errors: int = 0  # client-visible errors
    max_latency: float = 0.0
    breakers: dict[str, str] = field(default_factory=dict)  # state at the end of the second
    events: list[tuple[str, str]] = field(default_factory=list)  # (text, rich style)


def build_rows(
    seconds: int,
    targets: Sequence[str],
    ops: Iterable[OpRecord],
    events: Iterable[Stamped],
    breakers: Mapping[int, Mapping[str, str]],
) -> list[Row]:
    """One row per second; a second with no breaker sample keeps the previous one."""
    rows = [Row(s, dict.fromkeys(targets, 0)) for s in range(seconds)]
    last = len(rows) - 1
    for op in ops:
        row = rows[min(int(op.start), last)]
        if op.served_by is None:
            row.errors += 1
        else:
            row.served[op.served_by] += 1
        row.absorbed += len(op.failed_on)
        row.max_latency = max(row.max_latency, op.end - op.start)
    narrate = Narrator()
    for stamped in events:
        rows[min(int(stamped.at), last)].events.append(narrate(stamped.event))
    state = dict.fromkeys(targets, "closed")
    for row in rows:
        state = {**state, **breakers.get(row.second, {})}
        row.breakers = state
    return rows


class Narrator:
    """Turns events into short texts (and rich styles) for the events column."""

    def __call__(self, event: Event | Note) -> tuple[str, str]:
        if isinstance(event, Note):
            return event.text, "bold magenta"
        if isinstance(event, BreakerTransition):
            return _transition(event)
        if isinstance(event, FailedOver):
            return f"FAILOVER {short_name(event.from_target)}→{short_name(event.to_target)}", "bold red"
        if isinstance(event, FailedBack):
            return f"FAILBACK →{short_name(event.target)}", "bold green"
        if isinstance(event, HealthChanged):
            return f"{short_name(event.target)} {'healthy' if event.healthy else 'UNHEALTHY'}", "yellow"
        if isinstance(event, PanicMode):
            return ("PANIC: every target looks down" if event.entered else "panic over"), "bold white on red"
        return repr(event), ""


def _transition(event: BreakerTransition) -> tuple[str, str]:
    name = short_name(event.target)
    if event.new == "open":
        if event.old == "half_open":
            return f"{name} trial failed → open", "red"
        return f"{name} breaker OPEN ({event.reason})", "bold red"
    if event.new == "half_open":
        return f"{name} half-open", "yellow"
    if event.new == "closed":
        return f"{name} breaker closed", "green"
    return f"{name} {event.old}→{event.new} ({event.reason})", "cyan"


_BREAKER_CELLS = {
    "closed": ("ok", "green"),
    "open": ("OPEN", "bold red"),
    "half_open": ("half", "yellow"),
    "forced_open": ("F-OPEN", "bold red"),
    "forced_closed": ("F-ok", "cyan"),
}


def timeline_table(rows: Sequence[Row], targets: Sequence[str], title: str) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold", pad_edge=False)
    table.add_column("t(s)", justify="right", no_wrap=True)
    for name in targets:
        table.add_column(short_name(name), justify="right", no_wrap=True)
    table.add_column("retried", justify="right", no_wrap=True)
    table.add_column("errors", justify="right", no_wrap=True)
    table.add_column("max ms", justify="right", no_wrap=True)
    table.add_column("breakers", no_wrap=True)
    table.add_column("events", overflow="fold")
    for row in rows:
        table.add_row(
            str(row.second),
            *(_count(row.served[name]) for name in targets),
            _count(row.absorbed, "yellow"),
            _count(row.errors, "bold red"),
            f"{row.max_latency * 1000:.0f}",
            _breakers(row.breakers, targets),
            Text("; ").join(Text(text, style=style) for text, style in row.events),
        )
    return table


def _count(value: int, style: str = "") -> Text:
    return Text(str(value), style=style) if value else Text("·", style="dim")


def _breakers(states: Mapping[str, str], targets: Sequence[str]) -> Text:
    cells = (_BREAKER_CELLS.get(states[name], (states[name], "")) for name in targets)
    return Text(" ").join(Text(f"{label:<4}", style=style) for label, style in cells)


def short_name(target: str) -> str:
    """``memory:us-east-1`` → ``us-east-1``: the drill's targets share one cloud."""
    return target.partition(":")[2] or target


def seconds_of(duration: float) -> int:
    return max(1, math.ceil(duration))


__all__ = [
    "Narrator",
    "Note",
    "OpRecord",
    "Recorder",
    "Row",
    "Stamped",
    "build_rows",
    "seconds_of",
    "short_name",
    "timeline_table",
]
