"""`failover drill` (also `failover demo`): a game day on in-memory providers with chaos.

Three targets (``memory:us-east-1`` preferred, then ``eu-west-1``, then ``ap-south-1``)
take steady traffic (reads of a seeded dataset, some writes of new keys).  On a
timeline scaled to ``duration`` the primary goes down (errors, a blackhole or
throttling), traffic fails over, the primary heals, and traffic fails back once the
failback hysteresis has passed.  Everything runs on an injected clock: a `FakeClock`
by default, so a minute of drill takes well under a second of CPU, or the system clock
with ``realtime=True``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console
from rich.text import Text

from failover.breaker.circuit import BreakerConfig
from failover.cli.output import STDOUT, write_json
from failover.cli.report import render, to_json
from failover.cli.timeline import OpRecord, Recorder, Stamped, seconds_of, short_name
from failover.clock import Clock, FakeClock, SystemClock
from failover.errors import ConfigError, FailoverError
from failover.events import BreakerTransition
from failover.execution.executor import ExecutionConfig
from failover.execution.status import PoolStatus
from failover.facades.storage import FailoverStorage
from failover.registry import Registry
from failover.target import Target

if TYPE_CHECKING:
    from failover.providers.chaos import ChaosProvider
    from failover.providers.memory import MemoryObjectStore

Fault = Literal["errors", "blackhole", "throttle"]
FAULTS: tuple[str, ...] = ("errors", "blackhole", "throttle")
TARGETS: tuple[str, ...] = ("memory:us-east-1", "memory:eu-west-1", "memory:ap-south-1")
PRIMARY, SECONDARY = TARGETS[0], TARGETS[1]
SIMULATED_DURATION = 60.0
REALTIME_DURATION = 30.0
# Simulated seconds are nearly free, but an absurd --rate x --duration would still
# run for minutes: the drill promises to finish in under one.
MAX_OPS = 500_000


@dataclass(frozen=True)
class DrillConfig:
    """The drill's knobs; the scenario's times are fractions of ``duration``."""

    duration: float = SIMULATED_DURATION
    rate: int = 50  # client calls per second
    seed: int = 7
    fault: Fault = "errors"
    realtime: bool = False
    objects: int = 200
    write_share: float = 0.2
    attempt_timeout: float = 0.5  # how long a blackholed call hangs before failing over

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ConfigError(f"fault must be one of {', '.join(FAULTS)}, not {self.fault!r}")
        if not 5 <= self.duration <= 3600:
            raise ConfigError(f"duration must be between 5 and 3600 seconds, not {self.duration:g}")
        if not 1 <= self.rate <= 10_000:
            raise ConfigError(f"rate must be between 1 and 10000 calls per second, not {self.rate}")
        if self.duration * self.rate > MAX_OPS:
            raise ConfigError(f"duration x rate is {self.duration * self.rate:.0f} calls; the limit is {MAX_OPS}")
        if not 1 <= self.objects <= 100_000 or not 0 <= self.write_share <= 1:
            raise ConfigError("need 1 <= objects <= 100000 and 0 <= write_share <= 1")

    @property
    def outage_at(self) -> float:
        return 0.2 * self.duration

    @property
    def recovery_at(self) -> float:
        return 0.5 * self.duration

    @property
    def failback_after(self) -> float:
        return 0.15 * self.duration

    def breaker(self) -> BreakerConfig:
        # Open times scale with the drill so that a trial call finds the healed
        # primary soon after recovery, whatever the duration.
        return BreakerConfig(
            consecutive_failures=5,
            minimum_calls=20,
            window_size=50,
            open_base=self.duration / 60,
            open_max=self.duration / 15,
        )

    def execution(self) -> ExecutionConfig:
        return ExecutionConfig(attempt_timeout=self.attempt_timeout, deadline=10 * self.attempt_timeout)


@dataclass(frozen=True)
class Step:
    at: float
    label: str
    apply: Callable[[ChaosProvider], None]


def scenario(config: DrillConfig) -> tuple[Step, ...]:
    """What happens to the primary, and when (drill seconds)."""
    inject: dict[str, Callable[[ChaosProvider], Any]] = {
        "errors": lambda chaos: chaos.down(),
        "blackhole": lambda chaos: chaos.configure(blackhole=1.0),
        "throttle": lambda chaos: chaos.configure(throttle_rate=1.0),
    }
    return (
        Step(config.outage_at, f"chaos: {short_name(PRIMARY)} outage ({config.fault})", inject[config.fault]),
        Step(config.recovery_at, f"chaos: {short_name(PRIMARY)} healed", lambda chaos: chaos.heal()),
    )


@dataclass(frozen=True)
class DrillResult:
    config: DrillConfig
    ops: tuple[OpRecord, ...]
    events: tuple[Stamped, ...]
    breakers: dict[int, dict[str, str]]  # second -> target -> breaker state at its end
    status: PoolStatus
    wall_seconds: float


class Drill:
    """Builds the pool, then drives traffic and the scenario on the clock."""

    def __init__(self, config: DrillConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or (SystemClock() if config.realtime else FakeClock())
        self.origin = self.clock.monotonic()
        self.recorder = Recorder(self.clock, self.origin)
        self.rng = random.Random(config.seed)
        registry = Registry()
        memory_store, chaos_provider = registry.load("memory"), registry.load("chaos")
        self.memory: dict[str, MemoryObjectStore] = {name: memory_store(clock=self.clock) for name in TARGETS}
        self.chaos: dict[str, ChaosProvider] = {
            name: chaos_provider(memory, seed=config.seed + i, clock=self.clock)
            for i, (name, memory) in enumerate(self.memory.items())
        }
        self.store = FailoverStorage(
            [Target(name, chaos, priority=i) for i, (name, chaos) in enumerate(self.chaos.items())],
            clock=self.clock,
            failback_after=config.failback_after,
            breaker=config.breaker(),
            execution=config.execution(),
            listeners=[self.recorder],
            rng=random.Random(config.seed),  # breaker jitter: same seed, same drill
        )
        self.dataset = {f"seed/obj-{i:05d}": f"object {i}".encode() * 8 for i in range(config.objects)}
        self.keys = sorted(self.dataset)
        self.ops: list[OpRecord] = []
        self.breakers: dict[int, dict[str, str]] = {}

    def seed(self) -> None:
        """Put the dataset on every target directly: it is there before the drill starts."""
        for memory in self.memory.values():
            for key, data in self.dataset.items():
                memory.put(key, data)

    def run(self) -> DrillResult:
        self.seed()
        wall = time.perf_counter()
        steps = list(scenario(self.config))
        calls = round(self.config.duration * self.config.rate)
        for index in range(calls):
            due = index / self.config.rate
            self._wait_until(due)
            while steps and steps[0].at <= due:
                step = steps.pop(0)
                step.apply(self.chaos[PRIMARY])
                self.recorder.note(step.label)
            self.ops.append(self._call(index))
            self._sample_breakers()
        return DrillResult(
            self.config,
            tuple(self.ops),
            tuple(self.recorder.events),
            self.breakers,
            self.store.status(),
            time.perf_counter() - wall,
        )

    def _wait_until(self, due: float) -> None:
        # A FakeClock's sleep advances it; a client that fell behind (a blackholed call
        # hung past this call's slot) sends at once, as a real backlog would.
        late = due - self.recorder.now()
        if late > 0:
            self.clock.sleep(late)

    def _call(self, index: int) -> OpRecord:
        before = self._counters()
        start = self.recorder.now()
        write = self.rng.random() < self.config.write_share
        error = None
        try:
            if write:
                self.store.put(f"drill/write-{index:07d}", b"written during the drill")
            else:
                key = self.rng.choice(self.keys)
                if self.store.get(key) != self.dataset[key]:
                    error = "wrong_data"
        except FailoverError as exc:
            error = exc.kind
        end = self.recorder.now()
        served, failed = _diff(before, self._counters())
        return OpRecord(start, end, "write" if write else "read", None if error else served, failed, error)

    def _counters(self) -> dict[str, tuple[int, int]]:
        # The facade returns the data, not who served it; each target's health counts
        # its calls and failures, so the difference across one call tells.
        return {name: (h.calls.value, h.errors.value) for name, h in self.store.pool.healths.items()}

    def _sample_breakers(self) -> None:
        second = min(int(self.recorder.now()), seconds_of(self.config.duration) - 1)
        self.breakers[second] = {name: self.store.pool.member(name).breaker.state.value for name in TARGETS}


def _diff(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> tuple[str | None, tuple[str, ...]]:
    served = None
    failed = []
    for name, (calls, errors) in after.items():
        old_calls, old_errors = before[name]
        if errors > old_errors:
            failed.append(name)
        if calls - errors > old_calls - old_errors:
            served = name
    return served, tuple(failed)


def run_drill(config: DrillConfig, clock: Clock | None = None) -> DrillResult:
    return Drill(config, clock).run()


def game_day(config: DrillConfig, console: Console, json_path: str | Path | None = None) -> int:
    """Run the drill, show it, write the JSON summary if asked (``-``: to stdout, in place
    of the timeline); 0 if it passed, else 1."""
    with console.status(f"running a {config.duration:g}s drill..."):
        result = run_drill(config)
    summary = summarize(result)
    if json_path != STDOUT:
        render(console, result, summary)
    if json_path is not None:
        try:
            write_json(json_path, to_json(result, summary))
        except OSError as exc:
            console.print(Text(f"cannot write the JSON summary to {json_path}: {exc}", style="bold red"))
            return 1
        if json_path != STDOUT:
            console.print(f"summary written to {json_path}")
    if summary.passed:
        return 0
    failed = ", ".join(c.name for c in summary.criteria if not c.ok)
    console.print(Text(f"drill FAILED: {failed}", style="bold red"))
    return 1


# ---------------------------------------------------------------- verdict


@dataclass(frozen=True)
class Criterion:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Summary:
    """What the drill showed; times are drill seconds, None when it never happened."""

    ops: int
    reads: int
    writes: int
    client_errors: int
    retried: int  # failed attempts the client never saw: retried on another target
    first_failure_at: float | None  # first call that failed on the primary
    failover_at: float | None  # first call served by the secondary after that
    breaker_opened_at: float | None
    breaker_closed_at: float | None  # the primary's breaker closing before failback
    recovery_at: float  # when the primary was healed
    failback_at: float | None  # from here on, every call was served by the primary
    failback_after: float  # the hysteresis the pool was configured with
    traffic_share: dict[str, float]
    writes_off_primary: int

    @property
    def time_to_failover(self) -> float | None:
        return _since(self.failover_at, self.first_failure_at)

    @property
    def breaker_opened_after(self) -> float | None:
        return _since(self.breaker_opened_at, self.first_failure_at)

    @property
    def time_to_failback(self) -> float | None:
        """From recovery to failback: the open breaker's remaining time, then the hysteresis."""
        return _since(self.failback_at, self.recovery_at)

    @property
    def hysteresis(self) -> float | None:
        return _since(self.failback_at, self.breaker_closed_at)

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        hysteresis = self.hysteresis
        return (
            Criterion(
                "zero client-visible errors",
                self.client_errors == 0,
                f"{self.client_errors} of {self.ops} calls failed",
            ),
            Criterion(
                f"failed over to {short_name(SECONDARY)}",
                self.failover_at is not None,
                "never" if self.failover_at is None else f"at t={self.failover_at:.2f}s",
            ),
            Criterion(
                f"failed back after the {self.failback_after:g}s hysteresis",
                # The clock adds float steps: allow their rounding, not a shorter hysteresis.
                hysteresis is not None and hysteresis >= self.failback_after - 1e-6,
                "never"
                if hysteresis is None
                else f"at t={self.failback_at:.2f}s, {hysteresis:.2f}s after the breaker closed",
            ),
        )

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.criteria)


def summarize(result: DrillResult) -> Summary:
    ops, config = result.ops, result.config
    first_failure = min((op.start for op in ops if PRIMARY in op.failed_on), default=None)
    failover_at = None
    if first_failure is not None:
        failover_at = min((op.end for op in ops if op.served_by == SECONDARY and op.end >= first_failure), default=None)
    failback_at = _failback_at(ops, config.recovery_at)
    closes = _transitions(result.events, PRIMARY, "closed")
    served = [op.served_by for op in ops if op.served_by is not None]
    return Summary(
        ops=len(ops),
        reads=sum(op.kind == "read" for op in ops),
        writes=sum(op.kind == "write" for op in ops),
        client_errors=sum(op.served_by is None for op in ops),
        retried=sum(len(op.failed_on) for op in ops),
        first_failure_at=first_failure,
        failover_at=failover_at,
        breaker_opened_at=min(_transitions(result.events, PRIMARY, "open"), default=None),
        breaker_closed_at=max((t for t in closes if failback_at is None or t <= failback_at), default=None),
        recovery_at=config.recovery_at,
        failback_at=failback_at,
        failback_after=config.failback_after,
        traffic_share={name: served.count(name) / len(served) if served else 0.0 for name in TARGETS},
        writes_off_primary=sum(op.kind == "write" and op.served_by not in (PRIMARY, None) for op in ops),
    )


def _transitions(events: Sequence[Stamped], target: str, new: str) -> list[float]:
    return [
        s.at
        for s in events
        if isinstance(s.event, BreakerTransition) and s.event.target == target and s.event.new == new
    ]


def _failback_at(ops: Sequence[OpRecord], recovery_at: float) -> float | None:
    """Start of the final run of calls all served by the primary, if it began after recovery."""
    start = None
    for op in reversed(ops):
        if op.served_by != PRIMARY:
            break
        start = op.start
    return start if start is not None and start >= recovery_at else None


def _since(later: float | None, earlier: float | None) -> float | None:
    return None if later is None or earlier is None else later - earlier


__all__ = [
    "FAULTS",
    "PRIMARY",
    "SECONDARY",
    "TARGETS",
    "Criterion",
    "Drill",
    "DrillConfig",
    "DrillResult",
    "Step",
    "Summary",
    "game_day",
    "run_drill",
    "scenario",
    "summarize",
]
