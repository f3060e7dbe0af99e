"""Every DNS adapter and the resolver refuse a timeout that is not a finite number of seconds."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials

from failover.errors import ConfigError, InvalidInput
from failover.providers.aws.route53 import Route53Zone
from failover.providers.azure.dns import AzureDnsZone
from failover.providers.dns import DnsProbe, ResilientResolver, Rfc2136Zone
from failover.providers.gcp.dns import CloudDnsZone
from tests.fakes.azure_dns import FakeAzureDns, StaticToken
from tests.fakes.cloud_dns import FakeCloudDns

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg=="


def rfc2136(**kwargs: Any) -> object:
    return Rfc2136Zone("example.test.", server="127.0.0.1", tsig_key_name="k", tsig_secret=SECRET, **kwargs)


def route53(**kwargs: Any) -> object:
    return Route53Zone("example.test.", hosted_zone_id="Z1", **kwargs)


def azure(**kwargs: Any) -> object:
    fake = FakeAzureDns()
    return AzureDnsZone("example.com.", subscription_id=fake.subscription, resource_group=fake.resource_group,
                        credential=StaticToken(), transport=fake.transport(), **kwargs)


def cloud_dns(**kwargs: Any) -> object:
    fake = FakeCloudDns()
    return CloudDnsZone("example.com.", managed_zone="example-com", project=fake.project, http=fake.session(),
                        credentials=AnonymousCredentials(), **kwargs)  # type: ignore[no-untyped-call]


MAKERS: list[tuple[str, Callable[..., object], str]] = [
    ("rfc2136", rfc2136, "timeout"),
    ("route53-connect", route53, "connect_timeout"),
    ("route53-read", route53, "read_timeout"),
    ("azure-connect", azure, "connection_timeout"),
    ("azure-read", azure, "read_timeout"),
    ("cloud-dns", cloud_dns, "timeout"),
    ("resolver", lambda **kw: ResilientResolver(["127.0.0.1"], **kw), "timeout"),
    ("resolver-stale", lambda **kw: ResilientResolver(["127.0.0.1"], **kw), "stale_for"),
]


@pytest.mark.parametrize("value", [math.inf, math.nan, -math.inf], ids=["inf", "nan", "-inf"])
@pytest.mark.parametrize(("make", "argument"), [(m, a) for _, m, a in MAKERS], ids=[i for i, _, _ in MAKERS])
def test_a_timeout_that_is_not_finite_is_refused_naming_it(make: Callable[..., object], argument: str,
                                                          value: float) -> None:
    with pytest.raises(ConfigError, match=argument):
        make(**{argument: value})


def test_cloud_dns_refuses_an_infinite_read_timeout_in_a_pair() -> None:
    with pytest.raises(ConfigError, match="read timeout"):
        cloud_dns(timeout=(1.0, math.inf))


def test_resolver_and_probe_refuse_an_infinite_lifetime() -> None:
    resolver = ResilientResolver(["127.0.0.1"])
    with pytest.raises((ConfigError, InvalidInput), match="lifetime"):
        resolver.resolve("www.example.test.", "A", lifetime=math.inf)
    probe = DnsProbe("www.example.test.", nameserver="127.0.0.1")
    with pytest.raises(ConfigError, match="timeout"):
        probe.check(math.inf)
