"""`FailoverDNS`: one DNS zone served by several DNS providers."""

from __future__ import annotations

from collections.abc import Iterator

from failover.capabilities import Capability, Record
from failover.errors import InvalidInput
from failover.facade import Facade


class FailoverDNS(Facade):
    """A `DnsZone` facade: reads and writes go to the healthiest provider of the zone.

    Every target must hold the same zone.  To publish one answer to *every* provider
    at once, use the DNS failover controller instead.
    """

    capability = Capability.DNS_ZONE
    read_operations = frozenset({"list_records", "get_record"})

    def list_records(self) -> Iterator[Record]:
        # Materialised inside the call, so a provider failing mid-listing fails over.
        records = self._read("list_records", lambda m: list(m.provider.list_records()))
        return iter(records)

    def get_record(self, name: str, type: str) -> Record:
        _check_name_type(name, type)
        return self._read("get_record", lambda m: m.provider.get_record(name, type))  # type: ignore[no-any-return]

    def upsert_record(self, record: Record) -> Record:
        if not isinstance(record, Record):
            raise InvalidInput(f"upsert_record takes a Record, not {type(record).__name__}")
        return self._write("upsert_record", lambda m: m.provider.upsert_record(record))  # type: ignore[no-any-return]

    def delete_record(self, name: str, type: str) -> None:
        _check_name_type(name, type)
        self._write("delete_record", lambda m: m.provider.delete_record(name, type))


def _check_name_type(name: str, type: str) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"record name must be a non-empty str, got {name!r}")
    if not isinstance(type, str) or not type:
        raise InvalidInput(f"record type must be a non-empty str, got {type!r}")
