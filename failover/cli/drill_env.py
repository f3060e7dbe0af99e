"""The embedded drill's clouds: three in-memory stores, each behind a `ChaosProvider`.

No server and no account: a fault is a chaos setting, a target restored empty is its
store cleared.  `copy_of` reads a store directly, behind the library's back, for the
final object-by-object check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from failover.cli.drill_scenarios import PARTIAL_ERROR_RATE, Scenario
from failover.clock import Clock
from failover.errors import NotFound
from failover.registry import Registry

if TYPE_CHECKING:
    from failover.providers.chaos import ChaosProvider
    from failover.providers.memory import MemoryObjectStore

MEMORY_TARGETS: tuple[str, ...] = ("memory:us-east-1", "memory:eu-west-1", "memory:ap-south-1")


def inject_chaos(chaos: ChaosProvider, scenario: Scenario, brownout: float) -> None:
    """The chaos setting that plays ``scenario`` on one target."""
    name = scenario.name
    if name == "blackholed":
        chaos.configure(blackhole=1.0)
    elif name == "throttled":
        chaos.configure(throttle_rate=1.0, retry_after=1.0)
    elif name == "brownout":
        chaos.configure(latency=brownout)
    elif name == "partial":
        chaos.configure(error_rate=PARTIAL_ERROR_RATE)
    else:  # primary-killed, two-down, restored-empty: every call fails, as on a dead host
        chaos.down()


class MemoryEnvironment:
    """The default drill's targets, on the drill's clock, deterministic for a seed."""

    def __init__(self, clock: Clock, seed: int, brownout: float) -> None:
        """``brownout``: the latency the brownout scenario adds to each call."""
        registry = Registry()
        memory_store, chaos_provider = registry.load("memory"), registry.load("chaos")
        self.names = MEMORY_TARGETS
        self.memory: dict[str, MemoryObjectStore] = {name: memory_store(clock=clock) for name in MEMORY_TARGETS}
        self.chaos: dict[str, ChaosProvider] = {
            name: chaos_provider(memory, seed=seed + i, clock=clock)
            for i, (name, memory) in enumerate(self.memory.items())
        }
        self._brownout = brownout

    def providers(self) -> dict[str, Any]:
        return dict(self.chaos)

    def seed(self, dataset: dict[str, bytes]) -> None:
        """Put the dataset on every target directly: it is there before the drill starts."""
        for memory in self.memory.values():
            for key, data in dataset.items():
                memory.put(key, data)

    def inject(self, scenario: Scenario, target: int) -> None:
        inject_chaos(self.chaos[self.names[target]], scenario, self._brownout)

    def heal(self, scenario: Scenario, target: int) -> None:
        name = self.names[target]
        if scenario.restores_empty:
            memory = self.memory[name]
            for info in list(memory.list()):
                memory.delete(info.key)
        self.chaos[name].heal()

    def copy_of(self, target: int, key: str) -> bytes | None:
        try:
            return self.memory[self.names[target]].get(key)
        except NotFound:
            return None

    def close(self) -> None:
        """Nothing to stop: the stores live in this process."""


__all__ = ["MEMORY_TARGETS", "MemoryEnvironment", "inject_chaos"]
