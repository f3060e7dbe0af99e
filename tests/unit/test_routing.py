"""Routing: priority failover, hysteresis on failback, panic, weighted and latency policies."""

from __future__ import annotations

import random

import pytest

from failover import BreakerConfig, HealthConfig, policies
from failover.errors import AllTargetsFailed, ConfigError
from failover.events import FailedBack, FailedOver, PanicMode
from tests.unit.pools import NAMES, make_rig


def test_priority_serves_from_the_primary_while_it_is_healthy() -> None:
    rig = make_rig()
    assert {rig.served_by() for _ in range(20)} == {"memory:a"}


def test_fails_over_to_the_next_priority_without_client_errors() -> None:
    rig = make_rig()
    rig.chaos[0].down()
    for _ in range(20):
        assert rig.storage.get("seed") == b"seed-data"
    assert rig.served_by() == "memory:b"
    assert rig.storage.status()["memory:a"].breaker == "open"
    assert rig.recorder.of(FailedOver)


def test_open_primary_is_skipped_without_being_called() -> None:
    rig = make_rig()
    rig.chaos[0].down()
    for _ in range(5):
        rig.storage.get("seed")
    calls_when_open = rig.chaos[0].calls
    for _ in range(50):
        rig.storage.get("seed")
    assert rig.chaos[0].calls == calls_when_open


def test_failback_waits_for_the_hysteresis() -> None:
    rig = make_rig(failback_after=30.0)
    rig.chaos[0].down()
    for _ in range(5):
        rig.storage.get("seed")
    rig.chaos[0].heal()
    rig.clock.advance(6)  # the breaker's open time (5 s) has passed: one trial call
    rig.storage.get("seed")
    assert rig.storage.status()["memory:a"].breaker == "closed"
    assert rig.served_by() == "memory:b", "a just-recovered target must not get traffic back yet"
    rig.clock.advance(29)
    assert rig.served_by() == "memory:b"
    rig.clock.advance(1.5)
    assert rig.served_by() == "memory:a"
    assert rig.recorder.of(FailedBack)[-1].target == "memory:a"


def test_failed_trial_keeps_traffic_on_the_secondary_and_no_client_error() -> None:
    rig = make_rig()
    rig.chaos[0].down()
    for _ in range(5):
        rig.storage.get("seed")
    rig.clock.advance(6)
    assert rig.storage.get("seed") == b"seed-data"  # trial on a, fails, served by b
    assert rig.storage.status()["memory:a"].breaker == "open"


def test_unhealthy_by_probe_is_skipped_even_with_a_closed_breaker() -> None:
    rig = make_rig(health=HealthConfig(rise=1, fall=1))
    rig.storage.pool.healths["memory:a"].record_probe(False, rig.clock.monotonic(), "probe failed")
    assert rig.served_by() == "memory:b"
    rig.storage.pool.healths["memory:a"].record_probe(True, rig.clock.monotonic(), "ok")
    assert rig.served_by() == "memory:b", "hysteresis applies to probe recovery too"
    rig.clock.advance(31)
    assert rig.served_by() == "memory:a"


def test_panic_mode_tries_every_target_when_all_look_down() -> None:
    rig = make_rig(health=HealthConfig(rise=1, fall=1))
    for name in NAMES:
        rig.storage.pool.healths[name].record_probe(False, rig.clock.monotonic(), "probe failed")
    # The probes are wrong: the targets answer. Panic mode finds that out.
    assert rig.storage.get("seed") == b"seed-data"
    assert rig.storage.status().panic
    assert [e.entered for e in rig.recorder.of(PanicMode)] == [True]


def test_everything_down_raises_all_targets_failed_with_each_cause() -> None:
    rig = make_rig()
    for chaos in rig.chaos:
        chaos.down()
    with pytest.raises(AllTargetsFailed) as info:
        rig.storage.get("seed")
    assert [a.target for a in info.value.attempts] == list(NAMES)
    assert all(a.kind == "unavailable" for a in info.value.attempts)


def test_two_targets_one_down_sends_everything_to_the_other() -> None:
    # Envoy #3263: with two hosts, one unhealthy must not trigger panic routing to it.
    rig = make_rig(count=2)
    rig.chaos[0].down()
    for _ in range(10):
        rig.storage.get("seed")
    calls = rig.chaos[0].calls
    for _ in range(100):
        rig.storage.get("seed")
    assert rig.chaos[0].calls == calls
    assert not rig.storage.status().panic


def test_weighted_policy_spreads_by_weight() -> None:
    rig = make_rig(weights=(3, 1, 0), policy=policies.Weighted(), rng=random.Random(7))
    for _ in range(4000):
        rig.storage.get("seed")
    share = {row.name: row.traffic_share for row in rig.storage.status().targets}
    assert share["memory:a"] == pytest.approx(0.75, abs=0.04)
    assert share["memory:b"] == pytest.approx(0.25, abs=0.04)
    assert share["memory:c"] == 0.0


def test_weighted_policy_fails_over_to_the_zero_weight_standby() -> None:
    rig = make_rig(weights=(3, 1, 0), policy=policies.Weighted(), rng=random.Random(7))
    rig.chaos[0].down()
    rig.chaos[1].down()
    for _ in range(20):
        assert rig.storage.get("seed") == b"seed-data"
    assert rig.served_by() == "memory:c"


def test_lowest_latency_prefers_the_fastest_and_resists_noise() -> None:
    rig = make_rig(policy=policies.LowestLatency(tolerance=0.2, refresh_every=1.0))
    healths = rig.storage.pool.healths
    healths["memory:a"].latency = 0.050
    healths["memory:b"].latency = 0.010
    healths["memory:c"].latency = 0.030
    rig.clock.advance(1.1)
    assert rig.served_by() == "memory:b"
    healths["memory:b"].latency = 0.0105
    healths["memory:c"].latency = 0.0100  # 5 % faster: within tolerance, no switch
    rig.clock.advance(1.1)
    assert rig.served_by() == "memory:b"
    healths["memory:c"].latency = 0.002
    rig.clock.advance(1.1)
    assert rig.served_by() == "memory:c"


def test_split_breakers_keep_reads_flowing_when_writes_fail() -> None:
    rig = make_rig(breaker_per="operation_class", breaker=BreakerConfig(consecutive_failures=2, jitter=0.0))
    rig.chaos[0].configure(error_rate=1.0, operations=("put",))
    for i in range(5):
        rig.storage.put(f"k{i}", b"x")
    status = rig.storage.status()["memory:a"]
    assert status.breakers == {"read": "closed", "write": "open"}
    assert rig.served_by() == "memory:a"


def test_bad_routing_configuration_is_rejected() -> None:
    with pytest.raises(ConfigError, match="failback_after"):
        make_rig(failback_after=-1)
    with pytest.raises(ConfigError, match="breaker_per"):
        make_rig(breaker_per="bogus")
    with pytest.raises(ConfigError, match="tolerance"):
        policies.LowestLatency(tolerance=-1)
