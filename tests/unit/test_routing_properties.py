"""Property tests: router and executor invariants under random outages and recoveries."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failover import BreakerConfig, BreakerState, ExecutionConfig
from failover.errors import FailoverError
from failover.routing.router import Member
from tests.unit.pools import NAMES, Rig, make_rig

FAILBACK = 20.0

step = st.one_of(
    st.tuples(st.just("down"), st.integers(0, 2)),
    st.tuples(st.just("heal"), st.integers(0, 2)),
    st.tuples(st.just("advance"), st.floats(0.1, 15.0)),
    st.tuples(st.just("call"), st.integers(1, 20)),
)


@dataclass
class Observer:
    """Checks every attempt as it happens, against an independent reading of the state."""

    rig: Rig
    violations: list[str] = field(default_factory=list)
    attempted: list[str] = field(default_factory=list)

    def members(self) -> tuple[Member, ...]:
        return self.rig.storage.pool.executor_for("get").router.members

    def ready(self, member: Member, now: float) -> bool:
        breaker = member.breaker
        return (
            member.health.healthy
            and breaker.state is BreakerState.CLOSED
            and now - member.up_since() >= FAILBACK
        )

    def on_attempt(self, name: str) -> None:
        now = self.rig.clock.monotonic()
        router = self.rig.storage.pool.executor_for("get").router
        member = next(m for m in self.members() if m.name == name)
        breaker = member.breaker
        if breaker.state is BreakerState.OPEN and now < breaker.open_until and not router.panic:
            self.violations.append(f"{name} called while its breaker is open")
        if breaker.state is BreakerState.CLOSED and not self.ready(member, now):
            skipped = [m.name for m in self.members() if self.ready(m, now) and m.name not in self.attempted]
            if skipped:
                self.violations.append(f"{name} got traffic during its hysteresis while {skipped} were ready")
        self.attempted.append(name)


def instrument(rig: Rig, observer: Observer) -> None:
    # Wrap what the targets hold (the chaos layer), so failed attempts are seen too.
    for name, provider in zip(NAMES, rig.chaos, strict=True):
        original = provider.get

        def get(key: str, _name: str = name, _original=original) -> bytes:  # type: ignore[no-untyped-def]
            observer.on_attempt(_name)
            return _original(key)  # type: ignore[no-any-return]

        provider.get = get  # type: ignore[method-assign]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=40), st.integers(0, 1000))
def test_routing_invariants_hold_under_random_outages(steps: list[tuple[str, float]], seed: int) -> None:
    rig = make_rig(
        seed=seed,
        failback_after=FAILBACK,
        breaker=BreakerConfig(consecutive_failures=2, open_base=5.0, open_max=40.0, jitter=0.1),
        execution=ExecutionConfig(retry_burst=1000, retry_floor_per_second=1000),
    )
    observer = Observer(rig)
    instrument(rig, observer)
    for action, value in steps:
        if action == "down":
            rig.chaos[int(value)].down()
        elif action == "heal":
            rig.chaos[int(value)].heal()
        elif action == "advance":
            rig.clock.advance(value)
        else:
            for _ in range(int(value)):
                observer.attempted.clear()
                # A target that answers and whose breaker admits calls must serve the call.
                admitted = [
                    chaos.settings.error_rate == 0 and member.breaker.is_available()
                    for chaos, member in zip(rig.chaos, observer.members(), strict=True)
                ]
                try:
                    assert rig.storage.get("seed") == b"seed-data"
                except FailoverError:
                    assert not any(admitted), "a call failed while an admitted target was answering"
    assert observer.violations == []


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 3.0), st.integers(0, 30)), min_size=1, max_size=20),
    st.floats(0.05, 0.5),
    st.integers(1, 20),
)
def test_retry_budget_never_exceeds_ratio_plus_floor_plus_burst(
    rounds: list[tuple[float, int]], ratio: float, burst: int
) -> None:
    floor = 2.0
    rig = make_rig(
        breaker=BreakerConfig(consecutive_failures=0, failure_rate=None),
        execution=ExecutionConfig(retry_ratio=ratio, retry_floor_per_second=floor, retry_burst=burst),
    )
    for chaos in rig.chaos:
        chaos.down()
    calls = 0
    elapsed = 0.0
    for advance, count in rounds:
        rig.clock.advance(advance)
        elapsed += advance
        for _ in range(count):
            calls += 1
            with contextlib.suppress(FailoverError):
                rig.storage.get("seed")
    retries = sum(c.calls for c in rig.chaos) - calls
    assert retries <= burst + ratio * calls + floor * elapsed + 1e-9
