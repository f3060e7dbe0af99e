"""Route 53 (on moto) and RFC 2136 (on BIND): errors mapped at the boundary, secrets kept out.

What the contract suite cannot say: how each adapter fails against a real server that
refuses, rejects a key, is broken, dies or stops answering; that bad input never reaches
the network; and that the TSIG secret shows up nowhere.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.update
import dns.xfr
import dns.zone
import pytest

from failover.capabilities import Record
from failover.errors import (
    ConfigError,
    FailoverError,
    InvalidInput,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    Timeout,
    Unavailable,
)
from failover.providers.aws.route53 import Route53Zone
from failover.providers.dns import Rfc2136Zone
from tests.integration import dns_factories
from tests.integration.bind import BROKEN_ZONE, BindServer
from tests.integration.servers import LocalServer, closed_port

pytestmark = pytest.mark.integration

# Well-formed (base64 of 32 bytes) but not the server's.
WRONG_SECRET = "d3JvbmctYnV0LXdlbGwtZm9ybWVkLXNlY3JldC0zMmI="
A_RECORD = Record("www", "A", 60, ("192.0.2.1",))




def chain(exc: BaseException) -> Iterator[BaseException]:
    """The error and everything it was raised from."""
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def assert_secret_absent(secret: str, *texts: object) -> None:
    for text in texts:
        assert secret not in str(text)


# ---------------------------------------------------------------- RFC 2136: the server's own rules


def test_the_server_refuses_unsigned_updates_and_transfers(server: BindServer) -> None:
    # The harness itself: what the adapter relies on a sane primary to do.
    update = dns.update.UpdateMessage(server.zone)
    update.replace("www", 60, "A", "192.0.2.1")
    response = dns.query.tcp(update, server.host, port=server.port, timeout=2.0)
    assert response.rcode() == dns.rcode.REFUSED
    transfer = dns.zone.Zone(server.zone, relativize=False)
    with pytest.raises(dns.xfr.TransferError):
        dns.query.inbound_xfr(server.host, transfer, port=server.port, timeout=2.0)


def test_construction_needs_a_valid_key(server: BindServer) -> None:
    make: Callable[..., Any] = dns_factories.rfc2136_zone
    for overrides in (
        {"tsig_key_name": ""},
        {"tsig_secret": ""},
        {"tsig_secret": "not base64!" + server.tsig_secret},
        {"tsig_algorithm": "hmac-md5"},
        {"server": "ns1.example.test"},
        {"port": 0},
        {"timeout": 0},
    ):
        with pytest.raises(ConfigError) as caught:
            make(server, **overrides)
        assert_secret_absent(server.tsig_secret, caught.value, repr(caught.value))
    with pytest.raises(TypeError):
        Rfc2136Zone(server.zone, server=server.host, port=server.port)  # type: ignore[call-arg]


# ---------------------------------------------------------------- RFC 2136: keys and permissions


@pytest.mark.parametrize(
    "overrides",
    [{"tsig_secret": WRONG_SECRET}, {"tsig_key_name": "no-such-key"}],
    ids=["wrong-secret", "unknown-key"],
)
def test_a_rejected_key_is_permission_denied(server: BindServer, overrides: dict[str, str]) -> None:
    bad = dns_factories.rfc2136_zone(server, **overrides)
    for call in (
        lambda: bad.upsert_record(A_RECORD),
        lambda: bad.delete_record("www", "A"),
        lambda: list(bad.list_records()),
    ):
        with pytest.raises(PermissionDenied) as caught:
            call()
        assert_secret_absent(server.tsig_secret, *chain(caught.value))
        assert_secret_absent(WRONG_SECRET, *chain(caught.value))


def test_a_key_without_rights_is_refused(server: BindServer) -> None:
    readonly = dns_factories.rfc2136_zone(
        server, tsig_key_name=server.readonly_key_name, tsig_secret=server.readonly_secret
    )
    readonly.probe()  # reads are open to anyone
    with pytest.raises(PermissionDenied, match="REFUSED"):
        readonly.upsert_record(A_RECORD)
    with pytest.raises(PermissionDenied, match="REFUSED"):
        readonly.delete_record("www", "A")
    with pytest.raises(PermissionDenied, match="REFUSED"):
        list(readonly.list_records())


def test_a_zone_the_server_does_not_serve_is_denied(server: BindServer) -> None:
    stray = Rfc2136Zone(
        "elsewhere.test.", server=server.host, port=server.port,
        tsig_key_name=server.key_name, tsig_secret=server.tsig_secret,
    )
    with pytest.raises(PermissionDenied, match="NOTAUTH"):
        stray.upsert_record(A_RECORD)
    with pytest.raises(PermissionDenied, match="REFUSED"):
        stray.get_record("www", "A")


def test_the_secret_is_never_shown(server: BindServer, zone: Rfc2136Zone, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bad = dns_factories.rfc2136_zone(server, tsig_secret=WRONG_SECRET)
    errors: list[FailoverError] = []
    for call in (lambda: bad.upsert_record(A_RECORD), lambda: bad.get_record("missing", "A")):
        try:
            call()
        except FailoverError as exc:
            errors.append(exc)
    zone.upsert_record(A_RECORD)
    logging.getLogger("test").debug("zones: %r %s %r", zone, zone, bad)
    assert errors
    for secret in (server.tsig_secret, WRONG_SECRET):
        assert_secret_absent(secret, repr(zone), str(zone), repr(bad), caplog.text)
        for error in errors:
            assert_secret_absent(secret, *chain(error), *(repr(e) for e in chain(error)))


# ---------------------------------------------------------------- RFC 2136: broken, dead, silent servers


def test_a_broken_zone_is_unavailable(server: BindServer) -> None:
    # named could not load this zone's file: it answers SERVFAIL, a temporary failure.
    broken = Rfc2136Zone(
        BROKEN_ZONE, server=server.host, port=server.port,
        tsig_key_name=server.key_name, tsig_secret=server.tsig_secret,
    )
    with pytest.raises(Unavailable, match="SERVFAIL") as caught:
        broken.get_record("www", "A")
    assert caught.value.temporary
    with pytest.raises(Unavailable, match="SERVFAIL"):
        broken.probe()


def test_a_cname_never_shares_its_name(zone: Rfc2136Zone) -> None:
    # BIND silently ignores such updates (NOERROR); the adapter's prerequisites make them errors.
    zone.upsert_record(Record("alias", "CNAME", 60, ("www.example.net.",)))
    zone.upsert_record(Record("alias", "CNAME", 30, ("www.example.org.",)))  # replacing a CNAME is fine
    with pytest.raises(InvalidRequest, match="YXRRSET"):
        zone.upsert_record(Record("alias", "A", 60, ("192.0.2.1",)))
    assert zone.get_record("alias", "CNAME") == Record("alias.example.test.", "CNAME", 30, ("www.example.org.",))
    zone.upsert_record(Record("host", "A", 60, ("192.0.2.1",)))
    with pytest.raises(InvalidRequest, match="other records exist"):
        zone.upsert_record(Record("host", "CNAME", 60, ("www.example.net.",)))
    with pytest.raises(NotFound):
        zone.get_record("host", "CNAME")


def test_a_killed_server_is_unavailable_at_once(server: BindServer) -> None:
    zone = dns_factories.rfc2136_zone(server, timeout=1.0)
    zone.upsert_record(A_RECORD)
    server.kill()
    try:
        for call in (zone.probe, lambda: zone.get_record("www", "A"), lambda: zone.upsert_record(A_RECORD)):
            began = time.monotonic()
            with pytest.raises((Unavailable, Timeout)) as caught:
                call()
            assert time.monotonic() - began < 1.0
            assert caught.value.temporary
    finally:
        server.restart()
    zone.probe()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections (the kernel does) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def test_a_silent_server_times_out_within_the_timeout(server: BindServer, silent_port: int) -> None:
    zone = dns_factories.rfc2136_zone(server, port=silent_port, timeout=0.3)
    for call in (zone.probe, lambda: zone.upsert_record(A_RECORD), lambda: list(zone.list_records())):
        began = time.monotonic()
        with pytest.raises(Timeout) as caught:
            call()
        assert 0.25 < time.monotonic() - began < 1.0
        assert caught.value.temporary


def test_not_found_is_permanent(zone: Rfc2136Zone) -> None:
    with pytest.raises(NotFound) as caught:
        zone.get_record("nothing-here", "A")
    assert not caught.value.temporary


# ---------------------------------------------------------------- bad input never reaches the network


BAD_CALLS: list[tuple[str, Callable[[Any], object]]] = [
    ("bad-name", lambda z: z.get_record("bad..name", "A")),
    ("outside", lambda z: z.delete_record("www.elsewhere.org.", "A")),
    ("bad-type", lambda z: z.get_record("www", "BOGUS")),
    ("negative-ttl", lambda z: z.upsert_record(Record("www", "A", -1, ("192.0.2.1",)))),
    ("huge-ttl", lambda z: z.upsert_record(Record("www", "A", 2**31, ("192.0.2.1",)))),
    ("bad-ip", lambda z: z.upsert_record(Record("www", "A", 60, ("999.1.1.1",)))),
    ("open-quote", lambda z: z.upsert_record(Record("t", "TXT", 60, ('"unterminated',)))),
    ("long-txt", lambda z: z.upsert_record(Record("t", "TXT", 60, ("x" * 1025,)))),
    ("same-txt", lambda z: z.upsert_record(Record("t", "TXT", 60, ("hello", "hello")))),
    ("host-name", lambda z: z.upsert_record(Record("web-", "A", 60, ("192.0.2.1",)))),
]


@pytest.mark.parametrize("call", [c for _, c in BAD_CALLS], ids=[i for i, _ in BAD_CALLS])
def test_bad_input_fails_before_any_request(
    call: Callable[[Any], object], request: pytest.FixtureRequest, loopback_env: None
) -> None:
    # Both adapters point at a port nobody listens on: a request would be Unavailable.
    port = closed_port()
    session = dns_factories.aws_session(request)
    zones = [
        Rfc2136Zone("example.test.", server="127.0.0.1", port=port, tsig_key_name="k", tsig_secret=WRONG_SECRET),
        Route53Zone("example.test.", hosted_zone_id="Z1", endpoint_url=f"http://127.0.0.1:{port}", session=session),
    ]
    for zone in zones:
        with pytest.raises(InvalidInput) as caught:
            call(zone)
        assert not isinstance(caught.value, ConfigError)


# ---------------------------------------------------------------- Route 53 on moto


@pytest.fixture
def moto(moto_east: LocalServer) -> LocalServer:
    from tests.integration.servers import alive as alive_http

    return alive_http(moto_east)


def test_route53_unknown_zone_is_a_config_error(request: pytest.FixtureRequest, moto: LocalServer) -> None:
    session = dns_factories.aws_session(request)
    by_name = Route53Zone("no-such-zone.test.", endpoint_url=moto.endpoint, session=session)
    by_id = Route53Zone("no-such-zone.test.", hosted_zone_id="ZNOSUCHZONE", endpoint_url=moto.endpoint, session=session)
    for call in (by_name.probe, lambda: by_name.get_record("www", "A"), by_id.probe,
                 lambda: by_id.upsert_record(A_RECORD), lambda: list(by_id.list_records())):
        with pytest.raises(ConfigError) as caught:
            call()
        assert not caught.value.temporary


def test_route53_dead_endpoint_is_unavailable_at_once(loopback_env: None) -> None:
    zone = Route53Zone("example.test.", hosted_zone_id="Z1", endpoint_url=f"http://127.0.0.1:{closed_port()}")
    began = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        zone.get_record("www", "A")
    assert time.monotonic() - began < 1.0
    assert caught.value.temporary
