"""`StandbyPool` on memory providers behind chaos layers, on a fake clock: nothing sleeps."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from failover import BreakerConfig, ExecutionConfig, FailoverCompute, FakeClock, InstanceSpec, InstanceState, Target
from failover.capabilities import Instance
from failover.controllers.standby import (
    CREATED_BY_TAG,
    OWNER_TAG,
    ROLE_TAG,
    StandbyAction,
    StandbyActionFailed,
    StandbyEvent,
    StandbyPool,
)
from failover.errors import ConfigError, InvalidInput, PermissionDenied, Unavailable
from failover.events import LoggingListener
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryCompute

NAMES = ("memory:a", "memory:b", "memory:c")
SPEC = InstanceSpec("web", "small", "debian-12", {"app": "web"})
FAILBACK = 60.0


@dataclass
class Recorder:
    events: list[StandbyEvent] = field(default_factory=list)

    def on_event(self, event: StandbyEvent) -> None:
        self.events.append(event)

    def actions(self, action: str) -> list[StandbyAction]:
        return [e for e in self.events if isinstance(e, StandbyAction) and e.action == action]


class LosesResponses:
    """A region that creates the instance, then fails the reply (a timeout after commit)."""

    def __init__(self, inner: MemoryCompute) -> None:
        self.inner = inner
        self.lose = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create_instance(self, spec: InstanceSpec) -> Instance:
        made = self.inner.create_instance(spec)
        if self.lose:
            raise Unavailable("connection reset after the request was sent")
        return made


@dataclass
class Rig:
    clock: FakeClock
    regions: list[MemoryCompute]
    chaos: list[ChaosProvider]
    compute: FailoverCompute
    recorder: Recorder

    def pool(self, mode: str = "warm_standby", desired: int = 2, **options: Any) -> StandbyPool:
        options.setdefault("failback_after", FAILBACK)
        return StandbyPool(self.compute, "web", SPEC, desired=desired, mode=mode, listeners=[self.recorder], **options)  # type: ignore[arg-type]

    def live(self, index: int, owned_by: str | None = "web") -> list[Instance]:
        return [
            i
            for i in self.regions[index].list_instances({ROLE_TAG: "web"})
            if i.state is InstanceState.RUNNING and (owned_by is None or i.tags.get(OWNER_TAG) == owned_by)
        ]

    def counts(self) -> list[int]:
        return [len(self.live(i, None)) for i in range(len(self.regions))]


def make_rig(wrap: Any = None) -> Rig:
    clock = FakeClock()
    regions = [MemoryCompute(f"region-{n}", clock=clock) for n in "abc"]
    inner: list[Any] = [r if wrap is None else wrap(i, r) for i, r in enumerate(regions)]
    chaos = [ChaosProvider(p, seed=i, clock=clock) for i, p in enumerate(inner)]
    recorder = Recorder()
    compute = FailoverCompute(
        [Target(NAMES[i], chaos[i], priority=i) for i in range(3)],
        clock=clock,
        breaker=BreakerConfig(consecutive_failures=3, open_base=5.0, jitter=0.0),
        execution=ExecutionConfig(attempt_timeout=1.0, deadline=10.0),
        failback_after=FAILBACK,
    )
    return Rig(clock, regions, chaos, compute, recorder)


def test_first_pass_fills_the_primary_and_the_next_does_nothing() -> None:
    rig = make_rig()
    pool = rig.pool()
    report = pool.reconcile()
    assert rig.counts() == [2, 0, 0]
    assert [(a.target, a.action) for a in report.actions] == [("memory:a", "create")] * 2
    made = rig.live(0)[0]
    assert made.tags[CREATED_BY_TAG] == "standby-pool" and made.tags["app"] == "web"
    assert made.name.startswith("web-")
    again = pool.reconcile()
    assert again.actions == () and again.short == 0 and rig.counts() == [2, 0, 0]


@pytest.mark.parametrize("mode", ["warm_standby", "pilot_light"])
def test_outage_restores_capacity_in_one_pass_and_failback_waits_for_the_hysteresis(mode: str) -> None:
    rig = make_rig()
    pool = rig.pool(mode)
    pool.reconcile()
    rig.chaos[0].down()  # region a stops answering

    report = pool.reconcile()
    assert report.down == ("memory:a",)
    assert report.short == 0
    assert rig.counts() == [2, 2, 0]  # a's instances still exist, unreachable

    rig.chaos[0].heal()
    rig.clock.advance(1)
    recovering = pool.reconcile()
    assert "memory:a" not in recovering.settled and recovering.actions == ()
    rig.clock.advance(FAILBACK - 1)  # the hysteresis counts from the pass that saw it back
    assert pool.reconcile().actions == ()
    assert rig.counts() == [2, 2, 0]

    rig.clock.advance(1)
    back = pool.reconcile()
    removal = "stop" if mode == "pilot_light" else "terminate"
    assert [(a.target, a.action) for a in back.actions] == [("memory:b", removal)] * 2
    assert rig.counts() == [2, 0, 0]
    assert pool.reconcile().actions == ()
    if mode == "pilot_light":
        standbys = [i for i in rig.regions[1].list_instances() if i.state is InstanceState.STOPPED]
        assert len(standbys) == 2


def test_pilot_light_starts_its_stopped_standbys_instead_of_creating() -> None:
    rig = make_rig()
    pool = rig.pool("pilot_light")
    pool.reconcile()
    rig.chaos[0].down()
    pool.reconcile()
    rig.chaos[0].heal()
    pool.reconcile()  # sees a back
    rig.clock.advance(FAILBACK)
    pool.reconcile()  # b's two go back to being stopped standbys
    rig.chaos[0].down()
    rig.recorder.events.clear()
    report = pool.reconcile()
    assert [(a.target, a.action) for a in report.actions] == [("memory:b", "start")] * 2
    assert rig.recorder.actions("create") == []
    assert len(list(rig.regions[1].list_instances())) == 2  # nothing new was made


def test_a_down_health_view_counts_as_zero_without_calling_the_target() -> None:
    rig = make_rig()
    pool = rig.pool()
    pool.reconcile()
    calls = rig.chaos[0].calls
    health = rig.compute.pool.healths["memory:a"]
    for _ in range(health.config.fall):
        health.record_probe(False, rig.clock.monotonic(), "probe failed")
    report = pool.reconcile()
    assert rig.chaos[0].calls == calls
    assert report.down == ("memory:a",) and rig.counts() == [2, 2, 0]


def test_an_error_mid_reconcile_moves_on_to_the_next_region() -> None:
    rig = make_rig()
    pool = rig.pool()
    pool.reconcile()
    rig.chaos[0].down()
    rig.chaos[1].configure(error_rate=1.0, operations={"create_instance"})
    report = pool.reconcile()
    assert report.short == 0
    assert rig.counts() == [2, 0, 2]
    failed = [e for e in rig.recorder.events if isinstance(e, StandbyActionFailed)]
    assert {(e.target, e.action) for e in failed} >= {("memory:b", "create"), ("memory:a", "list")}
    # Nothing half-made anywhere: every instance of the role is accounted for.
    assert sum(len(list(r.list_instances())) for r in rig.regions) == 4


def test_a_create_that_failed_after_commit_is_cleaned_up_on_the_next_pass() -> None:
    rig = make_rig(lambda i, region: LosesResponses(region) if i == 1 else region)
    pool = rig.pool()
    pool.reconcile()
    rig.chaos[0].down()
    first = pool.reconcile()
    assert first.short == 0
    assert rig.counts() == [2, 1, 2]  # b made one (tagged) though it reported failure
    orphan = rig.live(1)[0]
    assert pool.owns(orphan)

    second = pool.reconcile()
    assert [(a.target, a.action) for a in second.actions] == [("memory:c", "terminate")]
    assert len(rig.live(1)) + len(rig.live(2)) == 2  # back to exactly `desired` outside a
    assert pool.reconcile().actions == ()


def test_never_stops_or_terminates_what_it_did_not_create() -> None:
    rig = make_rig()
    foreign = rig.regions[1].create_instance(InstanceSpec("hand-made", "small", "debian-12", {ROLE_TAG: "web"}))
    other_pool = rig.regions[1].create_instance(
        InstanceSpec(
            "theirs", "small", "debian-12", {ROLE_TAG: "web", OWNER_TAG: "other", CREATED_BY_TAG: "standby-pool"}
        )
    )
    unrelated = rig.regions[2].create_instance(InstanceSpec("db", "small", "debian-12", {"app": "db"}))
    pool = rig.pool(desired=1)
    report = pool.reconcile()
    assert report.actions == ()  # the foreign ones already provide the capacity
    assert report.running == {"memory:a": 0, "memory:b": 2, "memory:c": 0}
    for instance in (foreign, other_pool, unrelated):
        assert rig.regions[1 if instance is not unrelated else 2].describe_instance(instance.id).state is (
            InstanceState.RUNNING
        )
    assert not pool.owns(foreign) and not pool.owns(other_pool)


def test_surplus_of_foreign_instances_is_left_alone() -> None:
    rig = make_rig()
    for n in range(3):
        rig.regions[0].create_instance(InstanceSpec(f"h{n}", "small", "debian-12", {ROLE_TAG: "web"}))
    report = rig.pool(desired=1).reconcile()
    assert report.actions == () and rig.counts() == [3, 0, 0]


def test_permanent_errors_name_the_target_when_capacity_stays_short() -> None:
    rig = make_rig()
    bad = InstanceSpec("web", "huge", "debian-12")
    pool = StandbyPool(rig.compute, "web", bad, desired=1, mode="warm_standby", failback_after=1.0)
    with pytest.raises(InvalidInput) as caught:
        pool.reconcile()
    assert caught.value.target == "memory:a"
    assert "huge" in str(caught.value) and "memory:a" in str(caught.value)


def test_a_per_target_spec_lets_capacity_land_elsewhere() -> None:
    rig = make_rig()
    bad = InstanceSpec("web", "huge", "debian-12")
    pool = StandbyPool(
        rig.compute, "web", bad, desired=1, mode="warm_standby", failback_after=1.0, specs={"memory:b": SPEC}
    )
    report = pool.reconcile()
    assert report.short == 0 and rig.counts() == [0, 1, 0]
    assert [(e.target, e.kind) for e in report.errors] == [("memory:a", "invalid_input")]


def test_permission_denied_on_listing_stops_the_pass() -> None:
    rig = make_rig()
    rig.chaos[1].configure(error_rate=1.0, errors=PermissionDenied, operations={"list_instances"})
    pool = rig.pool()
    with pytest.raises(PermissionDenied) as caught:
        pool.reconcile()
    assert caught.value.target == "memory:b"
    assert rig.counts() == [0, 0, 0]  # it did not act blind


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"desired": 0}, "desired"),
        ({"desired": -2}, "desired"),
        ({"desired": True}, "desired"),
        ({"mode": "hot"}, "mode"),
        ({"failback_after": -1}, "failback_after"),
        ({"specs": {"memory:z": SPEC}}, "memory:z"),
        ({"pool_id": "Has Spaces"}, "pool_id"),
    ],
)
def test_bad_configuration_is_refused(options: dict[str, Any], message: str) -> None:
    rig = make_rig()
    kwargs: dict[str, Any] = {"desired": 1, "mode": "warm_standby", "failback_after": 1.0, **options}
    with pytest.raises(ConfigError, match=message):
        StandbyPool(rig.compute, "web", SPEC, **kwargs)


def test_reserved_tags_and_bad_roles_are_refused() -> None:
    rig = make_rig()
    with pytest.raises(ConfigError, match=OWNER_TAG):
        StandbyPool(
            rig.compute,
            "web",
            InstanceSpec("w", "small", "debian-12", {OWNER_TAG: "x"}),
            desired=1,
            mode="warm_standby",
            failback_after=0,
        )
    with pytest.raises(ConfigError, match="role"):
        StandbyPool(rig.compute, "Web Tier", SPEC, desired=1, mode="warm_standby", failback_after=0)


def test_a_broken_listener_does_not_break_the_pass() -> None:
    class Broken:
        def on_event(self, event: StandbyEvent) -> None:
            raise RuntimeError("listener bug")

    rig = make_rig()
    pool = StandbyPool(rig.compute, "web", SPEC, desired=1, mode="warm_standby", failback_after=0, listeners=[Broken()])
    assert pool.reconcile().short == 0


def test_each_action_is_logged_once_and_routine_start_up_is_not_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = make_rig()
    pool = StandbyPool(
        rig.compute, "web", SPEC, desired=2, mode="warm_standby", listeners=[LoggingListener()], failback_after=FAILBACK
    )
    with caplog.at_level(logging.DEBUG, logger="failover"):
        report = pool.reconcile()
    created = [r for r in caplog.records if " create " in r.getMessage()]
    assert len(report.actions) == 2 and len(created) == 2, [r.getMessage() for r in caplog.records]
    assert {r.levelno for r in created} == {logging.INFO}
    assert {r.failover_target for r in created} == {"memory:a"}  # type: ignore[attr-defined]


def test_a_failed_action_is_a_warning_when_temporary() -> None:
    event = StandbyActionFailed("web", "memory:a", "create", "unavailable", "down", temporary=True)
    assert event.level == logging.WARNING
    refused = StandbyActionFailed("web", "memory:a", "create", "invalid_input", "bad", temporary=False)
    assert refused.level == logging.ERROR
