"""The machinery every facade shares: members, router, executor, health checks, status.

A `Pool` is built from `Target`s for one capability.  It owns one breaker and one
health view per target (or, with ``breaker_per="operation_class"``, one breaker per
target for reads and one for writes, sharing the health), a router and an executor,
and, when asked, a `HealthChecker` thread probing every target.

`status()` reports the last ``HealthConfig.status_window`` seconds: calls, errors, a
passive verdict from them, and the traffic share of routed calls only.  A call pinned
to one target (every other one excluded: replication writes, repairs, marker checks,
``target=`` calls) and a half-open breaker's trial call count for the target's health,
not for its share.  The facades' own read and write paths bypass that check: it costs
only the calls made through `Pool.executor_for`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Protocol, TypeVar

from failover.breaker.circuit import BreakerConfig, CircuitBreaker
from failover.breaker.store import BreakerStore
from failover.breaker.sync import DEFAULT_SYNC_INTERVAL, StoreSync
from failover.capabilities import OPERATIONS, Capability, supported_operations
from failover.clock import Clock, SystemClock
from failover.errors import ConfigError
from failover.events import Emitter, Event, Listener
from failover.execution.executor import ByName, ExecutionConfig, Executor, as_call
from failover.execution.lookup import Lookup
from failover.execution.pool_status import pool_status
from failover.execution.status import PoolStatus
from failover.health.checker import Check, HealthChecker
from failover.health.probes import Probe, ProviderProbe
from failover.health.target_health import HealthConfig, TargetHealth
from failover.routing.policies import Policy, Priority
from failover.routing.router import Member, Router
from failover.target import Target

R = TypeVar("R")


READ = "read"
WRITE = "write"


@dataclass(frozen=True)
class ProbeConfig:
    """Active health checks: probe each target every ``interval`` seconds.

    Each target is probed with its provider's own ``probe()`` unless ``probes`` maps
    its name to another `Probe` (an HTTP check of the service in that region, say).
    ``timeout`` bounds one probe and must not exceed ``interval``; left out, it is
    2 s, or ``interval`` when that is shorter.
    """

    interval: float = 5.0
    timeout: float = None  # type: ignore[assignment]  # set in __post_init__: always a float after
    jitter: float = 0.1
    probes: Mapping[str, Probe] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.timeout is None and isinstance(self.interval, (int, float)) and not isinstance(self.interval, bool):
            object.__setattr__(self, "timeout", min(2.0, self.interval))  # frozen: settled once, here
        for name in ("interval", "timeout", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"ProbeConfig: {name} must be a number of seconds, got {value!r}")
        if self.interval <= 0:
            raise ConfigError(f"ProbeConfig: interval must be > 0 seconds, got {self.interval!r}")
        if not 0 < self.timeout <= self.interval:
            # A timeout longer than the interval would let probes of one target pile up.
            raise ConfigError(
                f"ProbeConfig: timeout must be > 0 and <= interval ({self.interval} s), got {self.timeout!r}; "
                "a probe must end before the next one starts"
            )
        if not 0 <= self.jitter < 1:
            raise ConfigError(f"ProbeConfig: jitter must be in [0, 1), got {self.jitter!r}")
        if not isinstance(self.probes, Mapping):
            raise ConfigError(f"ProbeConfig: probes must map target names to probes, got {self.probes!r}")
        for name, probe in self.probes.items():
            if not callable(getattr(probe, "check", None)):
                raise ConfigError(f"ProbeConfig: probes[{name!r}] has no check(timeout) method: {probe!r}")


class _Invalidate:
    """Tells a router to recompute its plan when a breaker or a health flips."""

    def __init__(self, routers: list[Router]) -> None:
        self._routers = routers

    def on_event(self, event: Event) -> None:
        for router in self._routers:
            router.invalidate()


class Run(Protocol):
    """`Executor.run`'s shape: ``run(operation, call, lookup, idempotent=..., exclude=...)``."""

    def __call__(self, operation: str, call: Callable[[Member], R] | ByName, *args: Any, **options: Any) -> R: ...


class _PoolExecutor(Executor):
    """An `Executor` that counts a call pinned to one target apart from routed traffic."""

    def __init__(self, *args: Any, names: frozenset[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._names = names

    def run(
        self, operation: str, call: Callable[[Member], R] | ByName, lookup: Lookup | None = None, **options: Any
    ) -> R:
        exclude = options.get("exclude")
        if exclude and len(self._names - exclude) == 1:
            call = _unrouted(as_call(operation, call))
        return super().run(operation, call, lookup, **options)

    def routed_run(self) -> Run:
        """The facades' read and write paths, which route: `Executor.run` itself, bound, or
        its fast lane `run_lead_first` when no call is raced against a timeout or hedged."""
        return super().run if self._concurrent else self.run_lead_first


def _unrouted(call: Callable[[Member], R]) -> Callable[[Member], R]:
    def pinned(member: Member) -> R:
        member.health.record_unrouted()
        return call(member)

    return pinned


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
        listeners = _check_arguments(
            policy=policy,
            breaker=breaker,
            breaker_store=breaker_store,
            health=health,
            execution=execution,
            health_checks=health_checks,
            clock=clock,
            listeners=listeners,
            rng=rng,
        )
        self.capability = capability
        self.clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self.read_operations = read_operations
        routers: list[Router] = []
        user_listeners = tuple(listeners)
        self.emitter = Emitter((_Invalidate(routers), *user_listeners))
        self.healths = {t.name: TargetHealth(t.name, health, emitter=self.emitter, clock=self.clock) for t in targets}
        self.status_window = next(iter(self.healths.values())).config.status_window
        classes = (READ, WRITE) if breaker_per == "operation_class" else ("",)
        self.executors: dict[str, _PoolExecutor] = {}
        names = frozenset(t.name for t in targets)
        execution = execution or ExecutionConfig()
        for op_class in classes:
            members = [self._member(t, op_class, breaker, breaker_store) for t in targets]
            router = Router(
                members, policy or Priority(), failback_after=failback_after, emitter=self.emitter, rng=self._rng
            )
            routers.append(router)
            hedgeable = read_operations if hedged_operations is None else hedged_operations
            self.executors[op_class] = _PoolExecutor(
                router, execution, self.clock, hedgeable=hedgeable, emitter=self.emitter, names=names
            )
        self.split = breaker_per == "operation_class"
        self.targets = tuple(targets)
        self.checker = self._checker(health_checks)
        self.store_sync = self._store_sync(breaker_store)

    def _member(
        self, target: Target, op_class: str, config: BreakerConfig | None, store: BreakerStore | None
    ) -> Member:
        name = f"{target.name}/{op_class}" if op_class else target.name
        health = self.healths[target.name]
        breaker = CircuitBreaker(
            name,
            config,
            clock=self.clock,
            listeners=self.emitter.listeners,
            store=store,
            rng=self._rng,
            on_trial=health.record_unrouted,
        )
        operations = supported_operations(target.provider) & OPERATIONS[self.capability]
        return Member(target, breaker, health, operations)

    def _store_sync(self, store: BreakerStore | None) -> StoreSync | None:
        """With a shared store, the breakers adopt other processes' transitions on the
        store's ``sync_interval`` (default `DEFAULT_SYNC_INTERVAL`), once started."""
        if store is None:
            return None
        breakers = [m.breaker for executor in self.executors.values() for m in executor.router.members]
        return StoreSync(breakers, getattr(store, "sync_interval", DEFAULT_SYNC_INTERVAL), store)

    def members_of(self, target: str) -> list[tuple[Router, Member]]:
        """``target``'s members (one, or one per operation class) with their routers."""
        if not any(t.name == target for t in self.targets):
            raise _unknown(target, self.targets)
        return [
            (executor.router, m)
            for executor in self.executors.values()
            for m in executor.router.members
            if m.target.name == target
        ]

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

    def routed_run(self, operation_class: str) -> Run:
        """The ``run`` of `executor_for_class`, for calls the router places: a facade's own
        reads and writes.  Skips the check for pinned calls (see the module docstring)."""
        return self.executors[operation_class if self.split else ""].routed_run()

    def run(self, operation: str, call: Callable[[Member], R], *, idempotent: bool = True) -> R:
        return self.executor_for(operation).run(operation, call, idempotent=idempotent)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self.checker is not None:
            self.checker.start()
        if self.store_sync is not None:
            self.store_sync.start()

    def close(self) -> None:
        if self.checker is not None:
            self.checker.stop()
        if self.store_sync is not None:
            self.store_sync.stop()
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
        raise _unknown(name, self.targets)

    def status(self) -> PoolStatus:
        """Each target's role, health, breakers and recent traffic (`failover.execution.status`)."""
        return pool_status(self)


def _unknown(name: str, targets: Sequence[Target]) -> ConfigError:
    return ConfigError(f"unknown target {name!r}; known: {', '.join(t.name for t in targets)}")


# Each keyword's expected type, as the message names it.
_CONFIG_TYPES: Mapping[str, tuple[type, str]] = {
    "breaker": (BreakerConfig, "a BreakerConfig"),
    "health": (HealthConfig, "a HealthConfig"),
    "execution": (ExecutionConfig, "an ExecutionConfig"),
    "health_checks": (ProbeConfig, "a ProbeConfig (ProbeConfig() probes every 5 s)"),
    "rng": (random.Random, "a random.Random"),
}
# Keywords taking any object with these methods (protocols, not classes).
_PROTOCOLS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "policy": (("order",), "a routing policy (failover.routing.policies)"),
    "breaker_store": (("save", "load"), "a BreakerStore (save and load)"),
    "clock": (("monotonic", "sleep"), "a Clock (monotonic and sleep)"),
}


def _check_arguments(*, listeners: Iterable[Listener], **given: object) -> tuple[Listener, ...]:
    """A `ConfigError` naming the keyword whose value has the wrong type, before anything
    is built; the listeners as a tuple."""
    for name, value in given.items():
        if value is None:
            continue
        if name in _CONFIG_TYPES:
            kind, wanted = _CONFIG_TYPES[name]
            if not isinstance(value, kind):
                raise ConfigError(f"{name} must be {wanted} or None, got {value!r}")
        else:
            methods, wanted = _PROTOCOLS[name]
            if not all(callable(getattr(value, m, None)) for m in methods):
                raise ConfigError(f"{name} must be {wanted} or None, got {value!r}")
    if isinstance(listeners, (str, bytes)) or not isinstance(listeners, Iterable):
        raise ConfigError(f"listeners must be a sequence of listeners, got {listeners!r}")
    found = tuple(listeners)
    for i, listener in enumerate(found):
        if not callable(getattr(listener, "on_event", None)):
            raise ConfigError(f"listeners[{i}] has no on_event(event) method: {listener!r}")
    return found


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


__all__ = ["READ", "WRITE", "Pool", "ProbeConfig", "Run"]
