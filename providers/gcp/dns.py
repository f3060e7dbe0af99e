"""Google Cloud DNS (google-cloud-dns) as a `DnsZone`.

Cloud DNS speaks absolute names (``"www.example.com."``) and presentation-format rrdatas, the
same as `Record`, so only TXT values are translated: one logical string in `Record`, quoted
255-byte strings in an rrdata (providers/_dns_txt.py).  It has no "put this record set" call:
every write is a *change* (deletions + additions, applied atomically), and a deletion must
match the current record set exactly (else 412 conditionNotMet; an addition that exists is
409 alreadyExists).  So `upsert_record` reads the current set and replaces it in one change,
and re-reads and tries again (a few times) when a concurrent writer got there first; a write
that lost every round is `PreconditionFailed`.

Why the HTTP session is wrapped: google-cloud-dns never passes a timeout, so google-cloud-core
sends its default of 60 s on every request; `_TimedSession` replaces it with ``timeout``
(default 2 s connect, 5 s read).  google-cloud-core does not retry, which is what we want: the
failover layer retries on another provider.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from failover.providers._sdk import missing_sdk

try:
    import dns.rdata as _dnspython  # noqa: F401  # TXT values are converted with it (providers/_dns_txt.py)
    import google.cloud.dns as dns
    from google.auth import exceptions as auth_exc
except ImportError as exc:
    raise missing_sdk(__name__, "cloud-dns", exc) from exc

from failover.capabilities import Record
from failover.errors import AlreadyExists, ConfigError, NotFound, PreconditionFailed
from failover.providers._common import check_timeout_pair
from failover.providers._dns_names import (
    check_seconds,
    normalize_name,
    normalize_record,
    normalize_type,
    normalize_zone,
)
from failover.providers._dns_txt import txt_from_presentation, txt_presentation
from failover.providers.gcp._client import DEFAULT_TIMEOUT, map_errors

# Read-modify-write rounds before a write gives up to a concurrent writer.
WRITE_ATTEMPTS = 3
_MANAGED_ZONE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


class _TimedSession:
    """A requests-compatible session that sends every request with our timeout."""

    def __init__(self, session: Any, timeout: float | tuple[float, float]) -> None:
        self._session = session
        self._timeout = timeout

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        kwargs["timeout"] = self._timeout
        return self._session.request(method, url, **kwargs)

    def __getattr__(self, name: str) -> Any:  # close(), is_mtls... of the wrapped session
        return getattr(self._session, name)

    def __repr__(self) -> str:
        return f"_TimedSession(timeout={self._timeout!r})"


class CloudDnsZone:
    """One Cloud DNS managed zone.

    ``managed_zone`` is the zone's resource name in ``project`` (``"example-com"``); ``zone``
    is the DNS name it serves (``"example.com."``).  Authentication: ``credentials`` (a
    google-auth Credentials), else application default credentials.  ``http`` is the
    requests-compatible session the client sends through (tests inject a fake one);
    ``client`` replaces the whole google.cloud.dns Client (its own timeouts then apply).
    """

    def __init__(
        self,
        zone: str,
        *,
        managed_zone: str,
        project: str,
        client: Any = None,
        credentials: Any = None,
        http: Any = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self._zone = normalize_zone(zone)
        if not isinstance(managed_zone, str) or not _MANAGED_ZONE.match(managed_zone):
            raise ConfigError(
                f"invalid managed zone name {managed_zone!r}: 1-63 lowercase letters, digits and '-', "
                "starting with a letter"
            )
        if not isinstance(project, str) or not project.strip():
            raise ConfigError("CloudDnsZone needs a non-empty project")
        check_timeout_pair(timeout, check_seconds)
        self.managed_zone = managed_zone
        self.project = project
        if client is None:
            session = http if http is not None else _authorized_session(credentials)
            client = dns.Client(project=project, credentials=credentials, _http=_TimedSession(session, timeout))
        self._client = client
        self._mz = client.zone(managed_zone, self._zone)

    @property
    def zone(self) -> str:
        return self._zone

    def __repr__(self) -> str:
        return f"CloudDnsZone(zone={self._zone!r}, managed_zone={self.managed_zone!r}, project={self.project!r})"

    def _where(self, name: str = "", rtype: str = "") -> str:
        return " ".join(part for part in (f"{self.project}/{self.managed_zone}", name, rtype) if part)

    def _find(self, name: str, rtype: str, operation: str) -> Any:
        """The current ResourceRecordSet for (name, type), or None; one filtered list call."""
        pages = self._mz.list_resource_record_sets()
        # The API filters by name and type (documented for rrsets.list); the SDK has no
        # arguments for them, but its iterator sends extra_params as query parameters.
        pages.extra_params = {"name": name, "type": rtype}
        with map_errors(operation, self._where(name, rtype)):
            for rrs in pages:
                if rrs.name.lower() == name and rrs.record_type.upper() == rtype:
                    return rrs
        return None

    def _rrset(self, record: Record) -> Any:
        values = [txt_presentation(v) for v in record.values] if record.type == "TXT" else list(record.values)
        return self._mz.resource_record_set(record.name, record.type, record.ttl, values)

    @staticmethod
    def _to_record(rrs: Any) -> Record:
        rtype = rrs.record_type.upper()
        values = [txt_from_presentation(v) for v in rrs.rrdatas] if rtype == "TXT" else list(rrs.rrdatas)
        return Record(rrs.name.lower(), rtype, int(rrs.ttl), tuple(sorted(values)))

    # ---------------------------------------------------------------- DnsZone

    def list_records(self) -> Iterator[Record]:
        """Every record set, SOA and apex NS included, fetched page by page as iteration goes."""
        with map_errors("list_records", self._where()):
            for rrs in self._mz.list_resource_record_sets():
                yield self._to_record(rrs)

    def get_record(self, name: str, type: str) -> Record:
        absolute, rtype = normalize_name(name, self._zone), normalize_type(type)
        rrs = self._find(absolute, rtype, "get_record")
        if rrs is None:
            raise NotFound(f"get_record {self._where(absolute, rtype)}: no such record set", operation="get_record")
        return self._to_record(rrs)

    def upsert_record(self, record: Record) -> Record:
        normal = normalize_record(record, self._zone)
        where = self._where(normal.name, normal.type)
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            current = self._find(normal.name, normal.type, "upsert_record")
            if current is not None and self._to_record(current) == normal:
                return normal  # already so: an empty change would only cost a request
            change = self._mz.changes()
            if current is not None:
                change.delete_record_set(current)
            change.add_record_set(self._rrset(normal))
            try:
                with map_errors("upsert_record", where):
                    change.create()
                return normal
            except (PreconditionFailed, AlreadyExists, NotFound) as exc:
                # Since we read the set, someone changed it (412), added it (409) or deleted it (404).
                if attempt == WRITE_ATTEMPTS:
                    raise PreconditionFailed(
                        f"upsert_record {where}: another writer changed the set in each of {attempt} rounds",
                        operation="upsert_record",
                    ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def delete_record(self, name: str, type: str) -> None:
        absolute, rtype = normalize_name(name, self._zone), normalize_type(type)
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            current = self._find(absolute, rtype, "delete_record")
            if current is None:
                return
            change = self._mz.changes()
            change.delete_record_set(current)
            try:
                with map_errors("delete_record", self._where(absolute, rtype)):
                    change.create()
                return
            except NotFound:
                return  # deleted by someone else meanwhile: the outcome we wanted
            except PreconditionFailed:
                if attempt == WRITE_ATTEMPTS:
                    raise

    def probe(self) -> None:
        """Health check: the managed zone can be read, and it serves the zone we were given."""
        with map_errors("probe", self._where()):
            zone = self._client.zone(self.managed_zone)
            zone.reload()
        served = (zone.dns_name or "").lower()
        if served != self._zone:
            raise ConfigError(f"managed zone {self.managed_zone!r} serves {served!r}, not {self._zone!r}")


def _authorized_session(credentials: Any) -> Any:
    """A requests session that signs with ``credentials``, or with application default ones."""
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    if credentials is None:
        try:
            credentials, _ = google.auth.default(scopes=list(dns.Client.SCOPE))
        except auth_exc.DefaultCredentialsError as exc:
            raise ConfigError(
                "no Google application default credentials: set GOOGLE_APPLICATION_CREDENTIALS, run "
                "'gcloud auth application-default login', or pass credentials="
            ) from exc
    return AuthorizedSession(credentials)  # type: ignore[no-untyped-call]


__all__ = ["CloudDnsZone"]
