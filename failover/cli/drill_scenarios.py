"""The drill's scenarios: what fails, on which targets, and when.

Each scenario is one *episode* of the drill: steady traffic, the fault injected at 20 %
of the episode, healed at 50 %, and the rest of the episode for failover back (after
the failback hysteresis).  Several scenarios run one after another, each in its own
equal share of the drill, so ``--scenario blackholed,throttled`` is two outages in a
row and the summary judges each.

How a scenario is injected depends on where the drill runs (`Environment`): in memory
it is a `ChaosProvider` setting; on the local servers it is a SIGKILL of the server, a
mode of the loopback proxy in front of it, or a `ChaosProvider` around the real adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from failover.errors import ConfigError


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str  # one line, for --help and the report
    victims: tuple[int, ...]  # target indexes (priority order) the fault hits
    fails_over: bool  # whether traffic must leave the primary (and come back)
    restores_empty: bool = False  # the victim comes back with no data


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("primary-killed", "the primary's server is killed (SIGKILL), then started again", (0,), True),
        Scenario("blackholed", "the primary accepts connections and never answers", (0,), True),
        Scenario("throttled", "the primary answers every call 503/429 with Retry-After", (0,), True),
        Scenario("brownout", "the primary answers, slowly: latency added to every call", (0,), False),
        Scenario("partial", "the primary fails 60 % of its calls", (0,), True),
        Scenario("two-down", "the primary and the secondary are down at once", (0, 1), True),
        Scenario("restored-empty", "the primary is down, then comes back with no data", (0,), True, True),
    )
}
DEFAULT_SCENARIOS: tuple[str, ...] = ("primary-killed",)
# Fractions of each episode.
OUTAGE_AT = 0.2
RECOVERY_AT = 0.5
PARTIAL_ERROR_RATE = 0.6
# Brownout latency: half the time between two calls, so that the drill's one client
# keeps its pace (a slower answer would only make it fall behind), and at most this share
# of the attempt timeout, so that calls are slow but succeed.
BROWNOUT_SHARE = 0.4


def brownout_latency(interval: float, attempt_timeout: float) -> float:
    return min(interval / 2, BROWNOUT_SHARE * attempt_timeout)


def parse_scenarios(values: Iterable[str] | None) -> tuple[str, ...]:
    """``["blackholed,throttled", "brownout"]`` (repeated flags, commas) to names, in order;
    an unknown name is a `ConfigError` naming ``--scenario`` and the choices."""
    names = [part.strip() for value in values or () for part in value.split(",") if part.strip()]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise ConfigError(f"--scenario: unknown {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    return tuple(names) or DEFAULT_SCENARIOS


def default_writes(scenarios: Iterable[str]) -> Literal["all", "quorum"]:
    """``quorum`` (2 of the 3 targets), or ``all`` when a scenario leaves one target up:
    a quorum of 2 cannot be met then, and the drill's writes would fail by design."""
    return "all" if any(len(SCENARIOS[name].victims) >= 2 for name in scenarios) else "quorum"


@dataclass(frozen=True)
class Episode:
    """One scenario's share of the drill, in drill seconds."""

    index: int
    scenario: Scenario
    start: float
    end: float

    @property
    def outage_at(self) -> float:
        return self.start + OUTAGE_AT * (self.end - self.start)

    @property
    def recovery_at(self) -> float:
        return self.start + RECOVERY_AT * (self.end - self.start)


def episodes(names: Sequence[str], duration: float) -> tuple[Episode, ...]:
    share = duration / len(names)
    return tuple(Episode(i, SCENARIOS[name], i * share, (i + 1) * share) for i, name in enumerate(names))


class Environment(Protocol):
    """Where the drill's targets live, and how faults reach them."""

    def inject(self, scenario: Scenario, target: int) -> None: ...

    def heal(self, scenario: Scenario, target: int) -> None: ...


@dataclass(frozen=True)
class Step:
    at: float
    label: str
    episode: Episode
    healing: bool

    def apply(self, env: Environment) -> None:
        for victim in self.episode.scenario.victims:
            if self.healing:
                env.heal(self.episode.scenario, victim)
            else:
                env.inject(self.episode.scenario, victim)


def steps(plan: Sequence[Episode], names: Sequence[str]) -> tuple[Step, ...]:
    """The injections and heals in time order; ``names`` are the short target names."""
    out: list[Step] = []
    for episode in plan:
        who = "+".join(names[v] for v in episode.scenario.victims)
        out.append(Step(episode.outage_at, f"chaos: {who} {episode.scenario.name}", episode, healing=False))
        healed = "restored empty" if episode.scenario.restores_empty else "healed"
        out.append(Step(episode.recovery_at, f"chaos: {who} {healed}", episode, healing=True))
    return tuple(sorted(out, key=lambda s: s.at))


def help_text() -> str:
    return "; ".join(f"{s.name}: {s.summary}" for s in SCENARIOS.values())


__all__ = [
    "BROWNOUT_SHARE",
    "DEFAULT_SCENARIOS",
    "OUTAGE_AT",
    "PARTIAL_ERROR_RATE",
    "RECOVERY_AT",
    "SCENARIOS",
    "Environment",
    "Episode",
    "Scenario",
    "Step",
    "brownout_latency",
    "default_writes",
    "episodes",
    "help_text",
    "parse_scenarios",
    "steps",
]
