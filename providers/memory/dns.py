"""An in-memory `DnsZone` that validates records the way the real DNS services do."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from failover.capabilities import Record
from failover.errors import NotFound
from failover.fleet.leader import check_token, fence_record, fence_token, fenced

# The normalisers live in providers/_dns_names.py, shared with the cloud adapters;
# re-exported here so existing imports keep working.
from failover.providers._dns_names import (
    MAX_TTL,
    RECORD_TYPES,
    normalize_name,
    normalize_record,
    normalize_type,
    normalize_value,
    normalize_zone,
)

__all__ = [
    "MAX_TTL",
    "RECORD_TYPES",
    "MemoryDnsZone",
    "normalize_name",
    "normalize_record",
    "normalize_type",
    "normalize_value",
    "normalize_zone",
]


class MemoryDnsZone:
    """One zone's record sets in a dict keyed by (name, type), guarded by one lock.

    Starts empty (no SOA or NS sets).  `upsert_record` replaces the whole record set and
    returns it normalised (providers/_dns_names.py): absolute lower-cased name, upper-cased
    type, canonical values in sorted order, TXT values as one logical string each.

    `upsert_fenced` checks the fence and writes it with the record under the same lock, so
    it refuses a stale leader exactly when BIND's prerequisites or Route 53's change batch
    would (failover/fleet/leader.py).
    """

    def __init__(self, zone: str = "example.com.") -> None:
        self._zone = normalize_zone(zone)
        self._records: dict[tuple[str, str], Record] = {}
        self._lock = threading.Lock()

    @property
    def zone(self) -> str:
        return self._zone

    def list_records(self) -> Iterator[Record]:
        """Every record set, ordered by name then type, from a snapshot taken at the first step."""
        with self._lock:
            records = list(self._records.values())
        records.sort(key=lambda r: (r.name, r.type))
        yield from records

    def get_record(self, name: str, type: str) -> Record:
        key = (normalize_name(name, self._zone), normalize_type(type))
        with self._lock:
            record = self._records.get(key)
        if record is None:
            raise NotFound(f"no {key[1]} record for {key[0]}", operation="get_record")
        return record

    def upsert_record(self, record: Record) -> Record:
        normal = normalize_record(record, self._zone)
        with self._lock:
            self._records[(normal.name, normal.type)] = normal
        return normal

    def upsert_fenced(self, record: Record, token: int, *, seen: int | None = None) -> Record:
        """`upsert_record`, unless the fence holds a token larger than ``token`` (`Fenced`).
        ``seen`` is not needed here: the check and the write are one step."""
        check_token(token, seen)
        normal = normalize_record(record, self._zone)
        fence = normalize_record(fence_record(normal.name, token), self._zone)
        with self._lock:
            held = self._records.get((fence.name, "TXT"))
            current = 0 if held is None else fence_token(held)
            if current > token:
                raise fenced(f"{normal.name} {normal.type}", token, current)
            self._records[(normal.name, normal.type)] = normal
            self._records[(fence.name, fence.type)] = fence
        return normal

    def delete_record(self, name: str, type: str) -> None:
        key = (normalize_name(name, self._zone), normalize_type(type))
        with self._lock:
            self._records.pop(key, None)

    def probe(self) -> None:
        """Cheap health check: the zone is healthy when its lock can be taken."""
        with self._lock:
            pass

    def __repr__(self) -> str:
        return f"MemoryDnsZone(zone={self._zone!r}, records={len(self._records)})"
