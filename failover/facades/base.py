"""What every facade has: a pool, status, lifecycle, and calls pinned to one target."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, overload

from failover.breaker.circuit import BreakerState
from failover.capabilities import OPERATIONS, Capability
from failover.errors import ConfigError
from failover.execution.pool import READ, WRITE, Pool
from failover.execution.status import PoolStatus
from failover.layers.base import check_instruments
from failover.routing.router import Member, Router
from failover.target import Target

if TYPE_CHECKING:
    from failover.breaker.circuit import BreakerConfig
    from failover.breaker.store import BreakerStore
    from failover.clock import Clock
    from failover.events import Listener
    from failover.execution.executor import ByName, ExecutionConfig
    from failover.execution.lookup import Lookup
    from failover.execution.pool import ProbeConfig
    from failover.health.target_health import HealthConfig
    from failover.routing.policies import Policy

P = TypeVar("P")  # the capability protocol the facade's providers implement
R = TypeVar("R")
F = TypeVar("F", bound="Facade[Any]")


class _Run(Protocol[P]):
    """A routed ``Executor.run`` as a facade calls it: ``call`` gets a member whose
    ``provider`` has the facade's provider type, so the call's result type is known.
    A call by name (a tuple of arguments for the provider method named ``operation``)
    has no such type: the facade states it."""

    @overload
    def __call__(
        self,
        operation: str,
        call: Callable[[Member[P]], R],
        lookup: Lookup | None = ...,
        *,
        idempotent: bool = ...,
        exclude: frozenset[str] = ...,
    ) -> R: ...

    @overload
    def __call__(
        self,
        operation: str,
        call: ByName,
        lookup: Lookup | None = ...,
        *,
        idempotent: bool = ...,
        exclude: frozenset[str] = ...,
    ) -> Any: ...


class Facade(Generic[P]):
    """Base of `FailoverStorage`, `FailoverDNS` and `FailoverCompute`.

    The keywords configure the `failover.execution.pool.Pool` behind the facade:

    * ``policy``: how ready targets are ordered (default `failover.routing.policies.Priority`);
    * ``failback_after``: seconds a recovered target must stay up before it is preferred again;
    * ``breaker``: the circuit breakers' `BreakerConfig`; ``breaker_per``: one breaker per
      ``"target"``, or per target and ``"operation_class"`` (reads apart from writes);
      ``breaker_store``: where breaker state is shared (a fleet's Redis, say);
    * ``health``: passive health (`HealthConfig`); ``health_checks``: active probes (`ProbeConfig`);
    * ``execution``: timeouts, retries and hedging (`ExecutionConfig`);
    * ``clock``, ``listeners`` (event listeners) and ``rng``;
    * ``instruments``: telemetry attached in one piece (`failover.layers.check_instruments`:
      Prometheus metrics, OpenTelemetry traces, or the application's own).
    """

    kind: str  # "storage", "dns" or "compute": how instruments name the facade

    capability: Capability
    read_operations: frozenset[str]
    # Reads that may be hedged: those returning a value, not an open stream or listing,
    # since the losing attempt of a hedge would hold its stream open until collected.
    hedged_operations: frozenset[str] | None = None

    def __init__(
        self,
        targets: Sequence[Target[P]],
        *,
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
        instruments: Iterable[object] = (),
    ) -> None:
        found = check_instruments(instruments)
        if found:
            execution, listeners = _with_instruments(found, execution, listeners)
        self.pool = Pool(
            targets,
            self.capability,
            read_operations=self.read_operations,
            hedged_operations=self.hedged_operations,
            policy=policy,
            failback_after=failback_after,
            breaker=breaker,
            breaker_per=breaker_per,
            breaker_store=breaker_store,
            health=health,
            execution=execution,
            health_checks=health_checks,
            clock=clock,
            listeners=listeners,
            rng=rng,
        )
        # Bound once: each call goes straight to its executor, with no dispatch per call.
        self._read: _Run[P] = self.pool.routed_run(READ)
        self._write: _Run[P] = self.pool.routed_run(WRITE)
        self.instruments = found
        if found:
            self._instrument_calls(found)

    def _instrument_calls(self, instruments: tuple[Any, ...]) -> None:
        """Wrap each operation the instruments ask for, as an attribute of this facade
        (so a facade without instruments runs its methods unwrapped), then attach them."""
        for instrument in instruments:
            wrap_call = getattr(instrument, "wrap_call", None)
            if not callable(wrap_call):
                continue
            for operation in sorted(OPERATIONS[self.capability]):
                wrapped = wrap_call(self.kind, operation, getattr(self, operation))
                if wrapped is not None:
                    setattr(self, operation, wrapped)
        for instrument in instruments:
            attach = getattr(instrument, "attach", None)
            if callable(attach):
                attach(self)

    def _pinned(self, target: str, operation: str, call: Callable[[Member[P]], R], *, idempotent: bool = True) -> R:
        """Run on one named target only: its resources (instances, say) live nowhere else."""
        self.pool.member(target)  # raises ConfigError for an unknown name
        others = frozenset(t.name for t in self.pool.targets if t.name != target)
        return self.pool.executor_for(operation).run(operation, call, idempotent=idempotent, exclude=others)

    # ------------------------------------------------------------ maintenance

    def force_open(self, target: str, reason: str) -> None:
        """Take ``target`` out of service until `release`: no call reaches it and health
        checks cannot bring it back.  A replicated `FailoverStorage` journals the writes
        it misses and repairs them once it is released."""
        for _, member in self._maintained(target, reason):
            member.breaker.force_open(reason)

    def force_closed(self, target: str, reason: str) -> None:
        """Keep ``target``'s breaker closed whatever its errors, until `release` (when
        the breaker misjudges a target that is known to be fine)."""
        for _, member in self._maintained(target, reason):
            member.breaker.force_closed(reason)

    def drain(self, target: str, reason: str) -> None:
        """Move routed calls off ``target`` while it stays in service, until `release`:
        calls already on it finish, health checks go on, replicated writes still reach
        it (at once with ``All``; through the background repair with ``Primary`` and
        ``Quorum``), and it is used only when no other target can take a call.  For
        maintenance that should lose no traffic and no writes; `status()` shows it
        ``drained``, with ``reason``."""
        for router, member in self._maintained(target, reason):
            router.drain(member, reason)

    def release(self, target: str, reason: str = "released by operator") -> None:
        """Back to automatic after `force_open`, `force_closed` or `drain`: the breaker
        of a forced target restarts CLOSED, with empty windows; a breaker that opened by
        itself keeps its state."""
        for router, member in self._maintained(target, reason):
            if member.drained is not None:
                router.drain(member, None)
            if member.breaker.state in (BreakerState.FORCED_OPEN, BreakerState.FORCED_CLOSED):
                member.breaker.reset(reason)

    def _maintained(self, target: str, reason: str) -> list[tuple[Router, Member[P]]]:
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"reason must say why, for the logs and the status: got {reason!r}")
        if not isinstance(target, str):
            raise ConfigError(f"target must be a target's name, got {target!r}")
        return self.pool.members_of(target)

    def status(self) -> PoolStatus:
        """Per target: role, health, breaker state, EWMA latency, traffic share, last error."""
        return self.pool.status()

    def start(self: F) -> F:
        """Start the background health checks, if any are configured."""
        self.pool.start()
        return self

    def close(self) -> None:
        self.pool.close()

    def __enter__(self: F) -> F:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(t.name for t in self.pool.targets)})"


def _with_instruments(
    instruments: tuple[Any, ...], execution: ExecutionConfig | None, listeners: Iterable[Listener]
) -> tuple[ExecutionConfig, tuple[Listener, ...]]:
    """The execution config with the instruments' layers outermost, and the listeners
    with the instruments that listen."""
    from failover.execution.executor import ExecutionConfig

    config = execution if execution is not None else ExecutionConfig()
    if not isinstance(config, ExecutionConfig):
        return config, tuple(listeners)  # the pool names the bad argument
    layers = tuple(i for i in instruments if callable(getattr(i, "wrap", None)))
    if layers:
        config = dataclasses.replace(config, layers=(*layers, *config.layers))
    heard = tuple(i for i in instruments if callable(getattr(i, "on_event", None)))
    return config, (*listeners, *heard)


__all__ = ["Facade"]
