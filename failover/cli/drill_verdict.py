"""The drill's verdict: what each episode showed, the latency, the written data, pass or fail.

Failover is the router's `FailedOver` event (traffic left the primary) and failback its
last `FailedBack`, so the summary's times are those of the timeline rows that show
``FAILOVER`` and ``FAILBACK``; the first
call another target answered inside a failing call (a retry, before any breaker opened)
is reported apart, as ``rerouted_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from failover.cli.drill_check import WriteCheck
from failover.cli.drill_scenarios import Episode
from failover.cli.timeline import Stamped, percentile, short_name
from failover.events import BreakerTransition, FailedBack, FailedOver

if TYPE_CHECKING:
    from failover.cli.demo import DrillResult


@dataclass(frozen=True)
class Criterion:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class EpisodeSummary:
    """One scenario's outage; times are drill seconds, None when it never happened."""

    scenario: str
    fails_over: bool
    outage_at: float
    recovery_at: float
    first_failure_at: float | None  # first call that failed on a victim
    rerouted_at: float | None  # first call another target answered after that
    failover_at: float | None  # the router's FailedOver event from the primary
    breaker_opened_at: float | None
    breaker_closed_at: float | None  # the primary's breaker closing before failback
    failback_at: float | None  # the router's FailedBack to the primary, after recovery

    @property
    def time_to_failover(self) -> float | None:
        return _since(self.failover_at, self.first_failure_at)

    @property
    def breaker_opened_after(self) -> float | None:
        return _since(self.breaker_opened_at, self.first_failure_at)

    @property
    def time_to_failback(self) -> float | None:
        return _since(self.failback_at, self.recovery_at)

    @property
    def hysteresis(self) -> float | None:
        return _since(self.failback_at, self.breaker_closed_at)


WALL_CLOCK_SLACK = 0.05  # seconds


@dataclass(frozen=True)
class Latency:
    p50: float
    p99: float
    p999: float
    max: float


@dataclass(frozen=True)
class Summary:
    ops: int
    reads: int
    writes: int
    client_errors: int
    stale_reads: int  # reads that returned data no acknowledged write had put there
    retried: int  # failed attempts the client never saw: retried on another target
    written_keys_read: int  # reads of a key the drill wrote (each written key is queued once)
    episodes: tuple[EpisodeSummary, ...]
    failback_after: float
    # How far short of the hysteresis a measured failback may fall and still pass: the
    # simulated clock adds float steps; on the wall clock a breaker's close is stamped when
    # its event is published, a little after the router starts counting.
    clock_slack: float
    traffic_share: dict[str, float]
    latency: Latency
    check: WriteCheck
    primary: str

    # The first episode's figures, which a one-scenario drill is about.
    @property
    def first(self) -> EpisodeSummary:
        return self.episodes[0]

    @property
    def failover_at(self) -> float | None:
        return self.first.failover_at

    @property
    def failback_at(self) -> float | None:
        return self.first.failback_at

    @property
    def time_to_failover(self) -> float | None:
        return self.first.time_to_failover

    @property
    def time_to_failback(self) -> float | None:
        return self.first.time_to_failback

    @property
    def hysteresis(self) -> float | None:
        return self.first.hysteresis

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        check = self.check
        out = [
            Criterion(
                "zero client-visible errors",
                self.client_errors == 0,
                f"{self.client_errors} of {self.ops} calls failed ({self.stale_reads} stale reads)",
            ),
            Criterion(
                "zero acknowledged writes lost",
                check.ok,
                f"{check.lost} lost of {check.acknowledged} acknowledged writes ({check.keys} keys); "
                f"{check.missing_copies} missing of {check.copies_checked} copies checked on {check.targets} "
                f"targets; {check.read_back}/{check.keys} read back; {check.still_owed} still owed",
            ),
        ]
        for i, episode in enumerate(self.episodes, 1):
            if episode.fails_over:
                out.extend(self._episode_criteria(i, episode))
        return tuple(out)

    def _episode_criteria(self, number: int, episode: EpisodeSummary) -> tuple[Criterion, Criterion]:
        tag = f"#{number} {episode.scenario}"
        hysteresis = episode.hysteresis
        return (
            Criterion(
                f"{tag}: failed over from {short_name(self.primary)}",
                episode.failover_at is not None,
                "never" if episode.failover_at is None else f"at t={episode.failover_at:.2f}s",
            ),
            Criterion(
                f"{tag}: failed back after the {self.failback_after:g}s hysteresis",
                hysteresis is not None and hysteresis >= self.failback_after - self.clock_slack,
                "never"
                if hysteresis is None or episode.failback_at is None
                else f"at t={episode.failback_at:.2f}s, {hysteresis:.2f}s after the breaker closed",
            ),
        )

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.criteria)


def summarize(result: DrillResult) -> Summary:
    ops, primary = result.ops, result.targets[0]
    served = [op.served_by for op in ops if op.served_by is not None]
    latencies = [op.latency for op in ops]
    return Summary(
        ops=len(ops),
        reads=sum(op.kind == "read" for op in ops),
        writes=sum(op.kind == "write" for op in ops),
        client_errors=sum(op.error is not None for op in ops),
        stale_reads=sum(op.error == "wrong_data" for op in ops),
        retried=sum(len(op.failed_on) for op in ops),
        written_keys_read=result.written_keys_read,
        episodes=tuple(_episode(result, e) for e in result.episodes),
        failback_after=result.failback_after,
        clock_slack=WALL_CLOCK_SLACK if result.config.realtime or result.config.real else 1e-6,
        traffic_share={name: served.count(name) / len(served) if served else 0.0 for name in result.targets},
        latency=Latency(
            percentile(latencies, 50), percentile(latencies, 99), percentile(latencies, 99.9), max(latencies, default=0)
        ),
        check=result.check,
        primary=primary,
    )


def _episode(result: DrillResult, episode: Episode) -> EpisodeSummary:
    targets = result.targets
    primary = targets[0]
    victims = {targets[v] for v in episode.scenario.victims}
    ops = [op for op in result.ops if episode.start <= op.start < episode.end]
    first_failure = min((op.start for op in ops if victims & set(op.failed_on) or op.error), default=None)
    rerouted = None
    if first_failure is not None:
        rerouted = min(
            (op.end for op in ops if op.served_by not in (primary, None) and op.end >= first_failure), default=None
        )
    events = [s for s in result.events if episode.start <= s.at < episode.end]
    failovers = [s.at for s in events if isinstance(s.event, FailedOver) and s.event.from_target == primary]
    failback_at = _failback_at(events, primary, episode.recovery_at)
    closes = _transitions(events, primary, "closed")
    return EpisodeSummary(
        scenario=episode.scenario.name,
        fails_over=episode.scenario.fails_over,
        outage_at=episode.outage_at,
        recovery_at=episode.recovery_at,
        first_failure_at=first_failure,
        rerouted_at=rerouted,
        failover_at=min((t for t in failovers if t >= episode.outage_at), default=None),
        breaker_opened_at=min(_transitions(events, primary, "open"), default=None),
        breaker_closed_at=max((t for t in closes if failback_at is None or t <= failback_at), default=None),
        failback_at=failback_at,
    )


def _transitions(events: Sequence[Stamped], target: str, new: str) -> list[float]:
    return [
        s.at
        for s in events
        if isinstance(s.event, BreakerTransition) and s.event.target == target and s.event.new == new
    ]


def _failback_at(events: Sequence[Stamped], primary: str, recovery_at: float) -> float | None:
    """The router's last `FailedBack` to the primary in the episode, if it came after the
    recovery and no failover followed it: the time on the timeline's ``FAILBACK`` row.
    The last one, because the router also reports one when it routes a trial call."""
    last = None
    for stamped in events:
        event = stamped.event
        if isinstance(event, FailedBack) and event.target == primary:
            last = stamped.at
        elif isinstance(event, FailedOver) and event.from_target == primary:
            last = None
    return last if last is not None and last >= recovery_at else None


def _since(later: float | None, earlier: float | None) -> float | None:
    return None if later is None or earlier is None else later - earlier


__all__ = ["Criterion", "EpisodeSummary", "Latency", "Summary", "summarize"]
