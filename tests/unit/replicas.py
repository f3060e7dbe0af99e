"""Builders for replication tests: chaos-wrapped memory stores behind a replicated facade."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from failover import BreakerConfig, ExecutionConfig, FailoverStorage, FakeClock, Target, replication
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from failover.replication.anti_entropy import MARKER_PREFIX
from failover.replication.modes import WriteMode

NAMES = ("memory:a", "memory:b", "memory:c")


@dataclass
class Replicas:
    clock: FakeClock
    stores: list[MemoryObjectStore]
    chaos: list[ChaosProvider]
    storage: FailoverStorage
    journal_path: Path

    def rebuild(self, mode: WriteMode | None = None) -> FailoverStorage:
        """A crash: drop the facade without closing it, build a new one on the same journal."""
        self.storage = build(self.chaos, self.clock, mode or self.storage.replication.mode)  # type: ignore[union-attr]
        return self.storage

    def outlast_inherited_writes(self) -> None:
        """Past the grace a new process gives the writes a crashed one may have left on the wire."""
        self.clock.advance(self.storage.replication.mode.unconfirmed_grace + 1.0)  # type: ignore[union-attr]

    def heal(self) -> None:
        for chaos in self.chaos:
            chaos.heal()
        # Past any open breaker (open_base 5 s, no jitter): the next call is a trial.
        self.clock.advance(60.0)

    def contents(self, i: int) -> dict[str, bytes]:
        """What target ``i`` holds for the user: the library's marker object left out."""
        infos = self.stores[i].list()
        return {info.key: self.stores[i].get(info.key) for info in infos if not info.key.startswith(MARKER_PREFIX)}


def build(chaos: list[ChaosProvider], clock: FakeClock, mode: WriteMode, **options: Any) -> FailoverStorage:
    options.setdefault("breaker", BreakerConfig(consecutive_failures=3, open_base=5.0, jitter=0.0))
    options.setdefault("execution", ExecutionConfig(attempt_timeout=1.0, deadline=10.0))
    options.setdefault("failback_after", 0.0)
    targets = [Target(NAMES[i], c, priority=i) for i, c in enumerate(chaos)]
    return FailoverStorage(targets, clock=clock, writes=mode, **options)


def make_replicas(
    tmp_path: Path, mode: str = "primary", *, count: int = 3, w: int = 2, **mode_options: Any
) -> Replicas:
    clock = FakeClock()
    stores = [MemoryObjectStore(clock=clock) for _ in range(count)]
    chaos = [ChaosProvider(store, seed=i, clock=clock) for i, store in enumerate(stores)]
    path = tmp_path / "journal.sqlite"
    mode_options.setdefault("repair_workers", 1)
    # Distinct versions on a fake clock: a wall clock in ns that moves only with the test.
    write_mode: WriteMode
    if mode == "primary":
        write_mode = replication.Primary(journal=path, **mode_options)
    elif mode == "all":
        write_mode = replication.All(journal=path, **mode_options)
    else:
        write_mode = replication.Quorum(w, journal=path, **mode_options)
    return Replicas(clock, stores, chaos, build(chaos, clock, write_mode), path)
