"""The scenario: a warm standby in us-west-2 takes over when us-east-1 stops answering.

Two `StandbyPool`s share one moto server:

* ``web`` keeps ``instances`` machines running over both regions, us-east-1 first;
  it is the capacity that moves (``mode="warm_standby"``: it creates machines where
  they are missing and terminates the surplus once the primary has settled);
* ``web-warm`` keeps the small working copy (``standby`` machines) in us-west-2 at all
  times.  It is a pool of its own because a pool's ``desired`` is a total over its
  targets, with no floor per region: the ``web`` pool alone would put every machine in
  us-east-1.

us-east-1 is reached through a `failover.testing.proxy.TcpProxy`.  The outage is a
blackhole on that proxy: EC2's API accepts connections and never answers, the case
where an SDK left to its defaults waits for minutes.  The machines themselves keep
running in moto, as they do when a region's control plane or network fails; that is
what lets capacity move back once the region answers again.

Time: the pools, breakers and health run on a `FakeClock` that each pass advances by
``interval``, so a minute of hysteresis takes no time to wait out.  Every EC2 call is
real, over HTTP to moto, and a blackholed call really waits for the adapter's timeout.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from failover import BreakerConfig, FailoverCompute, FakeClock, InstanceSpec, Target
from failover.controllers.standby import ReconcileReport, StandbyPool
from failover.errors import ConfigError
from failover.providers.aws.ec2 import EC2Compute
from failover.testing.proxy import TcpProxy
from failover.testing.servers import LocalServer

from .regions import (
    PRIMARY_REGION,
    STANDBY_REGION,
    live_by_role,
    local_session,
    raw_ec2,
    register_image,
    terminate_newest,
)

PRIMARY = f"aws:{PRIMARY_REGION}"
STANDBY = f"aws:{STANDBY_REGION}"
ROLE = "web"
WARM_ROLE = "web-warm"
INSTANCE_TYPE = "t3.micro"


@dataclass(frozen=True)
class DemoConfig:
    """The demo's knobs; seconds are simulated (the `FakeClock`) except ``timeout``."""

    instances: int = 3  # machines of the role, all in us-east-1 while it is up
    standby: int = 1  # the warm copy that always runs in us-west-2
    interval: float = 10.0  # between two reconcile passes
    failback_after: float = 60.0  # how long us-east-1 must stay up before capacity moves back
    outage: float = 30.0  # how long us-east-1 does not answer
    timeout: float = 0.5  # real seconds: the EC2 client's connect and read timeouts

    def __post_init__(self) -> None:
        _count("instances", self.instances, minimum=1)
        _count("standby", self.standby, minimum=0)
        _seconds("interval", self.interval, positive=True)
        _seconds("failback_after", self.failback_after, positive=False)
        _seconds("outage", self.outage, positive=True)
        _seconds("timeout", self.timeout, positive=True)

    @property
    def outage_passes(self) -> int:
        return math.ceil(self.outage / self.interval)

    @property
    def settle_passes(self) -> int:
        """Passes after recovery in which the scale-back must have happened: the hysteresis,
        plus the open time of us-east-1's breaker (at most two passes, see `Fleet`), plus one."""
        return math.ceil(self.failback_after / self.interval) + 3


def _count(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an int >= {minimum}, not {value!r}")


def _seconds(name: str, value: object, *, positive: bool) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
    ):
        raise ConfigError(f"{name} must be a number of seconds {'> 0' if positive else '>= 0'}, not {value!r}")


@dataclass(frozen=True)
class Step:
    """One pass: what happened before it, what the pools did, what moto then ran."""

    at: float  # simulated seconds since the first pass
    event: str
    running: Mapping[str, Mapping[str, int]]  # region -> role -> live instances, read from moto
    pool: ReconcileReport  # the web pool's pass
    warm: ReconcileReport | None  # the warm pool's pass (None when standby is 0)
    primary_breaker: str  # us-east-1's breaker after the pass: closed, open, half_open

    def count(self, region: str, role: str = ROLE) -> int:
        return self.running[region][role]

    @property
    def scaled_up(self) -> bool:
        """The web pool created machines in the standby region in this pass."""
        return any(a.action == "create" and a.target == STANDBY for a in self.pool.actions)

    @property
    def scaled_back(self) -> bool:
        """The web pool removed machines from the standby region in this pass."""
        return any(a.action == "terminate" and a.target == STANDBY for a in self.pool.actions)


@dataclass(frozen=True)
class Outcome:
    """The demo's verdict, from its steps."""

    config: DemoConfig
    steps: tuple[Step, ...]

    def _first(self, test: Callable[[Step], bool]) -> Step | None:
        return next((s for s in self.steps if test(s)), None)

    @property
    def failed_over(self) -> Step | None:
        """The first pass that created the role's machines in the standby region."""
        return self._first(lambda s: s.scaled_up)

    @property
    def recovered(self) -> Step | None:
        """The first pass after the outage in which us-east-1 answered."""
        return self._first(lambda s: s.event == "recovered" and PRIMARY not in s.pool.down)

    @property
    def settling_from(self) -> float | None:
        """When us-east-1 had answered again *and* its breaker had closed: the pool's
        hysteresis counts from the later of the two."""
        recovered = self.recovered
        if recovered is None:
            return None
        closed = self._first(lambda s: s.at >= recovered.at and s.primary_breaker == "closed")
        return None if closed is None else closed.at

    @property
    def failed_back(self) -> Step | None:
        """The pass that removed the role's machines from the standby region."""
        return self._first(lambda s: s.scaled_back)

    @property
    def ok(self) -> bool:
        over, back, recovered = self.failed_over, self.failed_back, self.recovered
        if over is None or back is None or recovered is None or not self.steps:
            return False
        last, n = self.steps[-1], self.config.instances
        return (
            over.count(STANDBY_REGION) == n
            and back.at - recovered.at >= self.config.failback_after
            and (last.count(PRIMARY_REGION), last.count(STANDBY_REGION)) == (n, 0)
            and last.count(STANDBY_REGION, WARM_ROLE) == self.config.standby
        )


class Fleet:
    """The pools, their facades and the clock, over one moto server and a proxy for us-east-1."""

    def __init__(self, config: DemoConfig, server: LocalServer, proxy: TcpProxy) -> None:
        self.config = config
        self.clock = FakeClock(start=0.0)
        self.raw = {region: raw_ec2(server.endpoint, region) for region in (PRIMARY_REGION, STANDBY_REGION)}
        images = {f"aws:{region}": register_image(client) for region, client in self.raw.items()}
        session = local_session()

        def ec2(region: str, endpoint: str) -> EC2Compute:
            # One attempt each, bounded by these timeouts: a pass over a blackholed region
            # costs one timeout, not the SDK's default minutes.
            timeout = config.timeout
            return EC2Compute(
                region, session=session, endpoint_url=endpoint, connect_timeout=timeout, read_timeout=timeout
            )

        east, west = ec2(PRIMARY_REGION, proxy.endpoint), ec2(STANDBY_REGION, server.endpoint)
        self.compute = self._facade([Target(PRIMARY, east, priority=0), Target(STANDBY, west, priority=1)])
        self.pool = self._pool(self.compute, ROLE, images, config.instances)
        self.warm_compute = self._facade([Target(STANDBY, west, priority=0)])
        self.warm = self._pool(self.warm_compute, WARM_ROLE, images, config.standby) if config.standby else None

    def _facade(self, targets: list[Target[EC2Compute]]) -> FailoverCompute:
        return FailoverCompute(
            targets,
            clock=self.clock,
            failback_after=self.config.failback_after,
            # Open after two failed passes and stay open one or two passes: a recovered
            # region's breaker closes soon, so the failback follows the hysteresis closely.
            breaker=BreakerConfig(
                consecutive_failures=2, open_base=self.config.interval, open_max=2 * self.config.interval, jitter=0.0
            ),
        )

    def _pool(self, compute: FailoverCompute, role: str, images: Mapping[str, str], desired: int) -> StandbyPool:
        # AMIs are per region, so each target gets its own spec.
        names = [t.name for t in compute.pool.targets]
        specs = {name: InstanceSpec(role, INSTANCE_TYPE, images[name], {"app": "web"}) for name in names}
        return StandbyPool(
            compute,
            role,
            specs[names[0]],
            desired=desired,
            mode="warm_standby",
            failback_after=self.config.failback_after,
            specs=specs,
        )

    def running(self) -> dict[str, dict[str, int]]:
        return {region: live_by_role(client, (ROLE, WARM_ROLE)) for region, client in self.raw.items()}

    def close(self) -> None:
        self.compute.close()
        self.warm_compute.close()


def scenario(config: DemoConfig) -> Iterator[str]:
    """The events, one a pass: steady, a lost machine, the outage, recovery, then passes
    that wait out the hysteresis (the demo stops one pass after the scale-back)."""
    yield from ("start", "steady", "instance lost", "steady")
    yield from ["outage"] * config.outage_passes
    yield "recovered"
    yield from ["settling"] * config.settle_passes


def run_demo(
    config: DemoConfig,
    server: LocalServer,
    *,
    on_step: Callable[[Step], None] | None = None,
) -> Outcome:
    """Run the scenario on ``server`` (a started moto); ``on_step`` sees each pass as it ends."""
    steps: list[Step] = []
    with TcpProxy(server.port) as proxy, contextlib.closing(Fleet(config, server, proxy)) as fleet:

        def one_pass(event: str) -> Step:
            _inject(event, fleet, proxy)
            pool = fleet.pool.reconcile()
            warm = fleet.warm.reconcile() if fleet.warm is not None else None
            breaker = fleet.compute.pool.member(PRIMARY).breaker.state.value
            step = Step(fleet.clock.monotonic(), event, fleet.running(), pool, warm, breaker)
            steps.append(step)
            if on_step is not None:
                on_step(step)
            fleet.clock.advance(config.interval)
            return step

        for event in scenario(config):
            if one_pass(event).scaled_back:
                one_pass("steady")  # and it stays that way
                break
    return Outcome(config, tuple(steps))


def _inject(event: str, fleet: Fleet, proxy: TcpProxy) -> None:
    if event == "instance lost":
        terminate_newest(fleet.raw[PRIMARY_REGION], ROLE)  # behind the pool's back
    elif event == "outage":
        proxy.blackhole()
    elif event == "recovered":
        proxy.pass_through()


__all__ = [
    "INSTANCE_TYPE",
    "PRIMARY",
    "ROLE",
    "STANDBY",
    "WARM_ROLE",
    "DemoConfig",
    "Fleet",
    "Outcome",
    "Step",
    "run_demo",
    "scenario",
]
