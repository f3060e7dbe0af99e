"""Record names, types and values checked and normalised the same way by every `DnsZone`.

The in-memory zone is the reference; every adapter calls the same functions before any
request, so bad input fails as `InvalidInput` everywhere, and the in-memory zone refuses
what the strictest real server refuses:

* **Names** follow zone-file meaning: without a final dot they are relative to the zone.
  Labels are 1-63 letters, digits, ``-`` or ``_``; ``*`` only as the leftmost label.
* **Host names** (BIND's ``check-names``, on by default for a primary zone): the owner of an
  A, AAAA or MX record, and the name in an MX, NS or SRV value, must be a host name
  (RFC 952/1123): labels of letters, digits and ``-``, neither first nor last character a
  ``-``.  So ``_`` or ``web-`` cannot hold an A record, while ``_dmarc`` can hold a TXT one.
* **Names in values** (CNAME, NS, MX, SRV) follow zone-file meaning too: ``www`` in zone
  ``example.com.`` is ``www.example.com.``, ``@`` is the apex, ``.`` the root.  They are
  stored absolute and lower-cased.
* **TXT values** are one logical string each (providers/_dns_txt.py).
* **Order.** Values are sorted, so `upsert_record` and `get_record` show one order.
"""

from __future__ import annotations

import ipaddress
import math
import re

from failover.capabilities import Record
from failover.errors import ConfigError, InvalidInput
from failover.providers._common import check_timeout
from failover.providers._dns_txt import check_txt

RECORD_TYPES: frozenset[str] = frozenset({"A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA"})
MAX_TTL = 2**31 - 1  # RFC 2181 section 8
_LABEL = re.compile(r"^[a-z0-9_-]{1,63}$")  # '_' for service labels such as _sip._tcp
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_HOST_OWNERS = frozenset({"A", "AAAA", "MX"})
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


def _check_labels(name: str, shown: str, *, wildcard: bool = True) -> None:
    body = name[:-1]
    if len(body) > _MAX_NAME:
        raise InvalidInput(f"name {shown!r} is longer than {_MAX_NAME} characters")
    labels = body.split(".")
    for position, label in enumerate(labels):
        if label == "*" and position == 0 and wildcard:
            continue  # a wildcard is allowed as the leftmost label only
        if not _LABEL.match(label):
            raise InvalidInput(
                f"invalid label {label!r} in {shown!r}: use 1-63 letters, digits, '-' or '_'"
            )


def check_hostname(name: str, what: str, *, wildcard: bool = False) -> None:
    """`InvalidInput` unless absolute ``name`` is a host name (see the module docstring)."""
    labels = name[:-1].split(".") if name != "." else []
    if wildcard and labels[:1] == ["*"]:
        labels = labels[1:]
    for label in labels:
        if not _HOST_LABEL.match(label):
            raise InvalidInput(
                f"{what} {name!r} is not a host name: label {label!r} must be letters, digits and '-', "
                "not starting or ending with '-' (DNS servers refuse it: BIND check-names)"
            )


def normalize_target(text: str, zone: str | None, what: str) -> str:
    """A name inside a value, absolute and lower-cased, with zone-file meaning."""
    text = text.lower()
    if text == ".":
        return text
    if text == "@" or not text.endswith("."):
        if zone is None:
            raise InvalidInput(f"{what} {text!r} is relative: end it with '.' (or name the zone)")
        text = zone if text == "@" else f"{text}.{zone}"
    _check_labels(text, text, wildcard=False)
    return text


def normalize_type(type: str) -> str:
    if not isinstance(type, str) or type.upper() not in RECORD_TYPES:
        raise InvalidInput(f"unsupported record type {type!r}: use one of {', '.join(sorted(RECORD_TYPES))}")
    return type.upper()


def check_ttl(ttl: int) -> None:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL:
        raise InvalidInput(f"ttl must be an int in 0..{MAX_TTL}, not {ttl!r}")


def check_seconds(name: str, value: float, *, allow_none: bool = False) -> None:
    """`ConfigError` naming ``name`` unless ``value`` is a finite number of seconds > 0."""
    check_timeout(name, value, allow_none=allow_none)
    if value is not None and not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number of seconds, not {value!r}")


def _fields(value: str, count: int, rtype: str, shape: str) -> list[str]:
    parts = value.split(None, count - 1)
    if len(parts) != count:
        raise InvalidInput(f"{rtype} value {value!r} must look like {shape!r}")
    return parts


def _number(text: str, limit: int, rtype: str, value: str) -> None:
    if not (text.isascii() and text.isdigit()) or int(text) > limit:
        raise InvalidInput(f"{rtype} value {value!r}: {text!r} must be an integer in 0..{limit}")


def normalize_value(rtype: str, value: str, zone: str | None = None) -> str:
    """One value checked for its type and put in canonical form: IP addresses canonical,
    names in values absolute and lower-cased (relative to ``zone``; without a zone a relative
    name is refused), TXT as in providers/_dns_txt.py."""
    if rtype == "TXT":
        return check_txt(value)
    if not isinstance(value, str) or not value or value != value.strip():
        raise InvalidInput(f"{rtype} value must be a non-empty str without surrounding blanks, not {value!r}")
    try:
        if rtype == "A":
            return str(ipaddress.IPv4Address(value))
        if rtype == "AAAA":
            return str(ipaddress.IPv6Address(value))
    except ValueError as exc:
        raise InvalidInput(f"invalid {rtype} value {value!r}: {exc}") from exc
    if rtype in ("CNAME", "NS"):
        if len(value.split()) != 1:
            raise InvalidInput(f"{rtype} value {value!r} must be one domain name")
        target = normalize_target(value, zone, f"{rtype} value")
        if rtype == "NS":
            check_hostname(target, "NS value")
        return target
    if rtype == "MX":
        preference, exchange = _fields(value, 2, rtype, "10 mail.example.com.")
        _number(preference, 65535, rtype, value)
        exchange = normalize_target(exchange, zone, "MX exchange")
        check_hostname(exchange, "MX exchange")
        return f"{int(preference)} {exchange}"
    if rtype == "SRV":
        fields = _fields(value, 4, rtype, "10 5 5060 sip.example.com.")
        for text in fields[:3]:
            _number(text, 65535, rtype, value)
        target = normalize_target(fields[3], zone, "SRV target")
        check_hostname(target, "SRV target")
        return " ".join([*(str(int(t)) for t in fields[:3]), target])
    if rtype == "CAA":
        _number(_fields(value, 3, rtype, '0 issue "ca.example.net"')[0], 255, rtype, value)
    return value


def normalize_record(record: Record, zone: str) -> Record:
    """The record as every zone stores it: absolute lower-cased name, upper-cased type,
    canonical values in sorted order."""
    if not isinstance(record, Record):
        raise InvalidInput(f"expected a Record, not {type(record).__name__}")
    name = normalize_name(record.name, zone)
    rtype = normalize_type(record.type)
    check_ttl(record.ttl)
    if rtype in _HOST_OWNERS:
        check_hostname(name, f"the name of an {rtype} record", wildcard=True)
    if isinstance(record.values, (str, bytes)):
        # Record("www", "A", 60, "192.0.2.1") would otherwise become one value per character.
        raise InvalidInput(f"values must be a sequence of str, not a single {type(record.values).__name__}")
    values = tuple(sorted(normalize_value(rtype, value, zone) for value in record.values))
    if not values:
        raise InvalidInput(f"record {name} {rtype} needs at least one value (delete it instead)")
    if len(set(values)) != len(values):
        raise InvalidInput(f"record {name} {rtype} has duplicate values: {values!r}")
    if rtype == "CNAME" and len(values) != 1:
        raise InvalidInput(f"a CNAME record has exactly one value, not {len(values)}")
    if rtype == "CNAME" and name == zone:
        raise InvalidInput(f"a CNAME record cannot be at the zone apex {zone!r}")
    return Record(name=name, type=rtype, ttl=record.ttl, values=values)


# ---------------------------------------------------------------- names from a server

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def decode_octal_escapes(name: str) -> str:
    """Route 53 returns ``*`` and other special characters as ``\\052``: undo that."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), name)
