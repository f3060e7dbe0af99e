"""A fake Azure DNS (Microsoft.Network/dnsZones, api-version 2018-05-01) behind an azure-core transport.

`tests.fakes.arm.ArmTransport` hands each request to `FakeAzureDns.handle`
``(method, url, headers, body) -> (status, headers, json)``.  Shapes follow the REST reference ("Record Sets -
Create Or Update / Get / Delete / List By Dns Zone", "Zones - Get"): record sets are
``{"id", "name", "type", "etag", "properties": {"TTL", "fqdn", "ARecords": [...], ...}}``,
lists are ``{"value": [...], "nextLink": url}`` (``$top`` defaults to 100), a delete of a
missing record set is 204, errors are ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import ipaddress
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from azure.core.credentials import AccessToken

from failover.providers.azure.dns import AzureDnsZone
from tests.fakes import Faults, Seen, arm

API_VERSION = "2018-05-01"
# The property each record type keeps its values in (the 2018-05-01 RecordSetProperties).
PROPERTY = {
    "A": "ARecords", "AAAA": "AAAARecords", "CNAME": "CNAMERecord", "TXT": "TXTRecords", "MX": "MXRecords",
    "NS": "NSRecords", "SRV": "SRVRecords", "CAA": "caaRecords", "PTR": "PTRRecords", "SOA": "SOARecord",
}
Reply = arm.Reply
_error = arm.arm_error


def _check_values(rtype: str, props: dict[str, Any]) -> str | None:
    """What Azure would reject in a PUT body for ``rtype``, or None."""
    others = [p for t, p in PROPERTY.items() if t != rtype and props.get(p)]
    if others:
        return f"The record set of type '{rtype}' cannot contain {others[0]}."
    value = props.get(PROPERTY[rtype])
    if not value:
        return f"The record set must contain at least one {rtype} record."
    try:
        for item in value if isinstance(value, list) else [value]:
            if rtype == "A":
                ipaddress.IPv4Address(item["ipv4Address"])
            elif rtype == "AAAA":
                ipaddress.IPv6Address(item["ipv6Address"])
            elif rtype == "TXT" and not all(0 < len(s) <= 255 for s in item["value"]):
                return "Each TXT string must be between 1 and 255 characters."
            elif rtype == "MX" and not 0 <= int(item["preference"]) <= 65535:
                return "MX preference must be between 0 and 65535."
    except (KeyError, TypeError, ValueError) as exc:
        return f"Invalid {rtype} record: {exc}"
    return None


class StaticToken:
    """A TokenCredential with a fixed bearer token (azure-core's ``get_token`` protocol)."""

    def __init__(self, token: str = "fake-token-not-a-secret") -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


class FakeAzureDns:
    """Zones of one subscription and resource group, in memory.

    New zones get the SOA and apex NS record sets Azure creates with every zone.  ``page_size``
    is the default ``$top`` (Azure: 100).  ``requests`` records what was received, ``faults``
    makes the next requests fail.
    """

    def __init__(self, subscription: str = "sub-0001", resource_group: str = "rg-dns",
                 zones: tuple[str, ...] = ("example.com",), page_size: int = 100) -> None:
        self.subscription, self.resource_group, self.page_size = subscription, resource_group, page_size
        self.zones: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self.requests: list[Seen] = []
        self.faults = Faults()
        self._lock = threading.Lock()
        for zone in zones:
            self.add_zone(zone)

    def transport(self) -> arm.ArmTransport:
        return arm.ArmTransport(lambda r: self.handle(r.method, r.url, dict(r.headers), arm.json_body(r)))

    def adapter(self, zone: str = "example.com.", credential: Any = None) -> AzureDnsZone:
        """An `AzureDnsZone` wired to this fake through the SDK's transport seam."""
        return AzureDnsZone(zone, subscription_id=self.subscription, resource_group=self.resource_group,
                            credential=credential or StaticToken(), transport=self.transport())

    def add_zone(self, zone: str) -> None:
        zone = zone.lower().rstrip(".")
        soa = {"host": "ns1-01.azure-dns.com.", "email": "azuredns-hostmaster.microsoft.com", "serialNumber": 1,
               "refreshTime": 3600, "retryTime": 300, "expireTime": 2419200, "minimumTTL": 300}
        self.zones[zone] = {
            ("@", "SOA"): {"TTL": 3600, "SOARecord": soa},
            ("@", "NS"): {"TTL": 172800, "NSRecords": [{"nsdname": f"ns{i}-01.azure-dns.com."} for i in (1, 2)]},
        }

    # ------------------------------------------------------------------ HTTP

    def handle(self, method: str, url: str, headers: dict[str, str], body: Any) -> Reply:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        seen_headers = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self.requests.append(Seen(method, parts.path, query, body, seen_headers))
        fault = self.faults.take()
        if fault is not None:
            if fault.error is not None:
                raise fault.error
            return _error(fault.status, "InjectedFault", fault.message, fault.headers)
        if not seen_headers.get("authorization", "").startswith("Bearer "):
            return _error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        if "api-version" not in query:
            return _error(400, "MissingApiVersionParameter", "The api-version query parameter is required.")
        segments = [s for s in parts.path.split("/") if s]
        lowered = [s.lower() for s in segments]
        prefix = ["subscriptions", self.subscription.lower(), "resourcegroups", self.resource_group.lower(),
                  "providers", "microsoft.network", "dnszones"]
        if lowered[:7] != prefix or len(segments) < 8:
            return _error(404, "ResourceGroupNotFound", f"Resource group '{segments[3:4]}' could not be found.")
        zone, rest = unquote(lowered[7]), [unquote(s) for s in segments[8:]]
        with self._lock:
            if zone not in self.zones:
                if not rest:
                    return _error(404, "ResourceNotFound",
                                  f"The Resource 'Microsoft.Network/dnszones/{zone}' under resource group "
                                  f"'{self.resource_group}' was not found.")
                return _error(404, "ParentResourceNotFound",
                              f"Can not perform requested operation on nested resource. Parent resource '{zone}' "
                              "not found.")
            if not rest and method == "GET":
                return 200, {}, self._zone_json(zone)
            if len(rest) == 1 and rest[0].lower() in ("recordsets", "all") and method == "GET":
                return self._list(url, zone, query)
            if len(rest) == 2:
                return self._record(method, zone, rest[0].upper(), rest[1].lower(), seen_headers, body)
        return _error(400, "BadRequest", f"Unsupported request {method} {parts.path}")

    def _zone_json(self, zone: str) -> dict[str, Any]:
        return {
            "id": f"{self._base()}/{zone}", "name": zone, "type": "Microsoft.Network/dnszones",
            "location": "global", "etag": "00000002-0000-0000-0000-000000000000", "tags": {},
            "properties": {"maxNumberOfRecordSets": 10000, "numberOfRecordSets": len(self.zones[zone]),
                           "nameServers": ["ns1-01.azure-dns.com.", "ns2-01.azure-dns.net."], "zoneType": "Public"},
        }

    def _base(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                "/providers/Microsoft.Network/dnszones")

    def _record_json(self, zone: str, name: str, rtype: str) -> dict[str, Any]:
        props = self.zones[zone][(name, rtype)]
        fqdn = f"{zone}." if name == "@" else f"{name}.{zone}."
        return {
            "id": f"{self._base()}/{zone}/{rtype}/{name}", "name": name, "type": f"Microsoft.Network/dnszones/{rtype}",
            "etag": props.get("etag", ""),
            "properties": {"metadata": {}, "fqdn": fqdn, "provisioningState": "Succeeded", "targetResource": {},
                           **{k: v for k, v in props.items() if k != "etag"}},
        }

    def _list(self, url: str, zone: str, query: dict[str, str]) -> Reply:
        keys = sorted(self.zones[zone])
        top = int(query.get("$top", self.page_size))
        start = int(query.get("$skipToken", "0"))
        page = [self._record_json(zone, n, t) for n, t in keys[start:start + top]]
        reply: dict[str, Any] = {"value": page}
        if start + top < len(keys):
            parts = urlsplit(url)
            next_query = urlencode({"api-version": query["api-version"], "$top": top, "$skipToken": start + top})
            reply["nextLink"] = f"{parts.scheme}://{parts.netloc}{parts.path}?{next_query}"
        return 200, {}, reply

    def _record(self, method: str, zone: str, rtype: str, name: str, headers: dict[str, str], body: Any) -> Reply:
        records = self.zones[zone]
        key = (name, rtype)
        if rtype not in PROPERTY:
            return _error(400, "BadRequest", f"The record type '{rtype}' is not supported.")
        if method == "GET":
            if key not in records:
                return _error(404, "NotFound", f"The resource record '{name}' does not exist in resource group "
                                               f"'{self.resource_group}' of subscription '{self.subscription}'.")
            return 200, {}, self._record_json(zone, name, rtype)
        if method == "DELETE":
            if rtype == "SOA" or (key == ("@", "NS")):
                return _error(400, "BadRequest", f"The {rtype} record set at the zone apex cannot be deleted.")
            if key not in records:
                return 204, {}, None
            if "if-match" in headers and headers["if-match"] not in ("*", records[key].get("etag")):
                return _error(412, "PreconditionFailed", "The etag does not match.")
            del records[key]
            return 200, {}, None
        if method != "PUT":
            return _error(405, "MethodNotAllowed", f"{method} is not allowed here.")
        return self._put(zone, name, rtype, headers, body)

    def _put(self, zone: str, name: str, rtype: str, headers: dict[str, str], body: Any) -> Reply:
        records = self.zones[zone]
        key, exists = (name, rtype), (name, rtype) in records
        props = dict((body or {}).get("properties") or {})
        if rtype == "SOA" and not exists:
            return _error(400, "BadRequest", "Record sets of type SOA cannot be created.")
        if headers.get("if-none-match") == "*" and exists:
            return _error(412, "PreconditionFailed", "The record set already exists.")
        if "if-match" in headers and (not exists or headers["if-match"] not in ("*", records[key].get("etag"))):
            return _error(412, "PreconditionFailed", "The etag does not match.")
        ttl = props.get("TTL", 3600)
        if not isinstance(ttl, int) or not 0 <= ttl <= 2147483647:
            return _error(400, "BadRequest", f"The TTL value '{ttl}' is invalid.")
        problem = _check_values(rtype, props)
        if problem:
            return _error(400, "BadRequest", problem)
        if rtype == "CNAME" and name == "@":
            return _error(400, "BadRequest", "A CNAME record set cannot be created at the zone apex.")
        names_types = {t for n, t in records if n == name and (n, t) != key}
        if names_types and (rtype == "CNAME" or "CNAME" in names_types):
            return _error(409, "Conflict", f"A CNAME record set cannot coexist with other record sets at '{name}'.")
        stored = {"TTL": ttl, PROPERTY[rtype]: props[PROPERTY[rtype]], "etag": str(uuid.uuid4())}
        records[key] = stored
        return (200 if exists else 201), {}, self._record_json(zone, name, rtype)


__all__ = ["API_VERSION", "FakeAzureDns", "StaticToken"]
