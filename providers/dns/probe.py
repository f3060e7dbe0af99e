"""A health probe that resolves a name, for `failover.health.checker.HealthChecker`.

Two ways to ask:

* ``nameserver=`` queries that server directly, once, with no cache: a health check of
  a DNS server must see the live server, not what some cache remembers of it.
* ``resolver=`` asks a `ResilientResolver`, within the probe's timeout: "can the
  application resolve this name?".  A stale answer means every upstream failed, so it
  counts as a failure unless ``allow_stale=True``.

``expect`` makes the probe also check the answer: healthy only when the record holds
exactly those values (compared as DNS data: ``2001:db8::1`` equals ``2001:DB8:0::1`` and
names are case-insensitive).  NXDOMAIN and NODATA always fail the probe.
"""

from __future__ import annotations

from collections.abc import Iterable

from failover.providers._sdk import missing_sdk

try:
    import dns.exception
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
except ImportError as exc:
    raise missing_sdk(__name__, "dns", exc) from exc

from failover.errors import ConfigError, InvalidInput, NotFound, Timeout, Unavailable
from failover.health.probes import validate_timeout
from failover.providers.dns.resolver import (
    ResilientResolver,
    address_label,
    parse_name,
    parse_nameserver,
    parse_type,
    query_nameserver,
)


class DnsProbe:
    """Healthy when ``name``/``type`` resolves (to exactly ``expect``, if given) in time."""

    __slots__ = ("_allow_stale", "_expect", "_qname", "_rdtype", "_resolver", "_server", "_tcp", "name", "type")

    def __init__(
        self,
        name: str,
        type: str = "A",
        *,
        nameserver: str | tuple[str, int] | None = None,
        resolver: ResilientResolver | None = None,
        expect: Iterable[str] | None = None,
        allow_stale: bool = False,
        tcp: bool = False,
    ) -> None:
        self._qname = parse_name(name)
        self._rdtype = parse_type(type)
        self.name = self._qname.to_text()
        self.type = dns.rdatatype.to_text(self._rdtype)
        if (nameserver is None) == (resolver is None):
            raise ConfigError("DnsProbe needs exactly one of nameserver= or resolver=")
        self._server = None if nameserver is None else parse_nameserver(nameserver)
        if resolver is not None and not isinstance(resolver, ResilientResolver):
            raise ConfigError(f"resolver must be a ResilientResolver, not {resolver.__class__.__name__}")
        self._resolver = resolver
        self._allow_stale = bool(allow_stale)
        self._tcp = bool(tcp)
        if isinstance(expect, (str, bytes)):
            # expect="192.0.2.1" would otherwise become one value per character.
            raise ConfigError("expect must be an iterable of values, not a single string")
        self._expect = None if expect is None else frozenset(self._rdata(v) for v in expect)
        if self._expect is not None and not self._expect:
            raise ConfigError("expect must hold at least one value (leave it out to accept any answer)")

    def check(self, timeout: float) -> None:
        timeout = validate_timeout(timeout)
        what = f"dns {self.name} {self.type}"
        if self._server is not None:
            host, port = self._server
            what += f" at {address_label(host, port)}"
            if timeout <= 0:
                raise Timeout(f"{what}: no time to ask")
            reply = query_nameserver(host, port, self._qname, self._rdtype, timeout=timeout, tcp=self._tcp)
            if reply.negative:
                raise NotFound(f"{what}: {reply.negative}", operation="probe")
            values = reply.values
        else:
            assert self._resolver is not None
            answer = self._resolver.resolve(self.name, self.type, lifetime=timeout)
            if answer.stale and not self._allow_stale:
                raise Unavailable(f"{what}: only a stale answer (every nameserver failed)")
            values = answer.values
        if self._expect is not None:
            got = frozenset(self._rdata(v) for v in values)
            if got != self._expect:
                raise Unavailable(f"{what}: answered {_show(got)}, expected {_show(self._expect)}")

    def _rdata(self, value: str) -> dns.rdata.Rdata:
        # Rdata compares by canonical wire form: equal data in different spellings match.
        if not isinstance(value, str):
            raise InvalidInput(f"expected {self.type} values as str, got {type(value).__name__}")
        try:
            return dns.rdata.from_text(dns.rdataclass.IN, self._rdtype, value, origin=dns.name.root)
        except (dns.exception.DNSException, ValueError) as exc:
            raise InvalidInput(f"invalid {self.type} value {value!r}: {exc}") from None

    def __repr__(self) -> str:
        where = address_label(*self._server) if self._server is not None else repr(self._resolver)
        return f"DnsProbe({self.name!r}, {self.type!r}, via {where})"


def _show(values: frozenset[dns.rdata.Rdata]) -> str:
    return "[" + ", ".join(sorted(v.to_text() for v in values)) + "]"


__all__ = ["DnsProbe"]
