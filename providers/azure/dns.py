"""Azure DNS (azure-mgmt-dns) as a `DnsZone`.

Azure names record sets relative to the zone (``"www"``, ``"@"`` for the apex) and takes the
zone name without its final dot; the `DnsZone` protocol speaks absolute names.  The
translation happens only here, in `_relative` and `_to_record`.

Values travel as typed objects (``ARecords: [{"ipv4Address": ...}]``, ``MXRecords:
[{"preference", "exchange"}]``...), while `Record` holds presentation-format strings as in a
zone file: `_to_azure` and `_values_of` convert.  Azure stores a TXT record's
character-strings as a list of plain strings: a value is sent as its 255-byte strings and
read back joined (providers/_dns_txt.py).  Values come back sorted.

The client is configured like the Blob one (see providers/azure/_client.py): at most
``retry_total`` SDK retries (default 0) and short socket timeouts, so a dead endpoint is
reported in seconds and the failover layer moves on to another provider.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from failover.providers._sdk import missing_sdk

try:
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.dns import DnsManagementClient
    from azure.mgmt.dns import models as az
except ImportError as exc:
    raise missing_sdk(__name__, "azure-dns", exc) from exc

from failover.capabilities import Record
from failover.errors import ConfigError
from failover.providers._common import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
from failover.providers._dns_names import (
    check_seconds,
    normalize_name,
    normalize_record,
    normalize_type,
    normalize_zone,
)
from failover.providers._dns_txt import txt_chunks, txt_join
from failover.providers.azure._client import DEFAULT_RETRY_TOTAL, default_credential, error_code, map_errors

# A 404 with one of these codes means the zone (or its resource group) is missing, not the
# record set: delete_record must report it instead of treating it as "already deleted".
_MISSING_PARENT = frozenset({"ParentResourceNotFound", "ResourceGroupNotFound", "ResourceNotFound"})
_ESCAPED = re.compile(r"\\(.)")
# Record-set types whose values list_records can show; SOA and PTR are read-only here.
_READABLE = ("A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA", "PTR", "SOA")


# ---------------------------------------------------------------- value translation


def _txt_to_azure(value: str) -> az.TxtRecord:
    """``"v=spf1 -all"`` -> ``TxtRecord(value=["v=spf1 -all"])``: one string per 255 bytes."""
    return az.TxtRecord(value=[s.decode("ascii") for s in txt_chunks(value)])


def _txt_from_azure(strings: list[str] | None) -> str:
    return txt_join(strings or ())


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(text: str) -> str:
    quoted = re.fullmatch(r'"((?:[^"\\]|\\.)*)"', text)
    return _ESCAPED.sub(r"\1", quoted.group(1)) if quoted else text


def _caa(value: str) -> az.CaaRecord:
    flags, tag, text = value.split(None, 2)  # '0 issue "ca.example.net"'; shape checked already
    return az.CaaRecord(flags=int(flags), tag=tag, value=_unquote(text))


def _to_azure(record: Record) -> az.RecordSet:
    """A normalised `Record` as the RecordSet body with the one property its type uses."""
    values, rtype = record.values, record.type
    fields: dict[str, Any] = {}
    if rtype == "A":
        fields["a_records"] = [az.ARecord(ipv4_address=v) for v in values]
    elif rtype == "AAAA":
        fields["aaaa_records"] = [az.AaaaRecord(ipv6_address=v) for v in values]
    elif rtype == "CNAME":
        fields["cname_record"] = az.CnameRecord(cname=values[0])
    elif rtype == "TXT":
        fields["txt_records"] = [_txt_to_azure(v) for v in values]
    elif rtype == "MX":
        parts = [v.split(None, 1) for v in values]
        fields["mx_records"] = [az.MxRecord(preference=int(p), exchange=x) for p, x in parts]
    elif rtype == "NS":
        fields["ns_records"] = [az.NsRecord(nsdname=v) for v in values]
    elif rtype == "SRV":
        srv = [v.split(None, 3) for v in values]
        fields["srv_records"] = [
            az.SrvRecord(priority=int(p), weight=int(w), port=int(o), target=t) for p, w, o, t in srv
        ]
    elif rtype == "CAA":
        fields["caa_records"] = [_caa(v) for v in values]
    return az.RecordSet(ttl=record.ttl, **fields)


def _values_of(rtype: str, rs: Any) -> tuple[str, ...]:
    return tuple(sorted(_unsorted_values_of(rtype, rs)))


def _unsorted_values_of(rtype: str, rs: Any) -> tuple[str, ...]:
    if rtype == "A":
        return tuple(r.ipv4_address for r in rs.a_records or ())
    if rtype == "AAAA":
        return tuple(r.ipv6_address for r in rs.aaaa_records or ())
    if rtype == "CNAME":
        return (rs.cname_record.cname,) if rs.cname_record else ()
    if rtype == "TXT":
        return tuple(_txt_from_azure(r.value) for r in rs.txt_records or ())
    if rtype == "MX":
        return tuple(f"{r.preference} {r.exchange}" for r in rs.mx_records or ())
    if rtype == "NS":
        return tuple(r.nsdname for r in rs.ns_records or ())
    if rtype == "SRV":
        return tuple(f"{r.priority} {r.weight} {r.port} {r.target}" for r in rs.srv_records or ())
    if rtype == "CAA":
        return tuple(f"{r.flags} {r.tag} {_quote(r.value or '')}" for r in rs.caa_records or ())
    if rtype == "PTR":
        return tuple(r.ptrdname for r in rs.ptr_records or ())
    if rtype == "SOA" and rs.soa_record:
        s = rs.soa_record
        return (
            f"{s.host} {s.email} {s.serial_number} {s.refresh_time} {s.retry_time} {s.expire_time} {s.minimum_ttl}",
        )
    return ()  # an alias record set (targetResource) carries no values of its own


class AzureDnsZone:
    """One Azure DNS zone, addressed by subscription and resource group.

    ``credential`` is any azure-core TokenCredential (azure-identity's DefaultAzureCredential
    when None).  ``transport`` is an azure-core ``HttpTransport`` handed to the client (tests
    inject a fake one); ``client`` replaces the whole DnsManagementClient.
    """

    def __init__(
        self,
        zone: str,
        *,
        subscription_id: str,
        resource_group: str,
        credential: Any = None,
        transport: Any = None,
        retry_total: int = DEFAULT_RETRY_TOTAL,
        connection_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        client: DnsManagementClient | None = None,
    ) -> None:
        self._zone = normalize_zone(zone)
        for name, value in (("subscription_id", subscription_id), ("resource_group", resource_group)):
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"AzureDnsZone needs a non-empty {name}")
        check_seconds("connection_timeout", connection_timeout)
        check_seconds("read_timeout", read_timeout)
        if isinstance(retry_total, bool) or not isinstance(retry_total, int) or retry_total < 0:
            raise ConfigError(f"retry_total must be an int >= 0, not {retry_total!r}")
        self.resource_group = resource_group
        self._azure_zone = self._zone[:-1]  # Azure spells zones without the final dot
        if client is None:
            kwargs: dict[str, Any] = {
                "retry_total": retry_total,
                "retry_backoff_factor": 0.5,  # seconds, not the SDK's 0.8 growing to 120 s
                "retry_backoff_max": 2,
                "connection_timeout": connection_timeout,
                "read_timeout": read_timeout,
            }
            if transport is not None:
                kwargs["transport"] = transport
            credential = credential if credential is not None else default_credential("azure-dns")
            client = DnsManagementClient(credential, subscription_id, **kwargs)
        self._client = client

    @property
    def zone(self) -> str:
        return self._zone

    def __repr__(self) -> str:
        # Neither the credential nor the subscription id: reprs end up in logs.
        return f"AzureDnsZone(zone={self._zone!r}, resource_group={self.resource_group!r})"

    def _relative(self, name: str) -> str:
        absolute = normalize_name(name, self._zone)
        return "@" if absolute == self._zone else absolute[: -len(self._zone) - 1]

    def _to_record(self, rs: Any) -> Record:
        rtype = str(rs.type or "").rsplit("/", 1)[-1].upper()  # "Microsoft.Network/dnszones/A"
        fqdn = (rs.fqdn or "").lower()
        if not fqdn:
            relative = (rs.name or "@").lower()
            fqdn = self._zone if relative == "@" else f"{relative}.{self._zone}"
        if not fqdn.endswith("."):
            fqdn += "."
        return Record(name=fqdn, type=rtype, ttl=int(rs.ttl or 0), values=_values_of(rtype, rs))

    # ---------------------------------------------------------------- DnsZone

    def list_records(self) -> Iterator[Record]:
        """Every record set, SOA and apex NS included, fetched page by page as iteration goes."""
        with map_errors("list_records", self._zone):
            pages = self._client.record_sets.list_by_dns_zone(self.resource_group, self._azure_zone)
            for rs in pages:
                record = self._to_record(rs)
                if record.type in _READABLE:
                    yield record

    def get_record(self, name: str, type: str) -> Record:
        relative, rtype = self._relative(name), normalize_type(type)
        with map_errors("get_record", f"{self._zone} {relative} {rtype}"):
            rs = self._client.record_sets.get(self.resource_group, self._azure_zone, relative, rtype)
        return self._to_record(rs)

    def upsert_record(self, record: Record) -> Record:
        normal = normalize_record(record, self._zone)
        relative = self._relative(normal.name)
        with map_errors("upsert_record", f"{self._zone} {relative} {normal.type}"):
            rs = self._client.record_sets.create_or_update(
                self.resource_group, self._azure_zone, relative, normal.type, _to_azure(normal)
            )
        stored = self._to_record(rs)
        return stored if stored.values else normal

    def delete_record(self, name: str, type: str) -> None:
        relative, rtype = self._relative(name), normalize_type(type)
        where = f"{self._zone} {relative} {rtype}"
        with map_errors("delete_record", where):
            # Azure answers 204 for a missing record set; a 404 from a proxy or an older API
            # version means the same, unless it names the zone as what is missing.
            try:
                self._client.record_sets.delete(self.resource_group, self._azure_zone, relative, rtype)
            except HttpResponseError as exc:
                if exc.status_code != 404 or error_code(exc) in _MISSING_PARENT:
                    raise

    def probe(self) -> None:
        """Health check: the zone can be read (credentials, network and the zone itself)."""
        with map_errors("probe", self._zone):
            self._client.zones.get(self.resource_group, self._azure_zone)


__all__ = ["AzureDnsZone"]
