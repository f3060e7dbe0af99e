"""ResilientResolver and DnsProbe against a small fake DNS server on 127.0.0.1.

The fake answers over UDP and TCP (same port) with dnspython-built responses: records,
CNAME chains, NXDOMAIN/NODATA (with or without an SOA), SERVFAIL, truncation, or silence.
TTLs and breakers run on a FakeClock; the only real waits are short query timeouts.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from failover.breaker.circuit import BreakerConfig
from failover.clock import FakeClock
from failover.errors import AllTargetsFailed, CircuitOpen, ConfigError, InvalidInput, NotFound, Timeout, Unavailable
from failover.health.probes import Probe
from failover.providers.dns import Answer, DnsProbe, ResilientResolver

ZONE = "example.test."
SOA = "ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60"  # negative TTL: min(300, 60)
FAST = 0.15  # seconds a query waits for a server that never answers


class FakeDns:
    """A DNS server in two threads; tests change ``records`` and ``mode`` as they go."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], tuple[int, tuple[str, ...]]] = {}
        self.mode = "answer"  # answer | servfail | refused | silent
        self.soa = True  # put the zone's SOA in negative answers
        self.truncate = False  # answer over UDP with TC set and no records
        self.udp_queries = 0
        self.tcp_queries = 0
        self._stop = threading.Event()
        self._udp, self._tcp = _bind_pair()
        self.port = self._udp.getsockname()[1]
        self.address = ("127.0.0.1", self.port)
        self._threads = [
            threading.Thread(target=self._serve_udp, daemon=True),
            threading.Thread(target=self._serve_tcp, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def set(self, name: str, rtype: str, ttl: int, *values: str) -> None:
        self.records[(name, rtype)] = (ttl, values)

    def respond(self, wire: bytes, *, tcp: bool) -> bytes | None:
        query = dns.message.from_wire(wire)
        if self.mode == "silent":
            return None
        response = dns.message.make_response(query)
        if self.mode in ("servfail", "refused"):
            response.set_rcode(dns.rcode.SERVFAIL if self.mode == "servfail" else dns.rcode.REFUSED)
            return response.to_wire()
        if self.truncate and not tcp:
            response.flags |= dns.flags.TC
            return response.to_wire()
        question = query.question[0]
        name, rtype = question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype)
        for _ in range(8):  # follow CNAMEs, as a recursive server would
            if (name, rtype) in self.records:
                response.answer.append(self._rrset(name, rtype))
                return response.to_wire()
            if (name, "CNAME") not in self.records:
                break
            response.answer.append(self._rrset(name, "CNAME"))
            name = self.records[(name, "CNAME")][1][0]
        if not any(owner == name for owner, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        if self.soa:
            response.authority.append(dns.rrset.from_text(ZONE, 300, "IN", "SOA", SOA))
        return response.to_wire()

    def _rrset(self, name: str, rtype: str) -> dns.rrset.RRset:
        ttl, values = self.records[(name, rtype)]
        return dns.rrset.from_text(name, ttl, dns.rdataclass.IN, rtype, *values)

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._udp.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            self.udp_queries += 1
            answer = self.respond(wire, tcp=False)
            if answer is not None:
                self._udp.sendto(answer, peer)

    def _serve_tcp(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._tcp.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(2.0)
                try:
                    (length,) = struct.unpack("!H", _read(conn, 2))
                    self.tcp_queries += 1
                    answer = self.respond(_read(conn, length), tcp=True)
                    if answer is not None:
                        conn.sendall(struct.pack("!H", len(answer)) + answer)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._udp.close()
        self._tcp.close()


def _read(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def _bind_pair() -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on the same free port (retried: the TCP port may be taken)."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(8)
        udp.settimeout(0.05)  # so the threads notice close() quickly
        tcp.settimeout(0.05)
        return udp, tcp
    raise RuntimeError("no free port for both UDP and TCP")


@pytest.fixture
def server() -> Iterator[FakeDns]:
    fake = FakeDns()
    fake.set("www.example.test.", "A", 60, "192.0.2.1", "192.0.2.2")
    yield fake
    fake.close()


@pytest.fixture
def backup() -> Iterator[FakeDns]:
    fake = FakeDns()
    fake.set("www.example.test.", "A", 60, "198.51.100.7")
    yield fake
    fake.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


BREAKER = BreakerConfig(consecutive_failures=2, open_base=10.0, open_max=10.0, jitter=0.0)


def resolver(*servers: FakeDns, clock: FakeClock, **kwargs: object) -> ResilientResolver:
    settings: dict[str, object] = {"timeout": FAST, "breaker": BREAKER, "clock": clock, **kwargs}
    return ResilientResolver([s.address for s in servers], **settings)  # type: ignore[arg-type]


# ---------------------------------------------------------------- answers and the cache


def test_answers_then_serves_from_cache_until_the_ttl_runs_out(server: FakeDns, clock: FakeClock) -> None:
    r = resolver(server, clock=clock)
    first = r.resolve("WWW.example.test")
    assert first == Answer(
        "www.example.test.",
        "A",
        ("192.0.2.1", "192.0.2.2"),
        60,
        stale=False,
        source=f"nameserver 127.0.0.1:{server.port}",
    )
    clock.advance(20)
    cached = r.resolve("www.example.test.")
    assert (cached.source, cached.ttl, cached.values, cached.stale) == ("cache", 40, first.values, False)
    assert server.udp_queries == 1
    server.set("www.example.test.", "A", 60, "192.0.2.9")
    clock.advance(41)
    fresh = r.resolve("www.example.test")
    assert (fresh.values, fresh.source, fresh.ttl) == (("192.0.2.9",), f"nameserver 127.0.0.1:{server.port}", 60)
    assert server.udp_queries == 2
    assert r.status().cache_hits == 1


def test_a_cname_chain_is_followed_and_cached_for_its_smallest_ttl(server: FakeDns, clock: FakeClock) -> None:
    server.set("api.example.test.", "CNAME", 30, "lb.example.test.")
    server.set("lb.example.test.", "A", 300, "192.0.2.5")
    r = resolver(server, clock=clock)
    assert r.resolve("api.example.test").values == ("192.0.2.5",)
    assert r.resolve("api.example.test").ttl == 30
    clock.advance(31)
    r.resolve("api.example.test")
    assert server.udp_queries == 2


def test_types_are_cached_separately(server: FakeDns, clock: FakeClock) -> None:
    server.set("www.example.test.", "TXT", 60, '"v=1"')
    server.set("www.example.test.", "AAAA", 60, "2001:db8::1")
    r = resolver(server, clock=clock)
    assert r.resolve("www.example.test", "txt").values == ('"v=1"',)
    assert r.resolve("www.example.test", "AAAA").values == ("2001:db8::1",)
    assert r.resolve("www.example.test").values == ("192.0.2.1", "192.0.2.2")
    assert r.status().cache_entries == 3


def test_a_truncated_udp_answer_is_asked_again_over_tcp(server: FakeDns, clock: FakeClock) -> None:
    server.truncate = True
    assert resolver(server, clock=clock).resolve("www.example.test").values == ("192.0.2.1", "192.0.2.2")
    assert (server.udp_queries, server.tcp_queries) == (1, 1)


def test_tcp_mode_never_uses_udp(server: FakeDns, clock: FakeClock) -> None:
    assert resolver(server, clock=clock, tcp=True).resolve("www.example.test").values[0] == "192.0.2.1"
    assert (server.udp_queries, server.tcp_queries) == (0, 1)


# ---------------------------------------------------------------- negative answers


def test_nxdomain_is_not_found_and_cached_for_the_soa_negative_ttl(server: FakeDns, clock: FakeClock) -> None:
    r = resolver(server, clock=clock)
    with pytest.raises(NotFound, match="NXDOMAIN") as caught:
        r.resolve("nope.example.test")
    assert isinstance(caught.value, FileNotFoundError)
    server.set("nope.example.test.", "A", 60, "192.0.2.3")
    clock.advance(59)
    with pytest.raises(NotFound, match="cached"):
        r.resolve("nope.example.test")
    assert server.udp_queries == 1
    clock.advance(2)  # min(SOA TTL 300, MINIMUM 60) has passed
    assert r.resolve("nope.example.test").values == ("192.0.2.3",)


def test_nodata_is_not_found_and_negative_ttls_are_capped(server: FakeDns, clock: FakeClock) -> None:
    r = resolver(server, clock=clock, negative_ttl_cap=5)
    with pytest.raises(NotFound, match="NODATA"):
        r.resolve("www.example.test", "MX")
    clock.advance(4)
    with pytest.raises(NotFound, match="cached"):
        r.resolve("www.example.test", "MX")
    clock.advance(2)
    with pytest.raises(NotFound, match="NODATA"):
        r.resolve("www.example.test", "MX")
    assert server.udp_queries == 2


def test_a_negative_answer_without_an_soa_is_not_cached(server: FakeDns, clock: FakeClock) -> None:
    server.soa = False
    r = resolver(server, clock=clock)
    for _ in range(2):
        with pytest.raises(NotFound):
            r.resolve("nope.example.test")
    assert server.udp_queries == 2


def test_negative_answers_count_as_a_healthy_server(server: FakeDns, clock: FakeClock) -> None:
    r = resolver(server, clock=clock, negative_ttl_cap=0)
    for _ in range(5):
        with pytest.raises(NotFound):
            r.resolve("nope.example.test")
    assert r.status().nameservers[0].breaker == "closed"


# ---------------------------------------------------------------- one breaker per nameserver


def test_a_silent_first_server_is_skipped_once_its_breaker_opens(
    server: FakeDns, backup: FakeDns, clock: FakeClock
) -> None:
    server.mode = "silent"
    r = resolver(server, backup, clock=clock)
    for _ in range(2):
        assert r.resolve("www.example.test").source == f"nameserver 127.0.0.1:{backup.port}"
        r.clear_cache()
    assert server.udp_queries == 2
    began = time.monotonic()
    assert r.resolve("www.example.test").values == ("198.51.100.7",)
    assert time.monotonic() - began < FAST  # no wait for the dead server any more
    assert server.udp_queries == 2
    first, second = r.status().nameservers
    assert (first.breaker, first.available, second.breaker) == ("open", False, "closed")
    assert "no answer within" in (first.last_error or "")
    server.mode = "answer"
    clock.advance(10)  # open time over: the next query is a trial on the first server
    r.clear_cache()
    assert r.resolve("www.example.test").source == f"nameserver 127.0.0.1:{server.port}"
    assert r.status().nameservers[0].breaker == "closed"


@pytest.mark.parametrize("mode", ["servfail", "refused"])
def test_a_server_that_cannot_answer_fails_over_to_the_next(
    server: FakeDns, backup: FakeDns, clock: FakeClock, mode: str
) -> None:
    server.mode = mode
    r = resolver(server, backup, clock=clock)
    assert r.resolve("www.example.test").values == ("198.51.100.7",)
    assert mode.upper() in (r.status().nameservers[0].last_error or "")


def test_attempts_per_server_retries_before_moving_on(server: FakeDns, backup: FakeDns, clock: FakeClock) -> None:
    server.mode = "silent"
    r = resolver(server, backup, clock=clock, attempts_per_server=2, breaker=BreakerConfig(consecutive_failures=5))
    assert r.resolve("www.example.test").values == ("198.51.100.7",)
    assert server.udp_queries == 2


def test_lifetime_bounds_the_whole_resolution(server: FakeDns, backup: FakeDns, clock: FakeClock) -> None:
    server.mode = backup.mode = "silent"
    r = resolver(server, backup, clock=clock, timeout=2.0)
    began = time.monotonic()
    with pytest.raises(AllTargetsFailed):
        r.resolve("www.example.test", lifetime=0.2)
    assert time.monotonic() - began < 1.0


# ---------------------------------------------------------------- serve-stale (RFC 8767)


def test_a_lifetime_gives_a_stale_answer_before_slow_servers_time_out(server: FakeDns, clock: FakeClock) -> None:
    r = resolver(server, clock=clock, timeout=5.0)
    r.resolve("www.example.test")
    server.mode = "silent"
    clock.advance(61)
    began = time.monotonic()
    assert r.resolve("www.example.test", lifetime=0.2).stale
    assert time.monotonic() - began < 1.0


def test_serves_stale_when_every_nameserver_fails_and_says_so(
    server: FakeDns, backup: FakeDns, clock: FakeClock
) -> None:
    r = resolver(server, backup, clock=clock, stale_ttl=15)
    r.resolve("www.example.test")
    server.mode = backup.mode = "servfail"
    clock.advance(61)
    stale = r.resolve("www.example.test")
    assert stale == Answer("www.example.test.", "A", ("192.0.2.1", "192.0.2.2"), 15, stale=True, source="stale")
    status = r.status()
    assert (status.stale_served, status.last_answer_stale) == (1, True)
    assert all(ns.last_error and "SERVFAIL" in ns.last_error for ns in status.nameservers)
    assert r.resolve("www.example.test").stale  # breakers now open: stale at once
    assert all(ns.breaker == "open" for ns in r.status().nameservers)
    # Upstreams back and breakers half-open: the next good answer replaces the stale one.
    server.mode = backup.mode = "answer"
    server.set("www.example.test.", "A", 60, "192.0.2.10")
    clock.advance(10)
    fresh = r.resolve("www.example.test")
    assert (fresh.values, fresh.stale) == (("192.0.2.10",), False)
    assert r.status().last_answer_stale is False
    assert r.resolve("www.example.test").source == "cache"


def test_staleness_is_bounded_by_stale_for(server: FakeDns, backup: FakeDns, clock: FakeClock) -> None:
    r = resolver(server, backup, clock=clock, stale_for=3600.0)
    r.resolve("www.example.test")
    server.mode = backup.mode = "servfail"
    clock.advance(60 + 3599)
    assert r.resolve("www.example.test").stale
    clock.advance(1)
    with pytest.raises(AllTargetsFailed) as caught:
        r.resolve("www.example.test")
    labels = [error.target for error in caught.value.attempts]
    assert labels == [f"127.0.0.1:{server.port}", f"127.0.0.1:{backup.port}"]
    assert all(isinstance(error, (Unavailable, CircuitOpen)) for error in caught.value.attempts)
    assert r.status().cache_entries == 0


def test_stale_for_zero_turns_serve_stale_off(server: FakeDns, clock: FakeClock) -> None:
    r = resolver(server, clock=clock, stale_for=0)
    r.resolve("www.example.test")
    server.mode = "servfail"
    clock.advance(60)
    with pytest.raises(AllTargetsFailed):
        r.resolve("www.example.test")


def test_negative_answers_are_never_served_stale(server: FakeDns, clock: FakeClock) -> None:
    r = resolver(server, clock=clock)
    with pytest.raises(NotFound):
        r.resolve("nope.example.test")
    server.mode = "servfail"
    clock.advance(61)
    with pytest.raises(AllTargetsFailed):
        r.resolve("nope.example.test")


def test_nothing_cached_and_every_server_down_lists_each_error(server: FakeDns, clock: FakeClock) -> None:
    server.mode = "silent"
    r = resolver(server, clock=clock)
    with pytest.raises(AllTargetsFailed) as caught:
        r.resolve("www.example.test")
    (error,) = caught.value.attempts
    assert isinstance(error, Timeout) and error.target == f"127.0.0.1:{server.port}"
    assert caught.value.status == "persistent" and caught.value.fails_over


# ---------------------------------------------------------------- bounds, threads, input


def test_the_cache_is_a_bounded_lru(server: FakeDns, clock: FakeClock) -> None:
    for name in "abc":
        server.set(f"{name}.example.test.", "A", 600, "192.0.2.1")
    r = resolver(server, clock=clock, max_entries=2)
    r.resolve("a.example.test")
    r.resolve("b.example.test")
    r.resolve("a.example.test")  # a is now the most recently used
    r.resolve("c.example.test")  # evicts b
    assert r.status().cache_entries == 2
    assert server.udp_queries == 3
    r.resolve("a.example.test")
    assert server.udp_queries == 3
    r.resolve("b.example.test")
    assert server.udp_queries == 4


def test_concurrent_callers_get_consistent_answers(server: FakeDns, clock: FakeClock) -> None:
    r = resolver(server, clock=clock, timeout=2.0, negative_ttl_cap=0)
    results: list[object] = []

    def work() -> None:
        for i in range(20):
            try:
                results.append(r.resolve("www.example.test" if i % 2 else "nope.example.test").values)
            except NotFound:
                results.append("nx")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(set(map(str, results))) == ["('192.0.2.1', '192.0.2.2')", "nx"]
    assert len(results) == 160


@pytest.mark.parametrize("name", ["", ".", "a b.example", "a..b", "x" * 64 + ".test", 42, None])
def test_bad_names_are_rejected_before_any_query(server: FakeDns, clock: FakeClock, name: object) -> None:
    with pytest.raises(InvalidInput):
        resolver(server, clock=clock).resolve(name)  # type: ignore[arg-type]
    assert server.udp_queries == 0


@pytest.mark.parametrize("rtype", ["BOGUS", "ANY", "AXFR", "OPT", "", 1])
def test_bad_types_are_rejected(server: FakeDns, clock: FakeClock, rtype: object) -> None:
    with pytest.raises(InvalidInput):
        resolver(server, clock=clock).resolve("www.example.test", rtype)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "nameservers",
    [
        [],
        "127.0.0.1",
        ["localhost"],
        ["127.0.0.1:53"],
        [("127.0.0.1", 0)],
        [("127.0.0.1", True)],
        [("127.0.0.1",)],
        [("127.0.0.1", 53), "127.0.0.1"],
    ],
)
def test_bad_nameservers_are_config_errors(nameservers: object) -> None:
    with pytest.raises(ConfigError):
        ResilientResolver(nameservers)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "setting",
    [
        {"timeout": 0},
        {"timeout": -1},
        {"timeout": float("nan")},
        {"timeout": float("inf")},
        {"timeout": True},
        {"attempts_per_server": 0},
        {"stale_for": -1},
        {"stale_ttl": -1},
        {"stale_ttl": 1.5},
        {"negative_ttl_cap": -1},
        {"max_entries": 0},
    ],
)
def test_bad_settings_are_config_errors(setting: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        ResilientResolver(["127.0.0.1"], **setting)  # type: ignore[arg-type]


def test_ipv6_nameservers_are_labelled_with_brackets() -> None:
    r = ResilientResolver(["2001:DB8::53", ("127.0.0.1", 5353)])
    assert [ns.address for ns in r.status().nameservers] == ["[2001:db8::53]:53", "127.0.0.1:5353"]
    with pytest.raises(ConfigError):
        r.resolve("www.example.test", lifetime=-1)


# ---------------------------------------------------------------- DnsProbe


def test_a_direct_probe_sees_the_live_server_not_a_cache(server: FakeDns) -> None:
    probe = DnsProbe("www.example.test", nameserver=server.address, expect=["192.0.2.2", "192.0.2.1"])
    assert isinstance(probe, Probe)
    probe.check(1.0)
    server.set("www.example.test.", "A", 60, "192.0.2.66")
    with pytest.raises(Unavailable, match=r"answered \[192.0.2.66\], expected \[192.0.2.1, 192.0.2.2\]"):
        probe.check(1.0)
    DnsProbe("www.example.test", nameserver=server.address).check(1.0)
    assert server.udp_queries == 3


def test_a_direct_probe_fails_on_nxdomain_servfail_and_silence(server: FakeDns) -> None:
    with pytest.raises(NotFound):
        DnsProbe("nope.example.test", nameserver=server.address).check(1.0)
    server.mode = "servfail"
    with pytest.raises(Unavailable, match="SERVFAIL"):
        DnsProbe("www.example.test", nameserver=server.address).check(1.0)
    server.mode = "silent"
    began = time.monotonic()
    with pytest.raises(Timeout):
        DnsProbe("www.example.test", nameserver=server.address).check(0.2)
    assert time.monotonic() - began < 1.0


def test_expected_values_compare_as_dns_data(server: FakeDns) -> None:
    server.set("v6.example.test.", "AAAA", 60, "2001:db8::1")
    server.set("alias.example.test.", "CNAME", 60, "Target.Example.Test.")
    DnsProbe("v6.example.test", "AAAA", nameserver=server.address, expect=["2001:DB8:0::1"]).check(1.0)
    DnsProbe("alias.example.test", "CNAME", nameserver=server.address, expect=["target.example.test."]).check(1.0)


def test_a_probe_through_the_resolver_fails_on_stale_answers_unless_allowed(server: FakeDns, clock: FakeClock) -> None:
    r = resolver(server, clock=clock)
    probe = DnsProbe("www.example.test", resolver=r, expect=["192.0.2.1", "192.0.2.2"])
    probe.check(1.0)
    server.mode = "servfail"
    clock.advance(61)
    with pytest.raises(Unavailable, match="stale"):
        probe.check(1.0)
    DnsProbe("www.example.test", resolver=r, allow_stale=True).check(1.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"nameserver": "127.0.0.1", "resolver": ResilientResolver(["127.0.0.1"])},
        {"nameserver": "nope"},
        {"resolver": object()},
        {"nameserver": "127.0.0.1", "expect": "192.0.2.1"},
        {"nameserver": "127.0.0.1", "expect": []},
    ],
)
def test_bad_probe_settings_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        DnsProbe("www.example.test", **kwargs)  # type: ignore[arg-type]


def test_bad_probe_values_are_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        DnsProbe("www.example.test", nameserver="127.0.0.1", expect=["not-an-ip"])
    with pytest.raises(InvalidInput):
        DnsProbe("bad name", nameserver="127.0.0.1")
