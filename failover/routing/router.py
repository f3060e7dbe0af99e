"""Which targets a call tries, in which order.

The `Router` sorts the pool into tiers, then lets a policy order each tier:

1. *ready*: healthy, breaker closed (or half-open / open-but-due, so a trial call
   can go through), and, if the target was down, up again for at least
   ``failback_after`` seconds (failback hysteresis);
2. *recovering*: back up, but not for long enough: used only when no ready
   target takes the call;
3. *drained*: taken out of rotation by an operator (`Router.drain`), yet healthy:
   last resort before panic, and still written by replication;
4. *panic*: when both tiers are empty, every target in priority order but those an
   operator forced open, breakers bypassed, because trying a target that looks down
   beats failing with nothing.

The tiers change only on a breaker transition, a health flip or the passing of a
known time (an open breaker falling due, a hysteresis ending), so the router keeps
the result and recomputes it only then: the common call pays one comparison.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from failover.breaker.circuit import BreakerState, CircuitBreaker
from failover.errors import ConfigError
from failover.events import Emitter, Event, FailedBack, FailedOver, PanicMode
from failover.health.target_health import TargetHealth
from failover.routing.policies import Policy
from failover.target import Target

_CLOSED = BreakerState.CLOSED
_FORCED_CLOSED = BreakerState.FORCED_CLOSED
_FORCED_OPEN = BreakerState.FORCED_OPEN
_OPEN = BreakerState.OPEN

# The provider's type, defaulting to Any for type checkers only, as in `failover.target`.
if TYPE_CHECKING:
    from typing_extensions import TypeVar as DefaultedTypeVar

    P = DefaultedTypeVar("P", default=Any)
else:
    P = TypeVar("P")


class Member(Generic[P]):
    """A target at run time: its provider, breaker and health, side by side."""

    __slots__ = (
        "breaker",
        "drained",
        "health",
        "name",
        "operations",
        "priority",
        "provider",
        "reads_deadline",
        "stack",
        "target",
        "weight",
    )

    def __init__(
        self, target: Target[P], breaker: CircuitBreaker, health: TargetHealth, operations: frozenset[str]
    ) -> None:
        self.target = target
        self.name = target.name
        self.provider: P = target.provider
        self.priority = target.priority
        self.weight = float(target.weight)
        self.breaker = breaker
        self.health = health
        self.operations = operations
        # Providers that honour `failover.deadline` say so; only they get it published.
        self.reads_deadline = bool(getattr(target.provider, "reads_deadline", False))
        # The layers around each attempt on this target (`failover.layers`), set by the
        # executor that owns the member; None: the provider is called directly.
        self.stack: Callable[[Any], Any] | None = None
        # Why an operator drained the target (`Router.drain`), or None: routed calls go
        # to it only when no other target can take them.
        self.drained: str | None = None

    def up_since(self) -> float:
        """Since when the target has been continuously usable (-inf: always was)."""
        return max(self.health.up_since, self.breaker.closed_since)

    def __repr__(self) -> str:
        return f"Member({self.name!r})"


_NO_LEADS: Mapping[str, Member] = MappingProxyType({})


def _leads(ordered: Sequence[Member]) -> Mapping[str, Member]:
    """For each operation, the first of ``ordered`` to take it."""
    first: dict[str, Member] = {}
    for member in ordered:
        for operation in member.operations:
            first.setdefault(operation, member)
    return first


@dataclass(frozen=True, slots=True)
class Plan:
    """The ordered targets for calls made before ``valid_until``."""

    members: tuple[Member, ...]
    panic: bool
    valid_until: float
    epoch: int
    # Per operation, the member each call of it tries first, when that is known ahead of
    # the call (not in panic, not drawn per call): the executor's fast lane
    # (`Executor.run_lead_first`) goes straight to it.
    leads: Mapping[str, Member]


class Router:
    """Orders a pool's members for each call; thread-safe, lock-free on the common path."""

    def __init__(
        self,
        members: Sequence[Member],
        policy: Policy,
        *,
        failback_after: float = 30.0,
        emitter: Emitter | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not members:
            raise ConfigError("a router needs at least one target")
        if failback_after < 0:
            raise ConfigError(f"failback_after must be >= 0, got {failback_after}")
        self.members = tuple(sorted(members, key=lambda m: m.priority))
        self.policy = policy
        self.shuffles = policy.shuffles
        self.failback_after = failback_after
        self._emitter = emitter or Emitter()
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self.epoch = 0  # bumped by `invalidate` on every breaker or health change
        self.cached = Plan((), False, -math.inf, -1, _NO_LEADS)
        self._preferred: Member | None = None  # first choice of the last plan, for events
        self._away_since: dict[str, float] = {}  # when traffic left a former first choice

    def invalidate(self) -> None:
        """Something changed (breaker transition, health flip): recompute on next call."""
        self.epoch += 1

    def drain(self, member: Member, reason: str | None) -> None:
        """Put ``member`` last in every plan (``reason``), or back in its place (None)."""
        member.drained = reason
        self.invalidate()

    def plan(self, now: float) -> tuple[Member, ...]:
        """The members to try, in order, for a call made at ``now``."""
        members = self.current(now).members
        return self.reorder(members) if self.shuffles else members

    def current(self, now: float) -> Plan:
        """The cached plan, recomputed if something changed or a known time passed."""
        cached = self.cached
        if cached.epoch == self.epoch and now < cached.valid_until:
            return cached
        return self.replan(now)

    def reorder(self, members: tuple[Member, ...]) -> tuple[Member, ...]:
        """A fresh order for a shuffling policy (weighted), drawn per call."""
        return self.policy.order(members, self._rng) if len(members) > 1 else members

    @property
    def panic(self) -> bool:
        return self.cached.panic

    def replan(self, now: float) -> Plan:
        events: list[Event] = []
        with self._lock:
            epoch = self.epoch
            ready, recovering, drained, valid_until = self._tiers(now)
            ordered = self.policy.order(ready, self._rng) + self.policy.order(recovering, self._rng)
            ordered += self.policy.order(drained, self._rng)
            panic = not ordered
            if panic:  # every target that an operator has not taken out, breakers bypassed
                ordered = tuple(m for m in self.members if m.breaker.state is not _FORCED_OPEN)
            valid_until = min(valid_until, now + self.policy.refresh_every)
            leads = _NO_LEADS if panic or self.shuffles else _leads(ordered)
            plan = Plan(tuple(ordered), panic, valid_until, epoch, leads)
            self._note_changes(plan, now, events)
            self.cached = plan
        for event in events:
            self._emitter.emit(event)
        return plan

    def _tiers(self, now: float) -> tuple[tuple[Member, ...], tuple[Member, ...], tuple[Member, ...], float]:
        ready: list[Member] = []
        recovering: list[Member] = []
        drained: list[Member] = []
        valid_until = math.inf
        for member in self.members:
            breaker = member.breaker
            state = breaker.state
            if not member.health.healthy or state is _FORCED_OPEN:
                continue
            if state is _OPEN and now < breaker.open_until:
                valid_until = min(valid_until, breaker.open_until)
                continue
            settled_at = member.up_since() + self.failback_after
            if member.drained is not None:
                drained.append(member)
            elif (state is _CLOSED or state is _FORCED_CLOSED) and now < settled_at:
                recovering.append(member)
                valid_until = min(valid_until, settled_at)
            else:
                ready.append(member)
        return tuple(ready), tuple(recovering), tuple(drained), valid_until

    def _note_changes(self, plan: Plan, now: float, events: list[Event]) -> None:
        if plan.panic != self.cached.panic:
            events.append(PanicMode(entered=plan.panic))
        # The preferred target is the first one that takes traffic for good: a target
        # only getting a trial call (breaker open or half-open) is not, or every trial
        # during an outage would read as a failback.
        first = None if plan.panic else next((m for m in plan.members if _closed(m) and m.drained is None), None)
        previous = self._preferred
        if first is None or first is previous:
            return
        if previous is not None:
            self._away_since[previous.name] = now
            if first.priority < previous.priority:
                away = now - self._away_since.pop(first.name, now)
                events.append(FailedBack(first.name, away))
            else:
                events.append(FailedOver(previous.name, first.name, _why_not(previous)))
        self._preferred = first


def _closed(member: Member) -> bool:
    state = member.breaker.state
    return state is _CLOSED or state is _FORCED_CLOSED


def _why_not(member: Member) -> str:
    """Why traffic left a target, for the `FailedOver` event."""
    if member.drained is not None:
        return f"drained: {member.drained}"
    if not member.health.healthy:
        return f"health checks failing: {member.health.last_error or 'probe failed'}"
    breaker = member.breaker
    if breaker.state is not _CLOSED:
        last = f": {breaker.last_failure}" if breaker.last_failure else ""
        return f"breaker {breaker.state.value}{last}"
    return "routing policy"


__all__ = ["Member", "Plan", "Router"]
