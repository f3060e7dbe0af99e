"""ResilientResolver and DnsProbe on a real BIND: stop it, and stale answers keep coming.

The test starts its own BIND (not the session one) because it kills it: other tests
sharing the session server must never see it down.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from failover.capabilities import Record
from failover.clock import FakeClock
from failover.errors import AllTargetsFailed, NotFound, Unavailable
from failover.providers.dns import DnsProbe, ResilientResolver
from tests.integration import dns_factories
from tests.integration.bind import BindServer
from tests.integration.servers import ServerError

pytestmark = pytest.mark.integration


@pytest.fixture
def own_bind() -> Iterator[BindServer]:
    server = BindServer()
    try:
        server.start()
    except ServerError as exc:
        server.close()
        pytest.fail(f"could not start BIND: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


def test_bind_stops_the_resolver_serves_stale_and_says_so_then_recovers(own_bind: BindServer) -> None:
    zone = dns_factories.rfc2136_zone(own_bind)
    zone.upsert_record(Record("api", "A", 60, ("192.0.2.10", "192.0.2.11")))
    clock = FakeClock()
    resolver = ResilientResolver([(own_bind.host, own_bind.port)], timeout=0.5, clock=clock, stale_ttl=30)
    where = f"nameserver {own_bind.endpoint}"

    fresh = resolver.resolve("api.example.test")
    assert (fresh.values, fresh.ttl, fresh.stale, fresh.source) == (("192.0.2.10", "192.0.2.11"), 60, False, where)
    with pytest.raises(NotFound):
        resolver.resolve("missing.example.test")

    own_bind.kill()
    clock.advance(61)  # past the record's TTL: the cache alone can no longer answer
    stale = resolver.resolve("api.example.test")
    assert (stale.values, stale.ttl, stale.stale, stale.source) == (("192.0.2.10", "192.0.2.11"), 30, True, "stale")
    status = resolver.status()
    assert (status.stale_served, status.last_answer_stale) == (1, True)
    (ns,) = status.nameservers
    assert ns.address == own_bind.endpoint and ns.last_error
    with pytest.raises(AllTargetsFailed):
        resolver.resolve("www.example.test")  # never cached: nothing to serve

    own_bind.start()  # same port, zone as first written: write the record again
    zone.upsert_record(Record("api", "A", 60, ("192.0.2.12",)))
    clock.advance(60)  # past any breaker open time
    back = resolver.resolve("api.example.test")
    assert (back.values, back.stale, back.source) == (("192.0.2.12",), False, where)
    assert resolver.status().last_answer_stale is False
    assert resolver.resolve("api.example.test").source == "cache"


def test_a_direct_probe_follows_bind_up_and_down(own_bind: BindServer) -> None:
    zone = dns_factories.rfc2136_zone(own_bind)
    zone.upsert_record(Record("db", "A", 30, ("192.0.2.20",)))
    server = (own_bind.host, own_bind.port)
    DnsProbe("db.example.test", nameserver=server, expect=["192.0.2.20"]).check(1.0)
    with pytest.raises(Unavailable, match="expected"):
        DnsProbe("db.example.test", nameserver=server, expect=["192.0.2.21"]).check(1.0)
    own_bind.kill()
    with pytest.raises(Unavailable):  # over TCP a dead server is refused at once
        DnsProbe("db.example.test", nameserver=server, tcp=True).check(1.0)
