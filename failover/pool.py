"""The machinery every facade shares: members, router, executor, health checks, status.

A `Pool` is built from `Target`s for one capability.  It owns one breaker and one
health view per target (or, with ``breaker_per="operation_class"``, one breaker per
target for reads and one for writes, sharing the health), a router and an executor,
and, when asked, a `HealthChecker` thread probing every target.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, TypeVar

from failover.breaker import BreakerConfig, BreakerState, CircuitBreaker
from failover.breaker_store import BreakerStore
from failover.capabilities import OPERATIONS, Capability, supported_operations
from failover.checker import Check, HealthChecker
from failover.clock import Clock, SystemClock
from failover.errors import ConfigError
from failover.events import Emitter, Event, Listener
from failover.execution import ExecutionConfig, Executor
from failover.health import HealthConfig, TargetHealth
from failover.policies import Policy, Priority
from failover.probes import Probe, ProviderProbe
from failover.routing import Member, Router
from failover.status import PoolStatus, TargetStatus
from failover.target import Target

R = TypeVar("R")

_TAKES_TRAFFIC = frozenset({BreakerState.CLOSED, BreakerState.FORCED_CLOSED})

READ = "read"
WRITE = "write"


@dataclass(frozen=True)
class ProbeConfig:
    """Active health checks: probe each target every ``interval`` seconds.

    Each target is probed with its provider's own ``probe()`` unless ``probes`` maps
    its name to another `Probe` (an HTTP check of the service in that region, say).
    """

    interval: float = 5.0
    timeout: float = 2.0
    jitter: float = 0.1
    probes: Mapping[str, Probe] = field(default_factory=dict)


class _Invalidate:
    """Tells a router to recompute its plan when a breaker or a health flips."""

    def __init__(self, routers: list[Router]) -> None:
        self._routers = routers

    def on_event(self, event: Event) -> None:
        for router in self._routers:
            router.invalidate()


class Pool:
    def __init__(
        self,
        targets: Sequence[Target],
        capability: Capability,
        *,
        read_operations: frozenset[str],
        hedged_operations: frozenset[str] | None = None,
        policy: Policy | None = None,
        failback_after: float = 30.0,
        breaker: BreakerConfig | None = None,
        breaker_per: Literal["target", "operation_class"] = "target",
        breaker_store: BreakerStore | None = None,
        health: HealthConfig | None = None,
        execution: ExecutionConfig | None = None,
        health_checks: ProbeConfig | None = None,
        clock: Clock | None = None,
        listeners: Iterable[Listener] = (),
        rng: random.Random | None = None,
    ) -> None:
        targets = _validate_targets(targets, capability)
        if breaker_per not in ("target", "operation_class"):
            raise ConfigError(f"breaker_per must be 'target' or 'operation_class', not {breaker_per!r}")
        self.capability = capability
        self.clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self.read_operations = read_operations
        routers: list[Router] = []
        user_listeners = tuple(listeners)
        self.emitter = Emitter((_Invalidate(routers), *user_listeners))
        self.healths = {t.name: TargetHealth(t.name, health, emitter=self.emitter) for t in targets}
        classes = (READ, WRITE) if breaker_per == "operation_class" else ("",)
        self.executors: dict[str, Executor] = {}
        execution = execution or ExecutionConfig()
        for op_class in classes:
            members = [self._member(t, op_class, breaker, breaker_store) for t in targets]
            router = Router(
                members, policy or Priority(), failback_after=failback_after, emitter=self.emitter, rng=self._rng
            )
            routers.append(router)
            hedgeable = read_operations if hedged_operations is None else hedged_operations
            self.executors[op_class] = Executor(router, execution, self.clock, hedgeable=hedgeable)
        self.split = breaker_per == "operation_class"
        self.targets = tuple(targets)
        self.checker = self._checker(health_checks)

    def _member(
        self, target: Target, op_class: str, config: BreakerConfig | None, store: BreakerStore | None
    ) -> Member:
        name = f"{target.name}/{op_class}" if op_class else target.name
        breaker = CircuitBreaker(
            name, config, clock=self.clock, listeners=self.emitter.listeners, store=store, rng=self._rng
        )
        operations = supported_operations(target.provider) & OPERATIONS[self.capability]
        return Member(target, breaker, self.healths[target.name], operations)

    def _checker(self, config: ProbeConfig | None) -> HealthChecker | None:
        if config is None:
            return None
        names = [t.name for t in self.targets]
        unknown = set(config.probes) - set(names)
        if unknown:
            raise ConfigError(f"health_checks.probes names unknown targets: {', '.join(sorted(unknown))}")
        checks = [
            Check(
                target.name,
                config.probes.get(target.name) or ProviderProbe(target.provider),
                self.healths[target.name],
                config.interval,
                config.timeout,
                config.jitter,
            )
            for target in self.targets
        ]
        return HealthChecker(checks, clock=self.clock, rng=self._rng)

    # ------------------------------------------------------------ calls

    def executor_for(self, operation: str) -> Executor:
        return self.executor_for_class(READ if operation in self.read_operations else WRITE)

    def executor_for_class(self, operation_class: str) -> Executor:
        """The executor for ``read`` or ``write`` calls (one and the same unless split)."""
        return self.executors[operation_class if self.split else ""]

    def run(self, operation: str, call: Callable[[Member], R], *, idempotent: bool = True) -> R:
        return self.executor_for(operation).run(operation, call, idempotent=idempotent)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self.checker is not None:
            self.checker.start()

    def close(self) -> None:
        if self.checker is not None:
            self.checker.stop()
        for executor in self.executors.values():
            executor.close()

    def __enter__(self) -> Pool:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------ introspection

    def member(self, name: str, operation_class: str = "") -> Member:
        executor = self.executors[operation_class if self.split else ""]
        for member in executor.router.members:
            if member.name == name:
                return member
        raise ConfigError(f"unknown target {name!r}; known: {', '.join(t.name for t in self.targets)}")

    def status(self) -> PoolStatus:
        now = self.clock.monotonic()
        routers = {op_class: ex.router for op_class, ex in self.executors.items()}
        calls = {name: h.calls.value for name, h in self.healths.items()}
        total = sum(calls.values())
        rows = []
        for target in self.targets:
            health = self.healths[target.name]
            breakers = {
                op_class or "all": self.member(target.name, op_class).breaker.state.value
                for op_class in routers
            }
            plans = [router.plan(now) for router in routers.values()]
            role = _role(target.name, plans, any(r.panic for r in routers.values()))
            rows.append(
                TargetStatus(
                    name=target.name,
                    priority=target.priority,
                    role=role,
                    healthy=health.healthy,
                    breakers=breakers,
                    latency_ms=None if health.latency is None else health.latency * 1000,
                    error_rate=health.error_rate,
                    calls=calls[target.name],
                    errors=health.errors.value,
                    traffic_share=calls[target.name] / total if total else 0.0,
                    last_error=health.last_error,
                )
            )
        return PoolStatus(tuple(rows), panic=any(r.panic for r in routers.values()))


def _role(name: str, plans: list[tuple[Member, ...]], panic: bool) -> str:
    if panic:
        return "panic"
    for plan in plans:
        # As the router's events do: a target only getting trial calls is not preferred.
        first = next((m for m in plan if m.breaker.state in _TAKES_TRAFFIC), None)
        if first is not None and first.name == name:
            return "preferred"
    if any(m.name == name for plan in plans for m in plan):
        return "standby"
    return "down"


def _validate_targets(targets: Sequence[Target], capability: Capability) -> list[Target]:
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Iterable):
        raise ConfigError("targets must be a list of Target objects")
    targets = list(targets)
    if not targets:
        raise ConfigError("at least one target is needed")
    seen: set[str] = set()
    for target in targets:
        if not isinstance(target, Target):
            raise ConfigError(f"expected a Target, got {type(target).__name__}")
        if target.name in seen:
            raise ConfigError(f"two targets are named {target.name}")
        seen.add(target.name)
        if not supported_operations(target.provider) & OPERATIONS[capability]:
            raise ConfigError(f"target {target.name}: its provider has no {capability.value} operations")
    return targets
