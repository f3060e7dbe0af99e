"""`failover drill` (also `failover demo`): a game day with replicated writes and faults.

Three targets in priority order take steady traffic: reads, and writes replicated with
``writes`` (``all``, ``quorum`` of two, or ``primary``).  Every key the drill writes is
queued to be read back, and each read is checked against the last acknowledged write.
The scenarios (`failover.cli.drill_scenarios`) run one after another, each an outage,
a failover, a recovery and a failback once the hysteresis has passed.  At the end the
faults are healed, the store repairs what the targets owe, and every written key is
read directly on every target (`failover.cli.drill_check`): acknowledged writes lost
must be 0.

By default the targets are in memory (`failover.cli.drill_env`) on a `FakeClock`, so a
minute of drill takes about a second; ``real=True`` runs on the local servers
(`failover.cli.drill_real`) on the wall clock.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from failover import replication
from failover.breaker.circuit import BreakerConfig
from failover.cli.drill_check import Ledger, WriteCheck, final_check
from failover.cli.drill_env import MEMORY_TARGETS, MemoryEnvironment
from failover.cli.drill_scenarios import (
    DEFAULT_SCENARIOS,
    SCENARIOS,
    Episode,
    Scenario,
    Step,
    brownout_latency,
    episodes,
    steps,
)
from failover.cli.drill_verdict import Criterion, Summary, summarize
from failover.cli.drill_witness import Witness, ordered
from failover.cli.timeline import OpRecord, Recorder, Stamped, seconds_of, short_name
from failover.clock import Clock, FakeClock, SystemClock
from failover.errors import ConfigError, FailoverError
from failover.execution.executor import ExecutionConfig
from failover.execution.status import PoolStatus
from failover.facades.storage import FailoverStorage
from failover.target import Target

WriteName = Literal["all", "quorum", "primary"]
WRITES: tuple[str, ...] = ("all", "quorum", "primary")
TARGETS: tuple[str, ...] = MEMORY_TARGETS
PRIMARY, SECONDARY = TARGETS[0], TARGETS[1]
SIMULATED_DURATION = 60.0
REALTIME_DURATION = 30.0
MIN_EPISODE = 5.0
# Simulated seconds are nearly free, but an absurd --rate x --duration would still
# run for minutes: the drill promises to finish in under one.
MAX_OPS = 500_000


@dataclass(frozen=True)
class DrillConfig:
    """The drill's knobs; each scenario's times are fractions of its share of ``duration``."""

    duration: float = SIMULATED_DURATION
    rate: int = 50  # client calls per second (unless ``ops`` sets the total)
    seed: int = 7
    scenarios: tuple[str, ...] = DEFAULT_SCENARIOS
    writes: WriteName = "quorum"
    realtime: bool = False
    real: bool = False
    ops: int | None = None  # total client calls, spread over ``duration``
    objects: int = 200
    write_share: float = 0.25
    attempt_timeout: float = 0.5  # how long a blackholed call hangs before failing over

    def __post_init__(self) -> None:
        unknown = [s for s in self.scenarios if s not in SCENARIOS]
        if unknown or not self.scenarios:
            raise ConfigError(
                f"--scenario: unknown {', '.join(unknown) or '(none)'}; choose from {', '.join(SCENARIOS)}"
            )
        if self.writes not in WRITES:
            raise ConfigError(f"--writes must be one of {', '.join(WRITES)}, not {self.writes!r}")
        if not MIN_EPISODE * len(self.scenarios) <= self.duration <= 3600:
            raise ConfigError(
                f"--duration must be between {MIN_EPISODE * len(self.scenarios):g} ({MIN_EPISODE:g} per scenario) "
                f"and 3600 seconds, not {self.duration:g}"
            )
        if not 1 <= self.rate <= 10_000:
            raise ConfigError(f"--rate must be between 1 and 10000 calls per second, not {self.rate}")
        if self.ops is not None and self.ops < 1:
            raise ConfigError(f"--ops must be >= 1, not {self.ops}")
        if self.calls > MAX_OPS:
            raise ConfigError(
                f"the drill would make {self.calls} calls (--ops, or --duration x --rate); the limit is {MAX_OPS}"
            )
        if not 1 <= self.objects <= 100_000 or not 0 <= self.write_share <= 1:
            raise ConfigError("need 1 <= objects <= 100000 and 0 <= write_share <= 1")

    @property
    def calls(self) -> int:
        return self.ops if self.ops is not None else round(self.duration * self.rate)

    @property
    def interval(self) -> float:
        return self.duration / self.calls

    @property
    def episode_length(self) -> float:
        return self.duration / len(self.scenarios)

    @property
    def failback_after(self) -> float:
        return 0.15 * self.episode_length

    @property
    def outage_at(self) -> float:
        return self.plan()[0].outage_at

    @property
    def recovery_at(self) -> float:
        return self.plan()[0].recovery_at

    @property
    def brownout(self) -> float:
        return brownout_latency(self.interval, self.attempt_timeout)

    def plan(self) -> tuple[Episode, ...]:
        return episodes(self.scenarios, self.duration)

    def breaker(self) -> BreakerConfig:
        # Open times scale with the episode so that a trial call finds the healed
        # primary soon after recovery, whatever the duration.
        return BreakerConfig(
            consecutive_failures=5,
            minimum_calls=20,
            window_size=50,
            open_base=self.episode_length / 60,
            open_max=self.episode_length / 15,
        )

    def write_mode(self, journal: Path) -> replication.WriteMode:
        settings: dict[str, Any] = {
            "journal": journal,
            "sync": "normal",  # a drill's journal need not survive power loss
            "drain_interval": 0.5,
            # A write that timed out may still land for this long; short, so that the
            # repairs after a blackhole finish within the drill.
            "unconfirmed_grace": 2 * self.attempt_timeout,
            "restore_check": max(0.5, self.episode_length / 20),
        }
        if self.writes == "all":
            return replication.All(**settings)
        if self.writes == "primary":
            return replication.Primary(**settings)
        return replication.Quorum(2, **settings)


@dataclass(frozen=True)
class DrillResult:
    config: DrillConfig
    targets: tuple[str, ...]
    episodes: tuple[Episode, ...]
    ops: tuple[OpRecord, ...]
    events: tuple[Stamped, ...]
    breakers: dict[int, dict[str, str]]  # second -> target -> breaker state at its end
    backlog: dict[int, int]  # second -> journal rows owed at its end
    status: PoolStatus
    check: WriteCheck
    written_keys_read: int
    failback_after: float
    wall_seconds: float


class Environment(Protocol):
    names: tuple[str, ...]

    def providers(self) -> dict[str, Any]: ...

    def seed(self, dataset: dict[str, bytes]) -> None: ...

    def inject(self, scenario: Scenario, target: int) -> None: ...

    def heal(self, scenario: Scenario, target: int) -> None: ...

    def copy_of(self, target: int, key: str) -> bytes | None: ...

    def close(self) -> None: ...


class Drill:
    """Builds the store, then drives traffic and the scenarios on the clock."""

    def __init__(self, config: DrillConfig, clock: Clock | None = None, env: Environment | None = None) -> None:
        self.config = config
        self.clock = clock or (SystemClock() if config.realtime or config.real else FakeClock())
        self.origin = self.clock.monotonic()
        self.recorder = Recorder(self.clock, self.origin)
        self.rng = random.Random(config.seed)
        self.env: Environment = env or MemoryEnvironment(self.clock, config.seed, config.brownout)
        self.names = tuple(self.env.names)
        self._order = {name: i for i, name in enumerate(self.names)}
        self._workdir = tempfile.TemporaryDirectory(prefix="failover-drill-")
        self.witness = Witness()
        self.store = FailoverStorage(
            [Target(name, provider, priority=i) for i, (name, provider) in enumerate(self.env.providers().items())],
            writes=config.write_mode(Path(self._workdir.name) / "journal.sqlite"),
            clock=self.clock,
            failback_after=config.failback_after,
            breaker=config.breaker(),
            execution=ExecutionConfig(
                attempt_timeout=config.attempt_timeout,
                deadline=10 * config.attempt_timeout,
                layers=self.witness.layers(),
            ),
            listeners=[self.recorder],
            rng=random.Random(config.seed),  # breaker jitter: same seed, same drill
        )
        self.dataset = {f"seed/obj-{i:05d}": f"object {i}".encode() * 8 for i in range(config.objects)}
        self.keys = sorted(self.dataset)
        self.ledger = Ledger()
        self.ops: list[OpRecord] = []
        self.breakers: dict[int, dict[str, str]] = {}
        self.backlog: dict[int, int] = {}
        self._second = -1
        self._queued_reads = 0

    def run(self, progress: Callable[[int], None] | None = None) -> DrillResult:
        try:
            return self._run(progress or (lambda done: None))
        finally:
            self.store.close()
            self._workdir.cleanup()

    def _run(self, progress: Callable[[int], None]) -> DrillResult:
        self.env.seed(self.dataset)
        if self.config.real:
            # On the wall clock a repair pass (a restored target's reconcile, thousands of
            # copies) would stall the client: the background drainer repairs instead; its
            # calls run outside the client's context, so none is taken for a client's.
            self.store.start()
        self.recorder.restart()
        wall = time.perf_counter()
        plan = self.config.plan()
        pending = list(steps(plan, [short_name(n) for n in self.names]))
        for index in range(self.config.calls):
            due = index * self.config.interval
            self._wait_until(due)
            pending = self._apply(pending, due)
            self._tick()
            self.ops.append(self._call(index))
            self._sample_breakers()
            progress(index + 1)
        self._apply(pending, float("inf"))  # heal whatever is left before the check
        check = final_check(self.store, self.ledger, self.env.copy_of, self.names, self.clock)
        return DrillResult(
            self.config,
            self.names,
            plan,
            tuple(self.ops),
            tuple(self.recorder.events),
            self.breakers,
            self.backlog,
            self.store.status(),
            check,
            self._queued_reads,
            self.config.failback_after,
            time.perf_counter() - wall,
        )

    def _apply(self, pending: list[Step], due: float) -> list[Step]:
        while pending and pending[0].at <= due:
            step = pending.pop(0)
            step.apply(self.env)
            self.recorder.note(step.label)
        return pending

    def _tick(self) -> None:
        """Once per drill second: the backlog's sample and, in memory, a repair pass on
        this thread rather than the drainer's, so that a run is the same for a seed."""
        second = int(self.recorder.now())
        if second == self._second:
            return
        self._second = second
        if not self.config.real:
            self.store.repair()
        self.backlog[min(second, seconds_of(self.config.duration) - 1)] = sum(self.store.pending().values())

    def _wait_until(self, due: float) -> None:
        # A FakeClock's sleep advances it; a client that fell behind (a blackholed call
        # hung past this call's slot) sends at once, as a real backlog would.
        late = due - self.recorder.now()
        if late > 0:
            self.clock.sleep(late)

    def _call(self, index: int) -> OpRecord:
        start = self.recorder.now()
        write = self.rng.random() < self.config.write_share
        with self.witness.call() as seen:
            error = self._write(index) if write else self._read()
        end = self.recorder.now()
        took = ordered(seen.answered, self._order)
        failed = ordered(seen.failed, self._order)
        served = took[0] if took and error is None else None
        return OpRecord(start, end, "write" if write else "read", served, failed, error, took)

    def _write(self, index: int) -> str | None:
        written = list(self.ledger.expected)
        overwrite = written and self.rng.random() < 0.3
        key = self.rng.choice(written) if overwrite else f"drill/write-{index:07d}"
        data = f"{key} #{index}\n".encode() * 4
        try:
            self.store.put(key, data)
        except FailoverError as exc:
            self.ledger.write_failed(key, data)
            return exc.kind
        self.ledger.written(key, data)
        return None

    def _read(self) -> str | None:
        key, queued = self.ledger.next_read(lambda: self.rng.choice(self.keys))
        self._queued_reads += queued
        try:
            data: bytes | None = self.store.get(key)
        except FileNotFoundError:
            data = None
        except FailoverError as exc:
            return exc.kind
        return None if self.ledger.matches(key, data, self.dataset) else "wrong_data"

    def _sample_breakers(self) -> None:
        second = min(int(self.recorder.now()), seconds_of(self.config.duration) - 1)
        self.breakers[second] = {name: self.store.pool.member(name).breaker.state.value for name in self.names}


def run_drill(config: DrillConfig, clock: Clock | None = None, env: Environment | None = None) -> DrillResult:
    return Drill(config, clock, env).run()


__all__ = [
    "PRIMARY",
    "SECONDARY",
    "TARGETS",
    "WRITES",
    "Criterion",
    "Drill",
    "DrillConfig",
    "DrillResult",
    "Environment",
    "Summary",
    "run_drill",
    "summarize",
]
