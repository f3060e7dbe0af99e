"""A pool's `status()`, put together: each target's row from its health, its breakers (one
per operation class when reads and writes route apart) and its place in the current plans.
It only reads the pool, so it stands apart from the pool's building and running of calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from failover.breaker.circuit import BreakerState
from failover.execution.status import PoolStatus, TargetStatus, passive_verdict
from failover.redact import redact
from failover.routing.router import Member

if TYPE_CHECKING:
    from failover.execution.pool import Pool

_TAKES_TRAFFIC = frozenset({BreakerState.CLOSED, BreakerState.FORCED_CLOSED})
_FORCED = frozenset({BreakerState.FORCED_OPEN, BreakerState.FORCED_CLOSED})


def pool_status(pool: Pool) -> PoolStatus:
    """`Pool.status`: each target's row, from its health, breakers and place in the plans."""
    now = pool.clock.monotonic()
    window = pool.status_window
    routers = {op_class: ex.router for op_class, ex in pool.executors.items()}
    recent = {name: h.recent() for name, h in pool.healths.items()}
    routed = {name: max(0, calls - unrouted) for name, (calls, _, unrouted) in recent.items()}
    total = sum(routed.values())
    panic = any(r.panic for r in routers.values())
    plans = [router.plan(now) for router in routers.values()]
    rows = []
    for target in pool.targets:
        health = pool.healths[target.name]
        members = {op_class or "all": pool.member(target.name, op_class) for op_class in routers}
        breakers = {op: m.breaker.state.value for op, m in members.items()}
        drained = next((m.drained for m in members.values() if m.drained is not None), None)
        forced = next((m.breaker.reason for m in members.values() if m.breaker.state in _FORCED), None)
        calls, errors, _ = recent[target.name]
        last_error, at = health.last_error, health.last_error_at
        age = None if at is None else max(0.0, now - at)
        recovered = health.healthy and all(m.breaker.state in _TAKES_TRAFFIC for m in members.values())
        if age is not None and age > window and recovered:
            last_error = age = None  # history: the target has been fine for a whole window
        rows.append(
            TargetStatus(
                name=target.name,
                priority=target.priority,
                role=_role(target.name, plans, panic, drained is not None),
                healthy=health.healthy,
                breakers=breakers,
                latency_ms=None if health.latency is None else health.latency * 1000,
                error_rate=health.error_rate,
                calls=health.calls.value,
                errors=health.errors.value,
                traffic_share=routed[target.name] / total if total else 0.0,
                last_error=None if last_error is None else redact(last_error),
                recent_calls=calls,
                recent_errors=errors,
                passive=passive_verdict(calls, errors),
                last_error_age=age,
                window=window,
                drained=drained,
                forced=forced,
            )
        )
    return PoolStatus(tuple(rows), panic=panic)


def _role(name: str, plans: list[tuple[Member, ...]], panic: bool, drained: bool) -> str:
    if panic:
        return "panic"
    in_plan = any(m.name == name for plan in plans for m in plan)
    if drained and in_plan:
        return "drained"  # in service, used only when nothing else can take a call
    for plan in plans:
        # As the router's events do: a target only getting trial calls is not preferred.
        first = next((m for m in plan if m.breaker.state in _TAKES_TRAFFIC and m.drained is None), None)
        if first is not None and first.name == name:
            return "preferred"
    return "standby" if in_plan else "down"


__all__ = ["pool_status"]
