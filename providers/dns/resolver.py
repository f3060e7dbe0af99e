"""A stub resolver that keeps answering when its nameservers do not (RFC 8767 serve-stale).

* Nameservers are tried in order, each behind its own `CircuitBreaker`: a dead one is
  skipped without waiting once its breaker opens, and probed again when it half-opens.
* Each query is one dnspython exchange (``dns.query.udp``, TCP on truncation or with
  ``tcp=True``) bounded by ``timeout``; ``dns.resolver.Resolver`` is not used because it
  waits out its whole lifetime (5 s) even on an unreachable port.  Until the breakers
  open, a dead server still costs ``timeout`` per query: ``resolve(..., lifetime=)`` bounds
  the whole call (RFC 8767's "client response timer") and then serves stale if it can.
* Answers are cached for the smallest TTL along the CNAME chain.  When every nameserver
  fails, an expired answer up to ``stale_for`` seconds past its expiry is returned with
  ``stale=True`` and TTL ``stale_ttl`` (RFC 8767 section 4); the next good answer replaces it.
* NXDOMAIN and NODATA raise `NotFound` and are cached for the SOA's negative TTL (RFC 2308
  section 5: min of the SOA TTL and MINIMUM), capped by ``negative_ttl_cap``.  A negative
  answer without an SOA is not cached, and expired negative answers are never served stale:
  "does not exist" from an unreachable upstream would hide a name created meanwhile.

TTLs and breakers follow the injected clock; network timeouts are real seconds.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from failover.providers._sdk import missing_sdk

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdatatype
except ImportError as exc:
    raise missing_sdk(__name__, "dns", exc) from exc

from failover.breaker.circuit import BreakerConfig, CircuitBreaker
from failover.clock import Clock, SystemClock
from failover.errors import AllTargetsFailed, ConfigError, FailoverError, InvalidInput, NotFound, Timeout, Unavailable

# Three straight failures are plenty for DNS: an answer normally takes milliseconds, and
# an open breaker only costs the next name a skipped server.  Frozen, so sharing is safe.
DEFAULT_BREAKER = BreakerConfig(consecutive_failures=3, open_base=5.0, open_max=60.0)
# Modern resolvers advertise this EDNS size to avoid IP fragmentation (DNS flag day 2020).
_EDNS_PAYLOAD = 1232


@dataclass(frozen=True, slots=True)
class Answer:
    name: str  # absolute and lower-cased: "www.example.com."
    type: str
    values: tuple[str, ...]  # presentation form, sorted: an RRset has no order
    ttl: int  # seconds left; ``stale_ttl`` for a stale answer
    stale: bool
    source: str  # "cache", "stale" or "nameserver 192.0.2.53:53"


@dataclass(frozen=True, slots=True)
class Reply:
    """One nameserver's usable answer: values, or a negative answer (``negative`` says which)."""

    values: tuple[str, ...]
    ttl: int
    negative: str | None  # "NXDOMAIN", "NODATA" or None
    cacheable: bool  # False for a negative answer without an SOA (RFC 2308 section 5)


@dataclass(frozen=True, slots=True)
class NameserverStatus:
    address: str
    breaker: str  # the breaker state: closed, open, half_open...
    available: bool  # would a query be sent to it now
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ResolverStatus:
    nameservers: tuple[NameserverStatus, ...]
    cache_entries: int
    cache_hits: int
    stale_served: int
    last_answer_stale: bool


@dataclass(slots=True)
class _Entry:
    values: tuple[str, ...]
    negative: str | None
    expires: float


class _Server:
    __slots__ = ("breaker", "host", "label", "port")

    def __init__(self, host: str, port: int, breaker: CircuitBreaker) -> None:
        self.host, self.port, self.breaker = host, port, breaker
        self.label = address_label(host, port)


class ResilientResolver:
    """Resolve names through ``nameservers`` (IPs, or ``(ip, port)``), in order of preference."""

    def __init__(
        self,
        nameservers: Sequence[str | tuple[str, int]],
        *,
        timeout: float = 1.0,
        attempts_per_server: int = 1,
        stale_for: float = 86400.0,
        stale_ttl: int = 30,
        negative_ttl_cap: int = 3600,
        max_entries: int = 10_000,
        breaker: BreakerConfig | None = None,
        clock: Clock | None = None,
        tcp: bool = False,
    ) -> None:
        if isinstance(nameservers, (str, bytes)) or not nameservers:
            raise ConfigError("nameservers must be a non-empty sequence of IP addresses or (ip, port) pairs")
        self._timeout = _seconds("timeout", timeout)
        self._attempts = _count("attempts_per_server", attempts_per_server, 1)
        self._stale_for = _seconds("stale_for", stale_for, zero=True)
        self._stale_ttl = _count("stale_ttl", stale_ttl, 0)
        self._negative_cap = _count("negative_ttl_cap", negative_ttl_cap, 0)
        self._max_entries = _count("max_entries", max_entries, 1)
        self._tcp = bool(tcp)
        self._clock = clock or SystemClock()
        config = breaker or DEFAULT_BREAKER
        self._servers: list[_Server] = []
        for spec in nameservers:
            host, port = parse_nameserver(spec)
            label = address_label(host, port)
            if any(s.label == label for s in self._servers):
                raise ConfigError(f"nameserver {label} is listed twice")
            self._servers.append(_Server(host, port, CircuitBreaker(f"dns {label}", config, clock=self._clock)))
        self._lock = threading.Lock()  # guards everything below; never held during I/O
        self._cache: OrderedDict[tuple[dns.name.Name, dns.rdatatype.RdataType], _Entry] = OrderedDict()
        self._hits = 0
        self._stale_served = 0
        self._last_stale = False

    def resolve(self, name: str, type: str = "A", *, lifetime: float | None = None) -> Answer:
        """The answer for ``name``/``type``; raises `NotFound` or `AllTargetsFailed`.

        ``lifetime`` bounds the whole call in real seconds (each query gets at most what
        is left), for callers such as health probes that have a deadline of their own.
        """
        qname, rdtype = parse_name(name), parse_type(type)
        if lifetime is not None:
            _seconds("lifetime", lifetime, zero=True)
        text, tname = qname.to_text(), dns.rdatatype.to_text(rdtype)
        key = (qname, rdtype)
        with self._lock:
            now = self._clock.monotonic()
            entry = self._lookup(key, now)
            if entry is not None and entry.expires > now:
                self._hits += 1
                self._last_stale = False
                return self._from_entry(entry, text, tname)
        try:
            reply, server = self._ask(qname, rdtype, text, tname, lifetime)
        except AllTargetsFailed:
            with self._lock:
                now = self._clock.monotonic()
                entry = self._lookup(key, now)
                if entry is not None and entry.expires > now:  # another thread refreshed it meanwhile
                    self._last_stale = False
                    return self._from_entry(entry, text, tname)
                if entry is not None and entry.negative is None:
                    self._stale_served += 1
                    self._last_stale = True
                    return Answer(text, tname, entry.values, self._stale_ttl, stale=True, source="stale")
            raise
        ttl = min(reply.ttl, self._negative_cap) if reply.negative else reply.ttl
        with self._lock:
            self._last_stale = False
            if reply.cacheable:
                self._cache[key] = _Entry(reply.values, reply.negative, self._clock.monotonic() + ttl)
                self._cache.move_to_end(key)
                while len(self._cache) > self._max_entries:
                    self._cache.popitem(last=False)  # least recently used
        if reply.negative:
            raise NotFound(f"{text} {tname}: {reply.negative}", target=f"nameserver {server}", operation="resolve")
        return Answer(text, tname, reply.values, ttl, stale=False, source=f"nameserver {server}")

    def _lookup(self, key: tuple[dns.name.Name, dns.rdatatype.RdataType], now: float) -> _Entry | None:
        """The entry if still fresh or servable stale, marked recently used (lock held)."""
        entry = self._cache.get(key)
        if entry is None:
            return None
        # A negative answer is useless once expired; a positive one may still be served stale.
        if now >= (entry.expires if entry.negative else entry.expires + self._stale_for):
            del self._cache[key]
            return None
        self._cache.move_to_end(key)
        return entry

    def _from_entry(self, entry: _Entry, name: str, tname: str) -> Answer:
        ttl = max(0, int(entry.expires - self._clock.monotonic()))
        if entry.negative:
            raise NotFound(f"{name} {tname}: {entry.negative} (cached)", operation="resolve")
        return Answer(name, tname, entry.values, ttl, stale=False, source="cache")

    def _ask(
        self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, text: str, tname: str, lifetime: float | None
    ) -> tuple[Reply, str]:
        errors: list[FailoverError] = []
        deadline = None if lifetime is None else time.monotonic() + lifetime
        for server in self._servers:
            for _ in range(self._attempts):
                timeout = self._timeout if deadline is None else min(self._timeout, deadline - time.monotonic())
                if timeout <= 0:
                    errors.append(Timeout("lifetime used up", target=server.label, operation="resolve"))
                    raise AllTargetsFailed(f"resolve {text} {tname}: out of time", operation="resolve", attempts=errors)
                permit = server.breaker.try_acquire()
                if permit is None:
                    errors.append(server.breaker.rejection("resolve"))
                    break
                start = self._clock.monotonic()
                try:
                    reply = query_nameserver(server.host, server.port, qname, rdtype, timeout=timeout, tcp=self._tcp)
                except (Unavailable, Timeout) as exc:
                    server.breaker.on_failure(permit, self._clock.monotonic() - start, exc.message)
                    errors.append(exc)
                    continue
                except BaseException:
                    server.breaker.release(permit)
                    raise
                server.breaker.on_success(permit, self._clock.monotonic() - start)
                return reply, server.label
        raise AllTargetsFailed(f"resolve {text} {tname}: every nameserver failed", operation="resolve", attempts=errors)

    def status(self) -> ResolverStatus:
        servers = tuple(
            NameserverStatus(s.label, s.breaker.state.value, s.breaker.is_available(), s.breaker.last_failure)
            for s in self._servers
        )
        with self._lock:
            return ResolverStatus(servers, len(self._cache), self._hits, self._stale_served, self._last_stale)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def __repr__(self) -> str:
        return f"ResilientResolver({[s.label for s in self._servers]!r})"


# ---------------------------------------------------------------- one exchange, shared with DnsProbe


def query_nameserver(
    host: str, port: int, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, *, timeout: float, tcp: bool = False
) -> Reply:
    """Ask one server once.  Raises `Unavailable`/`Timeout` when it gives no usable answer."""
    label = address_label(host, port)
    query = dns.message.make_query(qname, rdtype, use_edns=0, payload=_EDNS_PAYLOAD)
    deadline = time.monotonic() + timeout
    try:
        if tcp:
            response = dns.query.tcp(query, host, timeout=timeout, port=port)
        else:
            try:
                response = dns.query.udp(query, host, timeout=timeout, port=port, raise_on_truncation=True)
            except dns.message.Truncated:  # too big for UDP: the same question over TCP
                response = dns.query.tcp(query, host, timeout=max(0.0, deadline - time.monotonic()), port=port)
        return _reply(response, label)
    except (Unavailable, Timeout):
        raise
    except (dns.exception.Timeout, TimeoutError) as exc:
        raise Timeout(f"{label}: no answer within {timeout:g}s", target=label, operation="resolve") from exc
    except (OSError, EOFError, dns.exception.DNSException) as exc:
        # Refused, reset, garbled, a chain too long: this server gives no usable answer.
        raise Unavailable(f"{label}: {type(exc).__name__}: {exc}", target=label, operation="resolve") from exc


def _reply(response: dns.message.Message, label: str) -> Reply:
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        # SERVFAIL, REFUSED...: this server cannot answer; another one may.
        raise Unavailable(f"{label}: {dns.rcode.to_text(rcode)}", target=label, operation="resolve")
    if not isinstance(response, dns.message.QueryMessage):  # dns.query parses answers to queries as these
        raise Unavailable(f"{label}: not an answer to a query", target=label, operation="resolve")
    chain = response.resolve_chaining()
    ttl = int(chain.minimum_ttl)
    has_soa = any(rrset.rdtype == dns.rdatatype.SOA for rrset in response.authority)
    if chain.answer is not None:
        return Reply(tuple(sorted(rdata.to_text() for rdata in chain.answer)), ttl, None, cacheable=True)
    if rcode == dns.rcode.NXDOMAIN:
        return Reply((), ttl, "NXDOMAIN", cacheable=has_soa)
    if not has_soa and any(rrset.rdtype == dns.rdatatype.NS for rrset in response.authority):
        # A referral: an authoritative server that does not recurse, asked about a name it
        # delegates or does not serve.  Not an answer, so not "no data".
        raise Unavailable(
            f"{label}: referral instead of an answer (not a recursive server?)", target=label, operation="resolve"
        )
    return Reply((), ttl, "NODATA", cacheable=has_soa)


# ---------------------------------------------------------------- input checks


def parse_nameserver(spec: str | tuple[str, int]) -> tuple[str, int]:
    if isinstance(spec, str):
        host, port = spec, 53
    elif isinstance(spec, tuple) and len(spec) == 2:
        host, port = spec
    else:
        raise ConfigError(f"nameserver must be an IP address or an (ip, port) pair, not {spec!r}")
    try:
        if not isinstance(host, str):
            raise ValueError(host)
        host = str(ipaddress.ip_address(host))
    except ValueError:
        raise ConfigError(f"nameserver must be an IP address or an (ip, port) pair, not {spec!r}") from None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"nameserver port must be an int in 1..65535, not {port!r}")
    return host, port


def address_label(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_name(name: str) -> dns.name.Name:
    """An absolute, lower-cased name; ``"www.example.com"`` and ``"www.example.com."`` are the same."""
    if not isinstance(name, str) or not name.strip(".") or any(c.isspace() for c in name):
        raise InvalidInput(f"invalid DNS name {name!r}")
    try:
        return dns.name.from_text(name).canonicalize()
    except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
        raise InvalidInput(f"invalid DNS name {name!r}: {exc}") from None


def parse_type(type: str) -> dns.rdatatype.RdataType:
    try:
        if not isinstance(type, str):
            raise ValueError(type)
        rdtype = dns.rdatatype.from_text(type.upper())
    except (dns.exception.DNSException, ValueError):
        raise InvalidInput(f"unknown DNS record type {type!r}") from None
    if dns.rdatatype.is_metatype(rdtype):  # ANY, AXFR, OPT...: not something to cache or resolve
        raise InvalidInput(f"cannot resolve record type {type!r}")
    return rdtype


def _seconds(name: str, value: float, *, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value >= 0 if zero else value > 0):
        raise ConfigError(f"{name} must be a number of seconds {'>=' if zero else '>'} 0, not {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, not {value!r}")
    return float(value)


def _count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an int >= {minimum}, not {value!r}")
    return value


__all__ = [
    "DEFAULT_BREAKER",
    "Answer",
    "NameserverStatus",
    "Reply",
    "ResilientResolver",
    "ResolverStatus",
    "address_label",
    "parse_name",
    "parse_nameserver",
    "parse_type",
    "query_nameserver",
]
