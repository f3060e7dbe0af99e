"""Builders for unit tests: chaos-wrapped memory stores behind a facade, on a fake clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from failover import BreakerConfig, ExecutionConfig, FailoverStorage, FakeClock, Target
from failover.events import Event
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore

NAMES = ("memory:a", "memory:b", "memory:c")


@dataclass
class Recorder:
    events: list[Event] = field(default_factory=list)

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@dataclass
class Rig:
    clock: FakeClock
    stores: list[MemoryObjectStore]
    chaos: list[ChaosProvider]
    storage: FailoverStorage
    recorder: Recorder

    def served_by(self) -> str:
        """Which target the next read lands on, judged by its call counter."""
        before = [c.calls for c in self.chaos]
        self.storage.get("seed")
        after = [c.calls for c in self.chaos]
        served = [NAMES[i] for i, (b, a) in enumerate(zip(before, after, strict=True)) if a > b]
        return served[-1]


def make_rig(count: int = 3, *, seed: int = 0, weights: tuple[float, ...] | None = None, **options: Any) -> Rig:
    clock = FakeClock()
    stores = [MemoryObjectStore(clock=clock) for _ in range(count)]
    for store in stores:
        store.put("seed", b"seed-data")
    chaos = [ChaosProvider(store, seed=seed + i, clock=clock) for i, store in enumerate(stores)]
    recorder = Recorder()
    options.setdefault("breaker", BreakerConfig(consecutive_failures=3, open_base=5.0, jitter=0.0))
    options.setdefault("execution", ExecutionConfig(attempt_timeout=1.0, deadline=10.0))
    options.setdefault("failback_after", 30.0)
    targets = [
        Target(NAMES[i], chaos[i], priority=0 if weights else i, weight=weights[i] if weights else 1.0)
        for i in range(count)
    ]
    storage = FailoverStorage(targets, clock=clock, listeners=[recorder], **options)
    return Rig(clock, stores, chaos, storage, recorder)
