"""What a `DnsController`'s record should hold now, and when start-up may decide it.  In
``failover`` mode the answer is the best healthy endpoint by priority, a recovered better one
taking over only after ``failback_after`` seconds of health; in ``multivalue`` mode every
healthy endpoint; with none healthy, the answer published last.  Start-up waits until every
endpoint has a verdict, which the probes' tallies tell.  It stands apart from the controller
because it is the policy alone: it reads health, tallies and the last answer, and asks no lock,
calls no provider and logs nothing, while the controller applies what it decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from failover.health.probes import Probe
from failover.health.target_health import TargetHealth

if TYPE_CHECKING:
    from failover.controllers.dns_controller import Endpoint, Mode


class Tally:
    """An endpoint's probe, counting its results so start-up knows when a verdict is in."""

    __slots__ = ("failures", "probe", "runs")

    def __init__(self, probe: Probe) -> None:
        self.probe, self.runs, self.failures = probe, 0, 0

    def check(self, timeout: float) -> None:
        self.runs += 1
        try:
            self.probe.check(timeout)
        except BaseException:
            self.failures += 1
            raise
        self.failures = 0


def verdict_in(health: TargetHealth, tally: Tally) -> bool:
    """Whether the endpoint is known: healthy, ``fall`` failures in a row, or flapping through
    ``rise + fall`` probes."""
    fall, rise = health.config.fall, health.config.rise
    return health.healthy or tally.failures >= fall or tally.runs >= rise + fall


def decide(
    endpoints: Sequence[Endpoint],
    healths: Mapping[str, TargetHealth],
    current: tuple[str, ...],
    *,
    mode: Mode,
    failback_after: float,
    now: float,
) -> tuple[str, ...]:
    """The answer now, from ``endpoints`` (sorted by priority) and the answer ``current``."""
    healthy = [e for e in endpoints if healths[e.value].healthy]
    if not healthy:
        return current
    if mode == "multivalue":
        return tuple(e.value for e in healthy)
    settled = [e for e in healthy if now - healths[e.value].up_since >= failback_after]
    published = next((e for e in healthy if (e.value,) == current), None)
    if published is None:
        # The published endpoint is down (or none yet): availability beats hysteresis.
        return ((settled or healthy)[0].value,)
    better = [e for e in settled if e.priority < published.priority]
    return ((better[0] if better else published).value,)


__all__ = ["Tally", "decide", "verdict_in"]
