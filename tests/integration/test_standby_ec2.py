"""`StandbyPool` over two EC2 regions, each its own moto_server process.

The outage of us-east-1 is injected by a `ChaosProvider` around its adapter (the shared
session servers must not be killed); the pool's clock is a `FakeClock`, so the failback
hysteresis passes without sleeping.  Each test uses its own role, so instances left by
other tests on the shared servers are not counted.
"""

from __future__ import annotations

import uuid

import pytest

from failover import BreakerConfig, ExecutionConfig, FailoverCompute, FakeClock, InstanceSpec, InstanceState, Target
from failover.controllers.standby import ROLE_TAG, StandbyPool
from failover.providers.aws.ec2 import EC2Compute
from failover.providers.chaos import ChaosProvider
from tests.integration.compute_factories import MOTO_AMI, MOTO_INSTANCE_TYPE
from tests.integration.servers import LocalServer, alive

pytestmark = pytest.mark.integration
FAILBACK = 120.0


def live(compute: EC2Compute, role: str) -> list[str]:
    return [
        i.id
        for i in compute.list_instances({ROLE_TAG: role})
        if i.state in (InstanceState.RUNNING, InstanceState.PENDING)
    ]


@pytest.mark.parametrize("mode", ["warm_standby", "pilot_light"])
def test_region_outage_and_failback(moto_east: LocalServer, moto_west: LocalServer, mode: str) -> None:
    clock = FakeClock()
    # A long read timeout: moto loads its ~1,200 default AMIs on a region's first EC2
    # call (~5 s, more on a busy machine), which must not read as an outage here.
    east = EC2Compute("us-east-1", endpoint_url=alive(moto_east).endpoint, read_timeout=60.0)
    west = EC2Compute("us-west-2", endpoint_url=alive(moto_west).endpoint, read_timeout=60.0)
    chaos = ChaosProvider(east, clock=clock)
    compute = FailoverCompute(
        [Target("aws:us-east-1", chaos, priority=0), Target("aws:us-west-2", west, priority=1)],
        clock=clock,
        breaker=BreakerConfig(consecutive_failures=5, open_base=5.0, jitter=0.0),
        execution=ExecutionConfig(attempt_timeout=60.0, deadline=120.0),
    )
    role = f"web-{uuid.uuid4().hex[:8]}"
    spec = InstanceSpec("web", MOTO_INSTANCE_TYPE, MOTO_AMI, {"app": "web"})
    pool = StandbyPool(compute, role, spec, desired=2, mode=mode, failback_after=FAILBACK)  # type: ignore[arg-type]

    assert [a.target for a in pool.reconcile().actions] == ["aws:us-east-1"] * 2
    assert len(live(east, role)) == 2 and live(west, role) == []

    chaos.down()  # us-east-1 stops answering
    outage = pool.reconcile()
    assert outage.down == ("aws:us-east-1",) and outage.short == 0
    assert len(live(west, role)) == 2  # restored within one pass

    chaos.heal()
    assert pool.reconcile().actions == ()  # back, but not settled
    clock.advance(FAILBACK - 1)
    assert pool.reconcile().actions == ()
    clock.advance(1)
    back = pool.reconcile()
    expected = "stop" if mode == "pilot_light" else "terminate"
    assert [(a.target, a.action) for a in back.actions] == [("aws:us-west-2", expected)] * 2
    assert live(west, role) == [] and len(live(east, role)) == 2
    assert pool.reconcile().actions == ()
    if mode == "pilot_light":  # the standbys wait, stopped, for the next outage
        chaos.down()
        again = pool.reconcile()
        assert [a.action for a in again.actions] == ["start", "start"]
