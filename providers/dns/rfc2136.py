"""One zone on a standard DNS primary (BIND, Knot, PowerDNS...) as a `DnsZone`: RFC 2136
dynamic updates and RFC 5936 zone transfers, every message signed with a TSIG key.

* ``upsert_record`` replaces the RRset in one update (delete RRset + add), which the server
  applies atomically; ``delete_record`` deletes the RRset (a no-op if missing: idempotent).
  Where a server would silently drop data beside a CNAME, prerequisites make it an
  `InvalidRequest`.
* ``upsert_fenced`` adds the fence record (failover/fleet/leader.py) to the same update,
  after a prerequisite that the fence holds the token the writer saw last: the server
  refuses a stale leader's update by itself (NXRRSET or YXRRSET), and nothing changes.
* ``get_record`` queries that name and type; ``list_records`` transfers the zone (AXFR).
  A query cannot tell a wildcard's synthesised answer from a real RRset: with ``*.x`` in
  the zone, ``get_record("a.x", ...)`` returns the wildcard's data (``list_records`` is exact).
* Everything goes over TCP: a dead server fails at once ("connection refused"), where
  UDP would wait out the whole timeout.
* Names in values follow zone-file meaning and are sent absolute (providers/_dns_names.py).
  TXT values are built as rdata from their 255-byte character-strings and read back joined
  (providers/_dns_txt.py), never parsed as zone-file text, where a ``;`` starts a comment.
* The apex NS set is replaced by adding the new servers and then deleting the old ones in
  one update: a server ignores a request to delete the whole apex NS set (RFC 2136 section
  3.4.2.4), so a plain replace would leave the old servers beside the new.  What the server
  then holds is read back and returned.
* A refused update is told apart: the key may not update the zone (`PermissionDenied`), or
  the server's own checks refused the change, such as BIND's ``check-integrity`` for an
  in-zone name server without an address (`InvalidRequest`).  An empty update signed with
  the same key, which a server applies only after its permission check, tells which.

The TSIG secret is held by a wrapper whose repr hides it (dnspython's `Key` prints it), and
error messages are scrubbed of it: it never reaches a repr, an error or a log.  The key is
built and checked in providers/dns/_tsig.py; response codes and exceptions become
`failover.errors` in providers/dns/_rfc2136_errors.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from failover.providers._sdk import missing_sdk

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdata
    import dns.rdataclass
    import dns.rdataset
    import dns.rdatatype
    import dns.update
    import dns.xfr
    import dns.zone
    from dns.rdtypes.ANY.TXT import TXT
except ImportError as exc:
    raise missing_sdk(__name__, "dns", exc) from exc

from failover.capabilities import Record
from failover.errors import (
    ConfigError,
    InvalidInput,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    ProviderError,
    Unavailable,
    Unsupported,
)
from failover.fleet.leader import check_token, fence_record, fence_token, fenced
from failover.providers._dns_names import (
    check_seconds,
    normalize_name,
    normalize_record,
    normalize_type,
    normalize_zone,
)
from failover.providers._dns_txt import txt_join, txt_rdata
from failover.providers.dns._rfc2136_errors import Scope, check, errors
from failover.providers.dns._tsig import TSIG_ALGORITHMS, Tsig, make_key

# What a failed prerequisite answers (RFC 2136 section 3.2.5): each is the fence's or another's.
_PREREQUISITE_FAILED = frozenset({dns.rcode.YXDOMAIN, dns.rcode.YXRRSET, dns.rcode.NXRRSET})
# A fenced update whose fence keeps moving (writers racing) gives up after this many tries.
FENCE_ATTEMPTS = 3


@dataclass(frozen=True)
class _Fence:
    """The fence of a fenced update: its name, the RRset it gets, the token it must hold now."""

    name: str
    rdataset: dns.rdataset.Rdataset
    seen: int


class Rfc2136Zone:
    """Record sets of ``zone`` on the primary at ``server`` (an IP address) : ``port``.

    ``tsig_key_name``/``tsig_secret``/``tsig_algorithm`` are what ``tsig-keygen`` prints;
    they are required: unsigned updates are refused by any sane server, and accepted by a
    misconfigured one.  ``timeout`` bounds each request (seconds).
    """

    def __init__(
        self,
        zone: str,
        *,
        server: str,
        port: int = 53,
        tsig_key_name: str,
        tsig_secret: str,
        tsig_algorithm: str = "hmac-sha256",
        timeout: float = 2.0,
    ) -> None:
        self._zone = normalize_zone(zone)
        self._origin = dns.name.from_text(self._zone)
        try:
            if not isinstance(server, str):
                raise ValueError(server)
            self.server = str(ipaddress.ip_address(server))
        except ValueError:
            raise ConfigError(f"server must be an IP address such as '192.0.2.53', not {server!r}") from None
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f"port must be an int in 1..65535, not {port!r}")
        self.port = port
        check_seconds("timeout", timeout)
        self.timeout = float(timeout)
        self._tsig = Tsig(make_key(tsig_key_name, tsig_secret, tsig_algorithm), tsig_secret)

    @property
    def zone(self) -> str:
        return self._zone

    @property
    def tsig_key_name(self) -> str:
        return str(self._tsig.key.name)

    # ------------------------------------------------------------ reads

    def list_records(self) -> Iterator[Record]:
        """Every record set of the zone (SOA and apex NS included), by name then type, from
        one zone transfer made at the first step."""
        zone = dns.zone.Zone(self._origin, relativize=False)
        query, _ = dns.xfr.make_query(zone, serial=None, **self._sign_args())
        with errors("list_records", self._zone, self._scope()):
            dns.query.inbound_xfr(self.server, zone, query, port=self.port, timeout=self.timeout)
        records = [_record(name, rdataset) for name, rdataset in zone.iterate_rdatasets()]
        records.sort(key=lambda r: (r.name, r.type))
        yield from records

    def get_record(self, name: str, type: str) -> Record:
        fqdn, rtype = normalize_name(name, self._zone), normalize_type(type)
        response = self._send(self._query(fqdn, rtype), "get_record", f"{fqdn} {rtype}")
        if response.rcode() == dns.rcode.NXDOMAIN:
            raise NotFound(f"no {rtype} record for {fqdn} (NXDOMAIN)", operation="get_record")
        self._check(response, "get_record", f"{fqdn} {rtype}")
        qname, qtype = dns.name.from_text(fqdn), dns.rdatatype.from_text(rtype)
        found = response.get_rrset(response.answer, qname, dns.rdataclass.IN, qtype)
        if found is None and qtype == dns.rdatatype.NS and qname != self._origin:
            # NS below the apex is a delegation: the server refers to it instead of answering.
            found = response.get_rrset(response.authority, qname, dns.rdataclass.IN, qtype)
        if found is None:
            raise NotFound(f"no {rtype} record for {fqdn}", operation="get_record")
        return _record(found.name, found)

    # ------------------------------------------------------------ writes

    def upsert_record(self, record: Record) -> Record:
        normal = normalize_record(record, self._zone)
        rdataset = self._rdataset(normal)
        if normal.name == self._zone and normal.type == "NS":
            return self._replace_apex_ns(rdataset)
        return self._upsert_result(self._send_upsert(normal, rdataset, None), normal, _values(rdataset))

    def upsert_fenced(self, record: Record, token: int, *, seen: int | None = None) -> Record:
        """`upsert_record` and the fence in one update whose first prerequisite is the fence
        as ``seen`` (read first when None): the server itself refuses the update if another
        writer changed the fence since.  The fence is then read to tell why: a larger token
        is `Fenced`; one no larger than ours (an older leader's, or none: it was deleted)
        makes the update be sent again, expecting it."""
        check_token(token, seen)
        normal = normalize_record(record, self._zone)
        if normal.name == self._zone and normal.type == "NS":
            raise Unsupported(
                "upsert_fenced of the apex NS set: it takes two steps, not one update", operation="upsert_fenced"
            )
        rdataset = self._rdataset(normal)
        fence = fence_record(normal.name, token)
        for _ in range(FENCE_ATTEMPTS):
            if seen is None or seen > token:  # a refusal is never taken on the caller's word
                seen = self._fence_token(fence.name)
                if seen > token:
                    raise fenced(f"{normal.name} {normal.type}", token, seen)
            response = self._send_upsert(normal, rdataset, _Fence(fence.name, self._rdataset(fence), seen))
            if response.rcode() in _PREREQUISITE_FAILED:
                current = self._fence_token(fence.name)
                if current != seen:  # the fence moved (else another prerequisite failed)
                    seen = current
                    continue
            return self._upsert_result(response, normal, _values(rdataset))
        raise PreconditionFailed(
            f"upsert_fenced {normal.name} {normal.type}: {fence.name} changed on each of {FENCE_ATTEMPTS} attempts",
            operation="upsert_fenced",
        )

    def _rdataset(self, normal: Record) -> dns.rdataset.Rdataset:
        rdatas = [self._parse(normal.type, value) for value in normal.values]
        values = _values(rdatas)
        if len(set(values)) != len(values):
            raise InvalidInput(f"{normal.name} {normal.type} has values that are equal in DNS: {normal.values!r}")
        return dns.rdataset.from_rdata_list(normal.ttl, rdatas)

    def _fence_token(self, name: str) -> int:
        try:
            return fence_token(self.get_record(name, "TXT"))
        except NotFound:
            return 0

    def _send_upsert(
        self, normal: Record, rdataset: dns.rdataset.Rdataset, fence: _Fence | None
    ) -> dns.message.Message:
        what = f"{normal.name} {normal.type}"
        # A server silently ignores data that would sit beside a CNAME (RFC 2136 3.4.2.2) and
        # still answers NOERROR; prerequisites turn that into an error we can report.
        if normal.type != "CNAME":
            return self._send(self._replace(rdataset, normal.name, "CNAME", fence=fence), "upsert_record", what)
        # The name must be unused, or hold a CNAME already (which then stands alone).
        response = self._send(self._replace(rdataset, normal.name, fence=fence), "upsert_record", what)
        if response.rcode() == dns.rcode.YXDOMAIN:
            response = self._send(
                self._replace(rdataset, normal.name, present="CNAME", fence=fence), "upsert_record", what
            )
        return response

    def _upsert_result(self, response: dns.message.Message, normal: Record, values: tuple[str, ...]) -> Record:
        what = f"{normal.name} {normal.type}"
        if normal.type == "CNAME" and response.rcode() == dns.rcode.NXRRSET:
            raise InvalidRequest(
                f"upsert_record {what}: other records exist at {normal.name}; a CNAME cannot join them",
                operation="upsert_record",
            )
        self._check(response, "upsert_record", what)
        return Record(normal.name, normal.type, normal.ttl, values)

    def _replace_apex_ns(self, rdataset: dns.rdataset.Rdataset) -> Record:
        try:
            current = self.get_record(self._zone, "NS")
            old = [self._parse("NS", value) for value in current.values]
        except NotFound:
            old = []
        update = self._update()
        update.add(self._origin, rdataset)  # the TTL of an add applies to the whole set
        for rdata in old:
            if rdata not in rdataset:
                update.delete(self._origin, rdata)
        self._check(self._send(update, "upsert_record", f"{self._zone} NS"), "upsert_record", f"{self._zone} NS")
        return self.get_record(self._zone, "NS")

    def _replace(
        self,
        rdataset: dns.rdataset.Rdataset,
        name: str,
        absent: str | None = None,
        *,
        present: str | None = None,
        fence: _Fence | None = None,
    ) -> dns.update.UpdateMessage:
        """An update that replaces ``name``'s RRset, if ``name`` has no ``absent`` RRset (no
        RRset at all when ``absent`` is None) or, with ``present``, has that RRset; with
        ``fence``, only if the fence holds what it says, and the fence is replaced too."""
        update = self._update()
        if fence is not None:
            # First: a server checks prerequisites in order and answers with the first failure.
            if fence.seen == 0:
                update.absent(fence.name, "TXT")  # fails with YXRRSET
            else:
                update.present(fence.name, txt_rdata(str(fence.seen)))  # value-dependent: NXRRSET
            update.replace(fence.name, fence.rdataset)
        if present is not None:
            update.present(name, present)
        elif absent is not None:
            update.absent(name, absent)
        else:
            update.absent(name)
        update.replace(name, rdataset)
        return update

    def delete_record(self, name: str, type: str) -> None:
        """Idempotent: deleting an RRset that does not exist is a no-op in RFC 2136."""
        fqdn, rtype = normalize_name(name, self._zone), normalize_type(type)
        update = self._update()
        update.delete(fqdn, rtype)
        self._check(self._send(update, "delete_record", f"{fqdn} {rtype}"), "delete_record", f"{fqdn} {rtype}")

    def probe(self) -> None:
        """The zone's SOA, answered with authority: the server is up and serves the zone."""
        response = self._send(self._query(self._origin, "SOA"), "probe", "SOA")
        self._check(response, "probe", "SOA")
        if not response.flags & dns.flags.AA or not response.answer:
            raise Unavailable(f"{self._where()} answered without authority for {self._zone}", operation="probe")

    # ------------------------------------------------------------ plumbing

    def _query(self, name: str | dns.name.Name, rtype: str) -> dns.message.Message:
        # No recursion wanted (flags=0): only the zone's own data counts.  Signed too, so
        # servers that limit queries to a key answer them.
        query = dns.message.make_query(name, rtype, flags=0)
        query.use_tsig(self._tsig.key, algorithm=self._tsig.key.algorithm)
        return query

    def _sign_args(self) -> dict[str, Any]:
        key = self._tsig.key
        return {"keyring": key, "keyname": key.name, "keyalgorithm": key.algorithm}

    def _update(self) -> dns.update.UpdateMessage:
        return dns.update.UpdateMessage(self._origin, **self._sign_args())

    def _parse(self, rtype: str, value: str) -> dns.rdata.Rdata:
        if rtype == "TXT":
            return txt_rdata(value)
        try:
            return dns.rdata.from_text(dns.rdataclass.IN, rtype, value, origin=dns.name.root, relativize=False)
        except (dns.exception.DNSException, ValueError) as exc:
            raise InvalidInput(f"invalid {rtype} value {value!r}: {exc}") from exc

    def _send(self, message: dns.message.Message, operation: str, what: str) -> dns.message.Message:
        with errors(operation, what, self._scope()):
            return dns.query.tcp(message, self.server, timeout=self.timeout, port=self.port)

    def _where(self) -> str:
        return f"{self.server}:{self.port}"

    def _scope(self) -> Scope:
        return Scope(self._zone, self._where(), self._tsig)

    def _check(self, response: dns.message.Message, operation: str, what: str) -> None:
        check(response, operation, what, self._scope(), self._may_update)

    def _may_update(self) -> bool:
        """Whether the server accepts an empty update signed with our key: a server checks a
        key's right to update before looking at the change (BIND does)."""
        try:
            response = self._send(self._update(), "probe", "empty update")
        except ProviderError:
            return False
        return response.rcode() == dns.rcode.NOERROR

    def __repr__(self) -> str:
        return f"Rfc2136Zone(zone={self._zone!r}, server={self._where()!r}, tsig_key_name={self.tsig_key_name!r})"


def _values(rdatas: Iterable[dns.rdata.Rdata]) -> tuple[str, ...]:
    """Values as `Record` holds them, sorted: TXT strings joined, the rest in presentation form."""
    return tuple(sorted(txt_join(r.strings) if isinstance(r, TXT) else r.to_text() for r in rdatas))


def _record(name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> Record:
    values = _values(rdataset)
    return Record(
        name=name.to_text().lower(),
        type=dns.rdatatype.to_text(rdataset.rdtype),
        ttl=int(rdataset.ttl),
        values=values,
    )


__all__ = ["TSIG_ALGORITHMS", "Rfc2136Zone"]
