"""DnsController on real servers: loopback HTTP endpoints, BIND (RFC 2136) and Route 53 (moto)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import dns.message
import dns.query
import pytest

from failover import HealthConfig, Target
from failover.controllers.dns_controller import DnsController, Endpoint
from failover.errors import NotFound
from failover.health.probes import HttpProbe
from tests.integration import dns_factories, servers
from tests.integration.bind import BindServer
from tests.integration.http_endpoint import HttpEndpoint

pytestmark = pytest.mark.integration

INTERVAL = 0.2
FALL = 2


@pytest.fixture
def endpoints() -> Iterator[list[HttpEndpoint]]:
    started = [HttpEndpoint(), HttpEndpoint()]
    yield started
    for endpoint in started:
        endpoint.stop()


@pytest.fixture
def own_bind() -> Iterator[BindServer]:
    server = BindServer()
    try:
        server.start()
    except Exception as exc:  # the test fails with named's log, it is never skipped
        pytest.fail(f"BIND did not start: {exc}\n{server.log_tail()}")
    yield server
    server.close()


def resolve(bind: BindServer, name: str) -> tuple[str, ...]:
    """What BIND answers right now, over the wire."""
    response = dns.query.udp(dns.message.make_query(name, "A"), bind.host, port=bind.port, timeout=1.0)
    return tuple(sorted(item.to_text() for rrset in response.answer for item in rrset))


def wait_for(condition: Callable[[], bool], timeout: float, step: Callable[[], object]) -> float:
    """Run controller passes until ``condition`` holds; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        step()
        if condition():
            return time.monotonic() - started
        time.sleep(INTERVAL / 4)
    raise AssertionError(f"condition not met within {timeout}s")


def test_record_follows_endpoint_health_on_bind_and_route53(
    request: pytest.FixtureRequest, own_bind: BindServer, endpoints: list[HttpEndpoint]
) -> None:
    name = f"api.{own_bind.zone}"
    route53_zone = dns_factories.route53_zone_factory(request)
    route53_name = f"api.{route53_zone.zone}"  # its own hosted zone on moto
    bind_zone = dns_factories.rfc2136_zone(own_bind)
    primary, secondary = "127.0.0.11", "127.0.0.12"
    common = {
        "interval": INTERVAL,
        "timeout": 0.15,
        "jitter": 0.0,
        "health": HealthConfig(rise=2, fall=FALL),
        "failback_after": 1.0,
        "min_ttl": 0,
        "ttl": 1,
    }
    probes = [Endpoint(primary, HttpProbe(endpoints[0].url), 0), Endpoint(secondary, HttpProbe(endpoints[1].url), 1)]
    on_bind = DnsController(name, "A", probes, [Target("bind:local", bind_zone)], **common)  # type: ignore[arg-type]
    on_both = DnsController(route53_name, "A", probes, [Target("route53:moto", route53_zone)], **common)  # type: ignore[arg-type]

    def step() -> None:
        on_bind.run_once()
        on_both.run_once()

    def route53_values() -> tuple[str, ...]:
        try:
            return tuple(sorted(route53_zone.get_record(route53_name, "A").values))
        except NotFound:
            return ()

    wait_for(lambda: resolve(own_bind, name) == (primary,) and route53_values() == (primary,), 5.0, step)

    endpoints[0].stop()
    took = wait_for(lambda: resolve(own_bind, name) == (secondary,) and route53_values() == (secondary,), 5.0, step)
    assert took < INTERVAL * (FALL + 2) + 1.0, f"record moved after {took:.2f}s"

    endpoints[0].start()
    back = wait_for(lambda: resolve(own_bind, name) == (primary,), 10.0, step)
    assert back >= 1.0, "failback must wait for the hysteresis"


def test_route53_is_updated_while_bind_is_down_and_bind_catches_up(
    request: pytest.FixtureRequest, own_bind: BindServer, endpoints: list[HttpEndpoint]
) -> None:
    # Route 53 gets a hosted zone of the same name as BIND's, so one record lives in both.
    from failover.providers.aws.route53 import Route53Zone

    moto = servers.alive(request.getfixturevalue("moto_east"))
    session = dns_factories.aws_session(request)
    session.client("route53", endpoint_url=moto.endpoint).create_hosted_zone(
        Name=own_bind.zone, CallerReference=servers.unique("same-zone")
    )
    shared_route53 = Route53Zone(own_bind.zone, endpoint_url=moto.endpoint, session=session)
    name = f"www.{own_bind.zone}"
    primary, secondary = "127.0.0.21", "127.0.0.22"
    controller = DnsController(
        name,
        "A",
        [Endpoint(primary, HttpProbe(endpoints[0].url), 0), Endpoint(secondary, HttpProbe(endpoints[1].url), 1)],
        [Target("route53:moto", shared_route53), Target("bind:local", dns_factories.rfc2136_zone(own_bind))],
        interval=INTERVAL,
        timeout=0.15,
        jitter=0.0,
        health=HealthConfig(rise=2, fall=FALL),
        failback_after=30.0,
        min_ttl=0,
        ttl=1,
    )
    wait_for(lambda: resolve(own_bind, name) == (primary,), 5.0, controller.run_once)

    own_bind.kill()
    endpoints[0].stop()
    wait_for(lambda: shared_route53.get_record(name, "A").values == (secondary,), 5.0, controller.run_once)
    assert "bind:local" in controller.run_once().failed

    own_bind.start()
    wait_for(lambda: resolve(own_bind, name) == (secondary,), 90.0, controller.run_once)


def test_with_100ms_probes_the_record_moves_within_half_a_second(
    own_bind: BindServer, endpoints: list[HttpEndpoint]
) -> None:
    name = f"fast.{own_bind.zone}"
    primary, secondary = "127.0.0.41", "127.0.0.42"
    controller = DnsController(
        name,
        "A",
        [Endpoint(primary, HttpProbe(endpoints[0].url), 0), Endpoint(secondary, HttpProbe(endpoints[1].url), 1)],
        [Target("bind:local", dns_factories.rfc2136_zone(own_bind))],
        interval=0.1,
        timeout=0.1,
        health=HealthConfig(rise=2, fall=3),
        failback_after=30.0,
        min_ttl=0,
        ttl=1,
    )
    with controller:  # the controller's own loop, not passes driven by the test
        wait_for(lambda: resolve(own_bind, name) == (primary,), 5.0, lambda: None)
        endpoints[0].stop()
        started = time.monotonic()
        while resolve(own_bind, name) != (secondary,):
            assert time.monotonic() - started < 0.5, "the record did not move within 0.5 s"
            time.sleep(0.005)
