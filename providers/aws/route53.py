"""One Amazon Route 53 hosted zone as a `DnsZone`.

Names, types, TTLs and values are checked by the same functions as the in-memory zone
(providers/_dns_names.py) before any request.  At the boundary:

* A TXT value is one logical string (providers/_dns_txt.py): it is sent as the quoted,
  escaped presentation form Route 53 wants, split into 255-byte strings by dnspython, and
  read back joined.
* Route 53 returns ``*`` and other special characters in names as ``\\052``: decoded.
* Alias record sets and routing-policy sets (``SetIdentifier``: weighted, failover,
  latency...) cannot be expressed as a `Record`.  ``list_records`` leaves them out, and
  ``get_record``, ``upsert_record`` and ``delete_record`` raise `Unsupported` for a name and
  type that holds one, touching nothing: a delete would otherwise remove one member of a
  weighted group and report success, and an upsert would silently replace an alias.

``upsert_fenced`` is a compare-and-swap on the fence record (failover/fleet/leader.py):
one change batch DELETEs the fence as read, CREATEs it with the writer's token, and
UPSERTs the record; Route 53 refuses the whole batch if the fence changed since the read.

Writes return when Route 53 has accepted the change (``ChangeInfo`` PENDING); waiting for
INSYNC (propagation to every edge server, up to a minute) is left to callers that need it.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from typing import Any

from failover.providers._sdk import missing_sdk

try:
    import boto3
    import dns.rdata  # noqa: F401  # TXT values are converted with dnspython (providers/_dns_txt.py)
except ImportError as exc:
    raise missing_sdk(__name__, "route53", exc) from exc

from failover.capabilities import Record
from failover.errors import ConfigError, InvalidRequest, NotFound, Unsupported
from failover.fleet.leader import check_token, fence_name, fence_record, fence_token, fenced
from failover.providers._common import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, safe_url
from failover.providers._dns_names import (
    check_seconds,
    decode_octal_escapes,
    normalize_name,
    normalize_record,
    normalize_type,
    normalize_zone,
)
from failover.providers._dns_txt import txt_from_presentation, txt_presentation
from failover.providers.aws._client import make_client, map_errors

# A DELETE must name the record set exactly as it is; if it changed between our read and
# the DELETE, Route 53 refuses the batch and we read it again, this many times at most.
DELETE_ATTEMPTS = 3
# A fenced upsert whose fence keeps moving (writers racing) gives up after this many batches.
FENCE_ATTEMPTS = 3


def _bare_zone_id(hosted_zone_id: str) -> str:
    if not isinstance(hosted_zone_id, str) or not hosted_zone_id.strip("/"):
        raise ConfigError(f"hosted_zone_id must be a non-empty str such as 'Z0123456789ABC', not {hosted_zone_id!r}")
    return hosted_zone_id.rstrip("/").rsplit("/", 1)[-1]  # "/hostedzone/Z123" -> "Z123"


def _wire_values(record: Record) -> tuple[str, ...]:
    if record.type != "TXT":
        return record.values
    return tuple(txt_presentation(v) for v in record.values)


class Route53Zone:
    """Record sets of one hosted zone.  ``hosted_zone_id`` defaults to the zone found by name
    (looked up on first use: a `ConfigError` if there is none, or several).  ``region``,
    ``endpoint_url``, ``session`` and the timeouts configure the boto3 client, as in
    `failover.providers.aws.S3Store`; ``client`` replaces it entirely.
    """

    def __init__(
        self,
        zone: str,
        *,
        hosted_zone_id: str | None = None,
        session: boto3.session.Session | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        client: Any = None,
    ) -> None:
        self._zone = normalize_zone(zone)
        check_seconds("connect_timeout", connect_timeout)
        check_seconds("read_timeout", read_timeout)
        self._hosted_zone_id = None if hosted_zone_id is None else _bare_zone_id(hosted_zone_id)
        self.endpoint_url = endpoint_url
        if client is None:
            client = make_client(
                "route53",
                # Route 53 is a global service; botocore signs it for us-east-1 whatever we say.
                region=region,
                endpoint_url=endpoint_url,
                session=session,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            )
        self._client = client

    @property
    def zone(self) -> str:
        return self._zone

    @property
    def hosted_zone_id(self) -> str:
        """The hosted zone's id (without ``/hostedzone/``), looked up by name the first time."""
        if self._hosted_zone_id is None:
            # Two threads may both look it up; they find the same answer, so no lock.
            self._hosted_zone_id = self._find_zone_id()
        return self._hosted_zone_id

    def _find_zone_id(self) -> str:
        with map_errors("find_zone", self._zone):
            # Zones are listed in name order from DNSName: the matches, if any, come first.
            found = self._client.list_hosted_zones_by_name(DNSName=self._zone, MaxItems="10")
        ids = [
            str(z["Id"])
            for z in found.get("HostedZones", [])
            if decode_octal_escapes(str(z["Name"])).lower().rstrip(".") + "." == self._zone
        ]
        if not ids:
            raise ConfigError(f"no Route 53 hosted zone is named {self._zone!r}", operation="find_zone")
        if len(ids) > 1:
            # A public and a private zone may share a name: guessing would edit the wrong one.
            raise ConfigError(
                f"{len(ids)} Route 53 hosted zones are named {self._zone!r}: pass hosted_zone_id=",
                operation="find_zone",
            )
        return _bare_zone_id(ids[0])

    # ------------------------------------------------------------ reads

    def list_records(self) -> Iterator[Record]:
        """Every plain record set (SOA and NS at the apex included), one page per request, in
        Route 53's order (names compared label by label from the right)."""
        pages = iter(self._client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=self.hosted_zone_id))
        while True:
            with map_errors("list_records", self._zone):
                page = next(pages, None)
            if page is None:
                return
            for rrset in page.get("ResourceRecordSets", []):
                if _is_plain(rrset):
                    yield self._to_record(rrset)

    def get_record(self, name: str, type: str) -> Record:
        fqdn, rtype = normalize_name(name, self._zone), normalize_type(type)
        rrset = self._find_rrset(fqdn, rtype, "get_record")
        _refuse_special(rrset, "get_record")
        return self._to_record(rrset)

    def _find_rrset(self, fqdn: str, rtype: str, operation: str) -> dict[str, Any]:
        with map_errors(operation, f"{self._zone} {fqdn} {rtype}"):
            page = self._client.list_resource_record_sets(
                HostedZoneId=self.hosted_zone_id, StartRecordName=fqdn, StartRecordType=rtype, MaxItems="1"
            )
        # The listing starts at the name/type asked for, or at the next one if it is missing.
        for rrset in page.get("ResourceRecordSets", []):
            if _wire_name(rrset) == fqdn and rrset.get("Type") == rtype:
                return dict(rrset)
        raise NotFound(f"no {rtype} record for {fqdn}", operation=operation)

    def _to_record(self, rrset: dict[str, Any]) -> Record:
        rtype = str(rrset["Type"])
        values = tuple(str(r["Value"]) for r in rrset.get("ResourceRecords", []))
        if rtype == "TXT":
            values = tuple(txt_from_presentation(v) for v in values)
        values = tuple(sorted(values))
        return Record(name=_wire_name(rrset), type=rtype, ttl=int(rrset.get("TTL", 0)), values=values)

    # ------------------------------------------------------------ writes

    def upsert_record(self, record: Record) -> Record:
        normal = normalize_record(record, self._zone)
        with contextlib.suppress(NotFound):  # a new record set: nothing to refuse
            _refuse_special(self._find_rrset(normal.name, normal.type, "upsert_record"), "upsert_record")
        self._change("UPSERT", _rrset(normal), "upsert_record")
        return normal

    def upsert_fenced(self, record: Record, token: int, *, seen: int | None = None) -> Record:
        """`upsert_record` and the fence in one change batch, a compare-and-swap: the batch
        DELETEs the fence as it was read and CREATEs it anew, and Route 53 refuses the whole
        batch if the fence is not exactly as read (or exists, for a first CREATE).

        The fence is read first whatever ``seen`` says: a DELETE must name the record set
        exactly, TTL included.  A refused batch is retried after reading the fence again
        if the fence moved, and raised if it did not (the record itself was refused).
        """
        check_token(token, seen)
        normal = normalize_record(record, self._zone)
        what = f"{normal.name} {normal.type}"
        with contextlib.suppress(NotFound):
            _refuse_special(self._find_rrset(normal.name, normal.type, "upsert_fenced"), "upsert_fenced")
        fence = self._read_fence(normal.name)
        for attempt in range(1, FENCE_ATTEMPTS + 1):
            current = 0 if fence is None else fence_token(self._to_record(fence))
            if current > token:
                raise fenced(what, token, current)
            changes = [] if fence is None else [{"Action": "DELETE", "ResourceRecordSet": fence}]
            changes.append({"Action": "CREATE", "ResourceRecordSet": self._fence_rrset(normal.name, token)})
            changes.append({"Action": "UPSERT", "ResourceRecordSet": _rrset(normal)})
            try:
                self._batch(changes, "upsert_fenced", what)
                return normal
            except InvalidRequest:
                moved = self._read_fence(normal.name)
                if moved == fence or attempt == FENCE_ATTEMPTS:
                    raise
                fence = moved
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _read_fence(self, name: str) -> dict[str, Any] | None:
        try:
            fence = self._find_rrset(fence_name(name), "TXT", "upsert_fenced")
        except NotFound:
            return None
        _refuse_special(fence, "upsert_fenced")
        return fence

    def _fence_rrset(self, name: str, token: int) -> dict[str, Any]:
        # The write's time after the token, for operators; it also keeps each CREATE new, which
        # moto needs: it refuses a CREATE equal to an earlier one while that set exists, even
        # after a DELETE of it in the same batch (Route 53 applies a batch in order).
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")
        return _rrset(normalize_record(fence_record(name, token, f"{token} {stamp}"), self._zone))

    def delete_record(self, name: str, type: str) -> None:
        """Idempotent.  Route 53 deletes only an exact copy of the record set, so it is read first."""
        fqdn, rtype = normalize_name(name, self._zone), normalize_type(type)
        for attempt in range(1, DELETE_ATTEMPTS + 1):
            try:
                current = self._find_rrset(fqdn, rtype, "delete_record")
            except NotFound:
                return
            _refuse_special(current, "delete_record")
            try:
                self._change("DELETE", current, "delete_record")
                return
            except InvalidRequest:
                # Changed or deleted by someone else since we read it: read again.
                if attempt == DELETE_ATTEMPTS:
                    raise

    def _change(self, action: str, rrset: dict[str, Any], operation: str) -> None:
        change = {"Action": action, "ResourceRecordSet": rrset}
        self._batch([change], operation, f"{rrset['Name']} {rrset['Type']}")

    def _batch(self, changes: list[dict[str, Any]], operation: str, what: str) -> None:
        """One change batch: Route 53 applies all of its changes, in order, or none."""
        batch = {"Comment": f"multicloud-failover {operation}", "Changes": changes}
        with map_errors(operation, f"{self._zone} {what}"):
            self._client.change_resource_record_sets(HostedZoneId=self.hosted_zone_id, ChangeBatch=batch)

    # ------------------------------------------------------------ health

    def probe(self) -> None:
        """One cheap read of the hosted zone; raises like any operation when it fails."""
        with map_errors("probe", self._zone):
            self._client.get_hosted_zone(Id=self.hosted_zone_id)

    def __repr__(self) -> str:
        return (
            f"Route53Zone(zone={self._zone!r}, hosted_zone_id={self._hosted_zone_id!r}, "
            f"endpoint_url={safe_url(self.endpoint_url)!r})"
        )


def _rrset(normal: Record) -> dict[str, Any]:
    return {
        "Name": normal.name,
        "Type": normal.type,
        "TTL": normal.ttl,
        "ResourceRecords": [{"Value": v} for v in _wire_values(normal)],
    }


def _is_plain(rrset: Any) -> bool:
    return "AliasTarget" not in rrset and "SetIdentifier" not in rrset and bool(rrset.get("ResourceRecords"))


def _wire_name(rrset: Any) -> str:
    name = decode_octal_escapes(str(rrset["Name"])).lower()
    return name if name.endswith(".") else name + "."


def _refuse_special(rrset: dict[str, Any], operation: str) -> None:
    """`Unsupported` for an alias or routing-policy set.  Route 53 never mixes them with a
    plain set of the same name and type, so the first set found tells for all."""
    if not _is_plain(rrset):
        kind = "a routing-policy (SetIdentifier)" if "SetIdentifier" in rrset else "an alias"
        raise Unsupported(
            f"{operation} {_wire_name(rrset)} {rrset.get('Type')}: it is {kind} record set, which a Record "
            "cannot hold; manage it with Route 53's own tools",
            operation=operation,
        )


__all__ = ["Route53Zone"]
