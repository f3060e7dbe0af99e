"""FailoverDNS, FailoverCompute, status and construction errors."""

from __future__ import annotations

import pytest

from failover import (
    FailoverCompute,
    FailoverDNS,
    FailoverStorage,
    FakeClock,
    InstanceSpec,
    InstanceState,
    ProbeConfig,
    Record,
    Target,
)
from failover.errors import ConfigError, InvalidInput, NotFound, Unavailable
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryCompute, MemoryDnsZone, MemoryObjectStore


def dns_pair() -> tuple[FailoverDNS, list[ChaosProvider]]:
    zones = [ChaosProvider(MemoryDnsZone("example.com."), seed=i) for i in range(2)]
    targets = [Target("route53:global", zones[0], priority=0), Target("bind:primary", zones[1], priority=1)]
    return FailoverDNS(targets), zones


def test_dns_reads_fail_over_between_providers() -> None:
    dns, zones = dns_pair()
    record = Record("www.example.com.", "A", 60, ("192.0.2.10",))
    for zone in zones:
        zone.upsert_record(record)
    zones[0].down()
    assert dns.get_record("www.example.com.", "A").values == ("192.0.2.10",)
    assert [r.name for r in dns.list_records() if r.type == "A"] == ["www.example.com."]


def test_dns_bad_input_is_typed() -> None:
    dns, _ = dns_pair()
    with pytest.raises(InvalidInput):
        dns.get_record("", "A")
    with pytest.raises(InvalidInput):
        dns.upsert_record(("www", "A"))  # type: ignore[arg-type]


def compute_pair() -> tuple[FailoverCompute, list[ChaosProvider]]:
    regions = [ChaosProvider(MemoryCompute(region=r), seed=i) for i, r in enumerate(("us-east-1", "eu-west-1"))]
    targets = [Target("aws:us-east-1", regions[0], priority=0), Target("aws:eu-west-1", regions[1], priority=1)]
    return FailoverCompute(targets), regions


def test_compute_create_goes_to_the_healthy_region_and_calls_pin_to_it() -> None:
    compute, _regions = compute_pair()
    spec = InstanceSpec("web-1", "small", "debian-12", {"role": "web"})
    instance = compute.create_instance(spec)
    assert instance.region == "us-east-1"
    stopped = compute.stop_instance(instance.id, target="aws:us-east-1")
    assert stopped.state is InstanceState.STOPPED
    with pytest.raises(NotFound):
        compute.describe_instance(instance.id, target="aws:eu-west-1")
    assert [i.id for i in compute.list_instances({"role": "web"}, target="aws:us-east-1")] == [instance.id]


def test_compute_create_is_never_retried_on_another_region() -> None:
    compute, regions = compute_pair()
    regions[0].down()
    with pytest.raises(Unavailable):
        compute.create_instance(InstanceSpec("web-1", "small", "debian-12"))
    assert list(regions[1].list_instances()) == []


def test_pinned_call_to_unknown_target_names_the_known_ones() -> None:
    compute, _ = compute_pair()
    with pytest.raises(ConfigError, match="aws:us-east-1"):
        compute.describe_instance("i-1", target="gcp:nowhere")


def test_status_reports_each_target() -> None:
    store = FailoverStorage(
        [Target("memory:a", MemoryObjectStore()), Target("memory:b", MemoryObjectStore(), priority=1)]
    )
    store.put("k", b"v")
    store.get("k")
    status = store.status()
    assert [row.name for row in status.targets] == ["memory:a", "memory:b"]
    assert status["memory:a"].role == "preferred" and status["memory:b"].role == "standby"
    assert status["memory:a"].calls == 2 and status["memory:a"].traffic_share == 1.0
    assert status["memory:a"].latency_ms is not None
    assert "memory:a" in str(status) and "preferred" in str(status)


def test_health_checks_probe_each_provider_and_route_around_a_failing_one() -> None:
    clock = FakeClock()
    chaos = [ChaosProvider(MemoryObjectStore(), seed=i, clock=clock) for i in range(2)]
    for c in chaos:
        c.put("k", b"v")
    store = FailoverStorage(
        [Target("memory:a", chaos[0]), Target("memory:b", chaos[1], priority=1)],
        clock=clock,
        health_checks=ProbeConfig(interval=1.0, timeout=0.5, jitter=0.0),
    )
    checker = store.pool.checker
    assert checker is not None
    chaos[0].down()
    for _ in range(3):  # fall = 3
        checker.run_due(clock.monotonic())
        clock.advance(1.0)
    assert not store.status()["memory:a"].healthy
    calls_before = chaos[0].calls
    assert store.get("k") == b"v"
    assert chaos[0].calls == calls_before, "an unhealthy target gets no traffic"


@pytest.mark.parametrize(
    "build",
    [
        lambda: FailoverStorage([]),
        lambda: FailoverStorage("memory:a"),  # type: ignore[arg-type]
        lambda: FailoverStorage([Target("memory:a", MemoryObjectStore()), Target("memory:a", MemoryObjectStore())]),
        lambda: FailoverStorage([Target("memory:a", MemoryDnsZone())]),
        lambda: FailoverStorage([Target("memory:a", object())]),
        lambda: Target("bad name", MemoryObjectStore()),
        lambda: Target("memory:a", MemoryObjectStore(), weight=-1),
        lambda: Target("memory:a", None),
        lambda: FailoverStorage(
            [Target("memory:a", MemoryObjectStore())],
            health_checks=ProbeConfig(probes={"memory:zz": None}),  # type: ignore[dict-item]
        ),
    ],
)
def test_bad_construction_is_a_config_error(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError):
        build()
