"""Recording a game day: calls and events stamped on the drill's clock, one row per second.

`Recorder` is a `failover.events.Listener`; the drill also notes its own actions
(``chaos: ... down``) in it so they sit in the same timeline as the library's events.
`build_rows` folds everything into `Row`s and `timeline_table` draws them with rich.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rich import box
from rich.table import Table
from rich.text import Text

from failover.clock import Clock
from failover.events import BacklogChanged, BreakerTransition, Event, FailedBack, FailedOver, HealthChanged, PanicMode


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
    took: tuple[str, ...] = ()  # every target that answered it (a replicated write: several)

    @property
    def latency(self) -> float:
        return self.end - self.start


class Recorder:
    """Keeps every event with the drill time it happened at."""

    def __init__(self, clock: Clock, origin: float) -> None:
        self._clock = clock
        self._origin = origin
        self.events: list[Stamped] = []

    def now(self) -> float:
        return self._clock.monotonic() - self._origin

    def restart(self) -> None:
        """Drill time 0 is now: what came before (starting servers, seeding) is not the drill."""
        self._origin = self._clock.monotonic()
        self.events.clear()

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
    took: dict[str, int] = field(default_factory=dict)  # calls each target answered (writes count on each)
    latencies: list[float] = field(default_factory=list)
    backlog: int = 0  # rows the replication journal held at the end of the second

    def percentile(self, q: float) -> float:
        return percentile(self.latencies, q)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in [0, 100]); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def build_rows(
    seconds: int,
    targets: Sequence[str],
    ops: Iterable[OpRecord],
    events: Iterable[Stamped],
    breakers: Mapping[int, Mapping[str, str]],
    backlog: Mapping[int, int] | None = None,
) -> list[Row]:
    """One row per second; a second with no breaker sample keeps the previous one."""
    rows = [Row(s, dict.fromkeys(targets, 0), took=dict.fromkeys(targets, 0)) for s in range(seconds)]
    last = len(rows) - 1
    for op in ops:
        row = rows[min(int(op.start), last)]
        if op.served_by is None:
            row.errors += 1
        else:
            row.served[op.served_by] += 1
        for name in op.took:
            row.took[name] += 1
        row.absorbed += len(op.failed_on)
        row.max_latency = max(row.max_latency, op.latency)
        row.latencies.append(op.latency)
    narrate = Narrator()
    for stamped in events:
        if getattr(stamped.event, "level", logging.INFO) < logging.INFO:
            continue  # retries and hedges: counted in the retried column, too many to list
        rows[min(int(stamped.at), last)].events.append(narrate(stamped.event))
    state = dict.fromkeys(targets, "closed")
    owed = 0
    for row in rows:
        state = {**state, **breakers.get(row.second, {})}
        row.breakers = state
        owed = (backlog or {}).get(row.second, owed)
        row.backlog = owed
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
        if isinstance(event, BacklogChanged):
            if event.rows:
                return f"{short_name(event.target)} behind ({event.rows} owed)", "yellow"
            return f"{short_name(event.target)} caught up", "green"
        # Any other event: its type and target, never a repr that would fill the column.
        target = getattr(event, "target", None)
        name = type(event).__name__
        return (f"{name} {short_name(target)}" if isinstance(target, str) else name), ""


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
# One letter per target when the console is narrow: o ok, X open, h half-open, F forced.
_BREAKER_LETTERS = {"closed": "o", "open": "X", "half_open": "h", "forced_open": "F", "forced_closed": "f"}
# Below this width the table switches to short headers and one-letter breaker cells, so
# that the events column keeps room (it is never dropped: it wraps).
WIDE = 120
EVENTS_MIN_WIDTH = 24


def timeline_table(rows: Sequence[Row], targets: Sequence[str], title: str, width: int = WIDE) -> Table:
    wide = width >= WIDE
    table = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        pad_edge=False,
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        caption=None if wide else "breakers: o ok, X open, h half-open, F forced; latency in ms",
        caption_justify="left",
    )
    table.add_column("t(s)" if wide else "t", justify="right", no_wrap=True)
    for name in targets:
        table.add_column(short_name(name) if wide else abbreviate(name), justify="right", no_wrap=True)
    table.add_column("retried" if wide else "rtry", justify="right", no_wrap=True)
    table.add_column("errors" if wide else "err", justify="right", no_wrap=True)
    table.add_column("p50 ms" if wide else "p50", justify="right", no_wrap=True)
    table.add_column("p99 ms" if wide else "p99", justify="right", no_wrap=True)
    table.add_column("breakers" if wide else "brk", no_wrap=True)
    table.add_column("events", overflow="fold", min_width=EVENTS_MIN_WIDTH, ratio=1)
    for row in rows:
        table.add_row(
            str(row.second),
            *(_count(row.served[name]) for name in targets),
            _count(row.absorbed, "yellow"),
            _count(row.errors, "bold red"),
            _ms(row.percentile(50)),
            _ms(row.percentile(99)),
            _breakers(row.breakers, targets) if wide else _letters(row.breakers, targets),
            Text("; ").join(Text(text, style=style) for text, style in row.events),
        )
    return table


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.0f}" if ms >= 10 or ms == 0 else f"{ms:.1f}"


def _count(value: int, style: str = "") -> Text:
    return Text(str(value), style=style) if value else Text("·", style="dim")


def _breakers(states: Mapping[str, str], targets: Sequence[str]) -> Text:
    cells = (_BREAKER_CELLS.get(states[name], (states[name], "")) for name in targets)
    return Text(" ").join(Text(f"{label:<4}", style=style) for label, style in cells)


def _letters(states: Mapping[str, str], targets: Sequence[str]) -> Text:
    out = Text()
    for name in targets:
        label, style = _BREAKER_CELLS.get(states[name], (states[name], ""))
        out.append(_BREAKER_LETTERS.get(states[name], label[:1]), style=style)
    return out


def abbreviate(target: str) -> str:
    """``memory:us-east-1`` → ``ue1``, ``s3:moto`` → ``moto``: a narrow column header."""
    name = short_name(target)
    parts = name.split("-")
    if len(parts) < 2:
        return name[:6]
    return "".join(part[0] for part in parts[:-1]) + parts[-1][:2]


def short_name(target: str) -> str:
    """``memory:us-east-1`` → ``us-east-1``: the drill's targets share one cloud."""
    return target.partition(":")[2] or target


def seconds_of(duration: float) -> int:
    return max(1, math.ceil(duration))


__all__ = [
    "EVENTS_MIN_WIDTH",
    "WIDE",
    "Narrator",
    "Note",
    "OpRecord",
    "Recorder",
    "Row",
    "Stamped",
    "abbreviate",
    "build_rows",
    "percentile",
    "seconds_of",
    "short_name",
    "timeline_table",
]
