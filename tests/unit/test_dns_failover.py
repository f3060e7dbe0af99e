"""DnsController on memory zones with switchable probes and a fake clock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from failover import FakeClock, HealthConfig, Target
from failover.controllers.dns_controller import DnsController, Endpoint
from failover.errors import ConfigError, NotFound
from failover.events import HealthChanged
from failover.fleet.leader import FileLeaderLock
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryDnsZone
from tests.unit.pools import Recorder

NAME = "api.example.com."


@dataclass
class Switch:
    up: bool = True

    def check(self, timeout: float) -> None:
        if not self.up:
            raise ConnectionRefusedError("endpoint down")


@dataclass
class Rig:
    clock: FakeClock
    switches: dict[str, Switch]
    zones: list[ChaosProvider]
    controller: DnsController
    recorder: Recorder

    def tick(self, seconds: float = 1.0) -> None:
        self.clock.advance(seconds)
        self.controller.run_once()

    def answers(self) -> list[tuple[str, ...] | None]:
        out: list[tuple[str, ...] | None] = []
        for zone in self.zones:
            try:
                out.append(zone.inner.get_record(NAME, "A").values)  # type: ignore[attr-defined]
            except NotFound:
                out.append(None)
        return out


def make(mode: str = "failover", lock: FileLeaderLock | None = None, **options: object) -> Rig:
    clock = FakeClock()
    values = ("192.0.2.1", "192.0.2.2", "192.0.2.3")
    switches = {v: Switch() for v in values}
    endpoints = [Endpoint(v, switches[v], priority=i) for i, v in enumerate(values)]
    zones = [ChaosProvider(MemoryDnsZone("example.com."), seed=i, clock=clock) for i in range(2)]
    providers = [Target("route53:global", zones[0]), Target("bind:primary", zones[1])]
    recorder = Recorder()
    controller = DnsController(
        NAME,
        "A",
        endpoints,
        providers,
        mode=mode,  # type: ignore[arg-type]
        interval=1.0,
        timeout=0.5,
        jitter=options.pop("jitter", 0.0),  # type: ignore[arg-type]
        health=HealthConfig(rise=2, fall=2),
        failback_after=10.0,
        clock=clock,
        listeners=[recorder],
        lock=lock,
        **options,  # type: ignore[arg-type]
    )
    return Rig(clock, switches, zones, controller, recorder)


def settle(rig: Rig) -> None:
    for _ in range(3):
        rig.tick()


def test_publishes_the_best_endpoint_to_every_provider_once_healthy() -> None:
    rig = make()
    rig.controller.run_once()
    assert rig.answers() == [None, None], "nothing is published before rise good probes"
    settle(rig)
    assert rig.answers() == [("192.0.2.1",), ("192.0.2.1",)]


def test_writes_only_on_change() -> None:
    rig = make()
    settle(rig)
    calls = [z.calls for z in rig.zones]
    for _ in range(10):
        rig.tick()
    assert [z.calls for z in rig.zones] == calls


def test_moves_the_record_when_the_endpoint_dies_and_back_after_hysteresis() -> None:
    rig = make()
    settle(rig)
    rig.switches["192.0.2.1"].up = False
    rig.tick()
    assert rig.answers()[0] == ("192.0.2.1",), "one failed probe is not enough (fall=2)"
    rig.tick()
    assert rig.answers() == [("192.0.2.2",), ("192.0.2.2",)]
    rig.switches["192.0.2.1"].up = True
    for _ in range(9):  # healthy again after ~2 probes (rise), then 10 s of hysteresis
        rig.tick()
    assert rig.answers()[0] == ("192.0.2.2",), "failback waits for the hysteresis"
    for _ in range(5):
        rig.tick()
    assert rig.answers() == [("192.0.2.1",), ("192.0.2.1",)]
    assert any(isinstance(e, HealthChanged) and not e.healthy for e in rig.recorder.events)


def test_keeps_the_last_good_answer_when_every_endpoint_is_down() -> None:
    rig = make()
    settle(rig)
    for switch in rig.switches.values():
        switch.up = False
    for _ in range(5):
        rig.tick()
    assert rig.answers() == [("192.0.2.1",), ("192.0.2.1",)]


def test_multivalue_publishes_every_healthy_endpoint() -> None:
    rig = make(mode="multivalue")
    settle(rig)
    assert rig.answers()[0] == ("192.0.2.1", "192.0.2.2", "192.0.2.3")
    rig.switches["192.0.2.2"].up = False
    rig.tick()
    rig.tick()
    assert rig.answers()[1] == ("192.0.2.1", "192.0.2.3")


def test_a_provider_that_is_down_is_retried_while_the_other_is_updated() -> None:
    rig = make()
    settle(rig)
    rig.zones[1].down()
    rig.switches["192.0.2.1"].up = False
    rig.tick()
    published = rig.controller.run_once()
    rig.tick()
    published = rig.controller.run_once()
    assert rig.answers()[0] == ("192.0.2.2",)
    assert "bind:primary" in published.failed
    rig.zones[1].heal()
    for _ in range(70):  # the provider's breaker opens for a while, then lets a trial through
        rig.tick()
    assert rig.answers()[1] == ("192.0.2.2",)


def test_min_ttl_is_enforced() -> None:
    rig = make(ttl=5, min_ttl=30)
    settle(rig)
    assert rig.zones[0].inner.get_record(NAME, "A").ttl == 30  # type: ignore[attr-defined]


def test_only_the_leader_writes(tmp_path: Path) -> None:
    path = tmp_path / "leader.lock"
    leader, follower = make(lock=FileLeaderLock(path)), make(lock=FileLeaderLock(path))
    settle(leader)
    settle(follower)
    assert leader.answers()[0] == ("192.0.2.1",)
    assert follower.answers() == [None, None]
    assert not follower.controller.run_once().leader
    leader.controller.stop()  # releases the lock
    follower.tick()
    assert follower.answers()[0] == ("192.0.2.1",)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "api.example.com"},
        {"type": "MX"},
        {"endpoints": []},
        {"providers": []},
        {"mode": "weighted"},
        {"ttl": -1},
        {"failback_after": -5},
        {"type": "CNAME", "mode": "multivalue"},
    ],
)
def test_bad_configuration_is_rejected(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "name": NAME,
        "type": "A",
        "endpoints": [Endpoint("192.0.2.1", Switch())],
        "providers": [Target("memory:z", MemoryDnsZone("example.com."))],
    }
    args.update(kwargs)
    name, type_, endpoints, providers = args.pop("name"), args.pop("type"), args.pop("endpoints"), args.pop("providers")
    with pytest.raises(ConfigError):
        DnsController(name, type_, endpoints, providers, **args)  # type: ignore[arg-type]


def test_leader_lock_on_an_unwritable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        FileLeaderLock(tmp_path / "missing-dir" / "leader.lock")
