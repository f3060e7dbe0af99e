"""A fake Google Cloud DNS (JSON API v1) behind a requests-compatible session.

`FakeCloudDns.session()` returns an object with ``request(method, url, **kwargs)`` returning
a real ``requests.Response``: what google-cloud-core's JSONConnection calls as ``_http``.
Shapes follow the v1 reference ("Method: resourceRecordSets.list", "Method: changes.create",
"Method: managedZones.get"): record sets are ``{"kind", "name", "type", "ttl", "rrdatas"}``,
lists are ``{"rrsets": [...], "nextPageToken": token}`` filtered by ``name`` (and ``type``,
which needs ``name``), a change is ``{"additions": [...], "deletions": [...]}`` applied
atomically.  Errors are ``{"error": {"code", "message", "errors": [{"reason", ...}]}}``:
404 notFound, 409 alreadyExists (an addition that exists), 412 conditionNotMet (a deletion
that does not match the current set exactly), 400 invalid.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import requests
from google.auth.credentials import AnonymousCredentials
from requests.structures import CaseInsensitiveDict

from failover.providers.gcp.dns import CloudDnsZone
from tests.fakes import Faults, Seen

TYPES = frozenset({"A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV",
                   "SSHFP", "SVCB", "TLSA", "TXT"})
_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
            412: "Precondition Failed", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}
_REASON_CODES = {400: "invalid", 403: "forbidden", 404: "notFound", 409: "alreadyExists", 412: "conditionNotMet",
                 429: "rateLimitExceeded", 500: "backendError", 503: "backendError"}

Reply = tuple[int, dict[str, str], Any]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    reason = _REASON_CODES.get(status, "unknown")
    body = {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}
    return status, dict(headers or {}), body


class FakeSession:
    """The requests.Session-shaped seam: builds a requests.Response from the fake's answer."""

    def __init__(self, backend: FakeCloudDns) -> None:
        self.backend = backend
        self.is_mtls = False

    def request(self, method: str, url: str, data: Any = None, headers: Any = None, timeout: Any = None,
                **kwargs: Any) -> requests.Response:
        body = json.loads(data) if data else None
        status, reply_headers, payload = self.backend.handle(method, url, dict(headers or {}), body, timeout)
        response = requests.Response()
        response.status_code = status
        response.reason = _REASONS.get(status, "Error")
        response.url = url
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json; charset=UTF-8", **reply_headers})
        response._content = b"" if payload is None else json.dumps(payload).encode()
        response.encoding = "utf-8"
        response.request = requests.Request(method, url).prepare()
        return response

    def close(self) -> None:
        pass


class FakeCloudDns:
    """Managed zones of one project, in memory.

    New zones get the SOA and NS record sets Cloud DNS creates with every zone.
    ``page_size`` is used when a list gives no ``maxResults``.
    """

    def __init__(self, project: str = "proj-1", zones: dict[str, str] | None = None, page_size: int = 100) -> None:
        self.project, self.page_size = project, page_size
        self.zones: dict[str, str] = {}  # managed zone name -> dnsName
        self.rrsets: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self.requests: list[Seen] = []
        self.faults = Faults()
        self._lock = threading.Lock()
        self._changes = 0
        for name, dns_name in (zones or {"example-com": "example.com."}).items():
            self.add_zone(name, dns_name)

    def session(self) -> FakeSession:
        return FakeSession(self)

    def adapter(self, managed_zone: str = "example-com", zone: str | None = None) -> CloudDnsZone:
        """A `CloudDnsZone` wired to this fake through the client's ``_http`` session."""
        return CloudDnsZone(zone or self.zones.get(managed_zone, "example.com."), managed_zone=managed_zone,
                            project=self.project, credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                            http=self.session())

    def add_zone(self, name: str, dns_name: str) -> None:
        dns_name = dns_name.lower()
        self.zones[name] = dns_name
        self.rrsets[name] = {
            (dns_name, "SOA"): {"ttl": 21600, "rrdatas": [
                "ns-cloud-a1.googledomains.com. cloud-dns-hostmaster.google.com. 1 21600 3600 259200 300"]},
            (dns_name, "NS"): {"ttl": 21600, "rrdatas": [f"ns-cloud-a{i}.googledomains.com." for i in (1, 2, 3, 4)]},
        }

    # ------------------------------------------------------------------ HTTP

    def handle(self, method: str, url: str, headers: dict[str, str], body: Any, timeout: Any = None) -> Reply:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        with self._lock:
            self.requests.append(Seen(method, parts.path, query, body, {k.lower(): v for k, v in headers.items()},
                                      timeout))
        fault = self.faults.take()
        if fault is not None:
            if fault.error is not None:
                raise fault.error
            return _error(fault.status, fault.message, fault.headers)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if segments[:4] != ["dns", "v1", "projects", self.project] or len(segments) < 6:
            return _error(404, f"The 'parameters.project' resource named '{segments[3:4]}' does not exist.")
        zone, rest = segments[5], segments[6:]
        try:
            with self._lock:
                if zone not in self.zones:
                    raise ApiError(404, f"The 'parameters.managedZone' resource named '{zone}' does not exist.")
                if not rest and method == "GET":
                    return 200, {}, self._zone_json(zone)
                if rest == ["rrsets"] and method == "GET":
                    return 200, {}, self._list(zone, query)
                if rest == ["changes"] and method == "POST":
                    return 200, {}, self._change(zone, body or {})
        except ApiError as exc:
            return _error(exc.status, str(exc))
        return _error(400, f"Unsupported request {method} {parts.path}")

    def _zone_json(self, zone: str) -> dict[str, Any]:
        return {"kind": "dns#managedZone", "name": zone, "dnsName": self.zones[zone], "id": "4242",
                "description": "", "creationTime": "2024-01-01T00:00:00.000Z", "visibility": "public",
                "nameServers": [f"ns-cloud-a{i}.googledomains.com." for i in (1, 2, 3, 4)]}

    @staticmethod
    def _rrset_json(name: str, rtype: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"kind": "dns#resourceRecordSet", "name": name, "type": rtype, "ttl": data["ttl"],
                "rrdatas": list(data["rrdatas"])}

    def _list(self, zone: str, query: dict[str, str]) -> dict[str, Any]:
        if "type" in query and "name" not in query:
            raise ApiError(400, "Invalid value for 'parameters.type': the 'name' parameter must also be present.")
        keys = sorted(self.rrsets[zone])
        if "name" in query:
            keys = [k for k in keys if k[0] == query["name"].lower() and query.get("type", k[1]).upper() == k[1]]
        size = int(query.get("maxResults", self.page_size))
        start = int(query.get("pageToken", "0"))
        page = keys[start:start + size]
        reply: dict[str, Any] = {"kind": "dns#resourceRecordSetsListResponse",
                                 "rrsets": [self._rrset_json(n, t, self.rrsets[zone][(n, t)]) for n, t in page]}
        if start + size < len(keys):
            reply["nextPageToken"] = str(start + size)
        return reply

    def _parse(self, zone: str, item: Any, where: str) -> tuple[tuple[str, str], dict[str, Any]]:
        """One rrset of a change, checked as Cloud DNS checks it (400 invalid otherwise)."""
        try:
            name, rtype, rrdatas = str(item["name"]).lower(), str(item["type"]).upper(), list(item["rrdatas"])
            ttl = int(item.get("ttl", 300))  # JSON int64 fields may arrive as strings, as the SDK sends them
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(400, f"Invalid value for '{where}': {exc}") from exc
        dns_name = self.zones[zone]
        if not name.endswith(".") or not (name == dns_name or name.endswith("." + dns_name)):
            raise ApiError(400, f"Invalid value for '{where}.name': '{name}' is not within '{dns_name}'.")
        if rtype not in TYPES or ttl < 0 or not rrdatas or not all(isinstance(r, str) and r for r in rrdatas):
            raise ApiError(400, f"Invalid value for '{where}': bad type, ttl or rrdatas.")
        try:
            for value in rrdatas:
                if rtype == "A":
                    ipaddress.IPv4Address(value)
                elif rtype == "AAAA":
                    ipaddress.IPv6Address(value)
        except ValueError as exc:
            raise ApiError(400, f"Invalid value for '{where}.rrdata': {exc}") from exc
        if rtype == "CNAME" and (len(rrdatas) != 1 or name == dns_name):
            raise ApiError(400, f"Invalid value for '{where}': a CNAME has one rrdata and is not at the apex.")
        return (name, rtype), {"ttl": ttl, "rrdatas": rrdatas}

    def _change(self, zone: str, body: dict[str, Any]) -> dict[str, Any]:
        additions = [self._parse(zone, a, f"entity.change.additions[{i}]")
                     for i, a in enumerate(body.get("additions") or [])]
        deletions = [self._parse(zone, d, f"entity.change.deletions[{i}]")
                     for i, d in enumerate(body.get("deletions") or [])]
        if not additions and not deletions:
            raise ApiError(400, "The 'entity.change' resource must contain at least one addition or deletion.")
        after = dict(self.rrsets[zone])
        for i, (key, data) in enumerate(deletions):
            current = after.get(key)
            if current is None:
                raise ApiError(404, f"The 'entity.change.deletions[{i}]' resource named '{key[0]} ({key[1]})' "
                                    "does not exist.")
            if current["ttl"] != data["ttl"] or sorted(current["rrdatas"]) != sorted(data["rrdatas"]):
                raise ApiError(412, f"Precondition not met for 'entity.change.deletions[{i}]'")
            del after[key]
        for i, (key, data) in enumerate(additions):
            if key in after:
                raise ApiError(409, f"The resource 'entity.change.additions[{i}]' named '{key[0]} ({key[1]})' "
                                    "already exists")
            others = {t for n, t in after if n == key[0]}
            if others and (key[1] == "CNAME" or "CNAME" in others):
                raise ApiError(400, f"The resource record set 'entity.change.additions[{i}]' is invalid because a "
                                    "CNAME cannot coexist with other record sets of the same name.")
            after[key] = data
        self.rrsets[zone] = after  # all or nothing, as Cloud DNS applies a change atomically
        self._changes += 1
        return {"kind": "dns#change", "id": str(self._changes), "status": "done",
                "startTime": "2024-01-01T00:00:00.000Z",
                "additions": [self._rrset_json(k[0], k[1], d) for k, d in additions],
                "deletions": [self._rrset_json(k[0], k[1], d) for k, d in deletions]}


__all__ = ["FakeCloudDns", "FakeSession"]
