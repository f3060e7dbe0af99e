"""An in-memory `DnsZone` that validates records the way the real DNS services do."""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterator

from failover.capabilities import Record
from failover.errors import InvalidInput, NotFound

RECORD_TYPES: frozenset[str] = frozenset({"A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA"})
MAX_TTL = 2**31 - 1  # RFC 2181 section 8
_LABEL = re.compile(r"^[a-z0-9_-]{1,63}$")  # '_' for service labels such as _sip._tcp
_MAX_NAME = 253  # presentation length without the final dot (255 octets on the wire)


def normalize_zone(zone: str) -> str:
    """``"Example.COM"`` -> ``"example.com."``."""
    if not isinstance(zone, str) or not zone.strip("."):
        raise InvalidInput(f"zone must be a domain name such as 'example.com.', not {zone!r}")
    zone = zone.lower()
    if not zone.endswith("."):
        zone += "."
    _check_labels(zone, zone)
    return zone


def normalize_name(name: str, zone: str) -> str:
    """The absolute, lower-cased name of ``name`` in ``zone``.

    Names ending in ``.`` are absolute and must lie inside the zone; any other name is
    relative to the zone, as in a BIND zone file (``"www"`` -> ``"www.example.com."``,
    ``"@"`` -> the apex).  Note that ``"www.example.com"`` without the final dot is
    relative too and becomes ``"www.example.com.example.com."``.
    """
    if not isinstance(name, str):
        raise InvalidInput(f"record name must be a str, not {type(name).__name__}")
    if not name:
        raise InvalidInput("record name must not be empty (use '@' for the zone apex)")
    name = name.lower()
    if name == "@":
        return zone
    if not name.endswith("."):
        name = f"{name}.{zone}"
    elif name != zone and not name.endswith("." + zone):
        raise InvalidInput(f"record name {name!r} is outside zone {zone!r}")
    _check_labels(name, name)
    return name


def _check_labels(name: str, shown: str) -> None:
    body = name[:-1]
    if len(body) > _MAX_NAME:
        raise InvalidInput(f"name {shown!r} is longer than {_MAX_NAME} characters")
    labels = body.split(".")
    for position, label in enumerate(labels):
        if label == "*" and position == 0:
            continue  # a wildcard is allowed as the leftmost label only
        if not _LABEL.match(label):
            raise InvalidInput(
                f"invalid label {label!r} in {shown!r}: use 1-63 letters, digits, '-' or '_'"
            )


def normalize_type(type: str) -> str:
    if not isinstance(type, str) or type.upper() not in RECORD_TYPES:
        raise InvalidInput(f"unsupported record type {type!r}: use one of {', '.join(sorted(RECORD_TYPES))}")
    return type.upper()


def _check_ttl(ttl: int) -> None:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL:
        raise InvalidInput(f"ttl must be an int in 0..{MAX_TTL}, not {ttl!r}")


def _fields(value: str, count: int, rtype: str, shape: str) -> list[str]:
    parts = value.split(None, count - 1)
    if len(parts) != count:
        raise InvalidInput(f"{rtype} value {value!r} must look like {shape!r}")
    return parts


def _number(text: str, limit: int, rtype: str, value: str) -> None:
    if not (text.isascii() and text.isdigit()) or int(text) > limit:
        raise InvalidInput(f"{rtype} value {value!r}: {text!r} must be an integer in 0..{limit}")


def normalize_value(rtype: str, value: str) -> str:
    """Check one value's shape for its type; IP addresses come back in canonical form."""
    if not isinstance(value, str) or not value or value != value.strip():
        raise InvalidInput(f"{rtype} value must be a non-empty str without surrounding blanks, not {value!r}")
    try:
        if rtype == "A":
            return str(ipaddress.IPv4Address(value))
        if rtype == "AAAA":
            return str(ipaddress.IPv6Address(value))
    except ValueError as exc:
        raise InvalidInput(f"invalid {rtype} value {value!r}: {exc}") from exc
    if rtype == "MX":
        _number(_fields(value, 2, rtype, "10 mail.example.com.")[0], 65535, rtype, value)
    elif rtype == "SRV":
        for text in _fields(value, 4, rtype, "10 5 5060 sip.example.com.")[:3]:
            _number(text, 65535, rtype, value)
    elif rtype == "CAA":
        _number(_fields(value, 3, rtype, '0 issue "ca.example.net"')[0], 255, rtype, value)
    return value


def normalize_record(record: Record, zone: str) -> Record:
    if not isinstance(record, Record):
        raise InvalidInput(f"expected a Record, not {type(record).__name__}")
    name = normalize_name(record.name, zone)
    rtype = normalize_type(record.type)
    _check_ttl(record.ttl)
    if isinstance(record.values, (str, bytes)):
        # Record("www", "A", 60, "192.0.2.1") would otherwise become one value per character.
        raise InvalidInput(f"values must be a sequence of str, not a single {type(record.values).__name__}")
    values = tuple(normalize_value(rtype, value) for value in record.values)
    if not values:
        raise InvalidInput(f"record {name} {rtype} needs at least one value (delete it instead)")
    if len(set(values)) != len(values):
        raise InvalidInput(f"record {name} {rtype} has duplicate values: {values!r}")
    if rtype == "CNAME" and len(values) != 1:
        raise InvalidInput(f"a CNAME record has exactly one value, not {len(values)}")
    if rtype == "CNAME" and name == zone:
        raise InvalidInput(f"a CNAME record cannot be at the zone apex {zone!r}")
    return Record(name=name, type=rtype, ttl=record.ttl, values=values)


class MemoryDnsZone:
    """One zone's record sets in a dict keyed by (name, type), guarded by one lock.

    Starts empty (no SOA or NS sets).  `upsert_record` replaces the whole record set and
    returns it normalised: absolute lower-cased name, upper-cased type, canonical IPs.
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
