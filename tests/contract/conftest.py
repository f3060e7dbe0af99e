"""Providers the contract suites run against: one fixture per capability, parametrized.

To hold a new provider to the contract, add a `ProviderFactory` to the matching tuple.
A factory takes the pytest ``request`` (to reach session fixtures such as a local
server with ``request.getfixturevalue("moto_east")`` and to register cleanup with
``request.addfinalizer``) and returns a fresh, empty provider (or, for compute, a
`ComputeCase`).  ``marks`` go on the parameter, e.g. ``(pytest.mark.integration,)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pytest

from failover.capabilities import Compute, DnsZone, ObjectStore
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryCompute, MemoryDnsZone, MemoryObjectStore
from tests.fakes import azure_dns as fake_azure_dns
from tests.fakes import cloud_dns as fake_cloud_dns
from tests.integration import compute_factories, dns_factories, servers

T = TypeVar("T")


@dataclass(frozen=True)
class ProviderFactory(Generic[T]):
    id: str
    make: Callable[[pytest.FixtureRequest], T]
    marks: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ComputeCase:
    """A compute provider with names it accepts, and how long its transitions may take.

    ``settle_seconds`` is 0 for providers whose state changes are immediate: the suite
    then never sleeps.  Cloud adapters with PENDING/STOPPING phases set a few seconds.
    """

    provider: Compute
    instance_type: str
    image: str
    settle_seconds: float = 0.0


OBJECT_STORE_FACTORIES: tuple[ProviderFactory[ObjectStore], ...] = (
    ProviderFactory("memory", lambda request: MemoryObjectStore()),
    ProviderFactory("chaos-memory", lambda request: ChaosProvider(MemoryObjectStore(), seed=1)),
    # The real adapters, each on its own local server (tests/integration/servers.py).
    ProviderFactory("s3-moto", servers.s3_store_factory, marks=(pytest.mark.integration,)),
    ProviderFactory("azure-azurite", servers.blob_store_factory, marks=(pytest.mark.integration,)),
    ProviderFactory("gcs-fake", servers.gcs_store_factory, marks=(pytest.mark.integration,)),
)

DNS_ZONE_FACTORIES: tuple[ProviderFactory[DnsZone], ...] = (
    ProviderFactory("memory", lambda request: MemoryDnsZone("example.com.")),
    ProviderFactory("chaos-memory", lambda request: ChaosProvider(MemoryDnsZone("Example.COM"), seed=1)),
    ProviderFactory("route53-moto", dns_factories.route53_zone_factory, marks=(pytest.mark.integration,)),
    ProviderFactory("rfc2136-bind", dns_factories.rfc2136_zone_factory, marks=(pytest.mark.integration,)),
    # Azure DNS and Cloud DNS have no local server: the real SDK against a fake HTTP transport.
    ProviderFactory("azure-dns-fake", lambda request: fake_azure_dns.FakeAzureDns().adapter()),
    ProviderFactory("cloud-dns-fake", lambda request: fake_cloud_dns.FakeCloudDns().adapter()),
)

COMPUTE_FACTORIES: tuple[ProviderFactory[ComputeCase], ...] = (
    ProviderFactory("memory", lambda request: ComputeCase(MemoryCompute(), "small", "debian-12")),
    ProviderFactory(
        "chaos-memory",
        lambda request: ComputeCase(
            ChaosProvider(MemoryCompute("memory-b", instance_types={"tiny"}, images={"alpine"}), seed=1),
            "tiny",
            "alpine",
        ),
    ),
    ProviderFactory("ec2-moto", compute_factories.ec2_case, marks=(pytest.mark.integration,)),
    # No local server exists for these two: the real SDK over a fake HTTP transport.
    ProviderFactory("azure-vm-fake", compute_factories.azure_case),
    ProviderFactory("gce-fake", compute_factories.gce_case),
)


def _params(factories: tuple[ProviderFactory[Any], ...]) -> list[Any]:
    return [pytest.param(f.make, id=f.id, marks=f.marks) for f in factories]


@pytest.fixture(params=_params(OBJECT_STORE_FACTORIES))
def object_store(request: pytest.FixtureRequest) -> ObjectStore:
    store: ObjectStore = request.param(request)
    return store


@pytest.fixture(params=_params(DNS_ZONE_FACTORIES))
def dns_zone(request: pytest.FixtureRequest) -> DnsZone:
    zone: DnsZone = request.param(request)
    return zone


@pytest.fixture(params=_params(COMPUTE_FACTORIES))
def compute_case(request: pytest.FixtureRequest) -> ComputeCase:
    case: ComputeCase = request.param(request)
    return case


@pytest.fixture
def compute(compute_case: ComputeCase) -> Compute:
    return compute_case.provider
