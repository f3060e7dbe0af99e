"""Record names, types and values checked and normalised the same way by every `DnsZone`.

The in-memory zone is the reference; the Route 53 and RFC 2136 adapters call the same
functions before any request, so bad input fails as `InvalidInput` everywhere.  TXT
values have one canonical form shared by the adapters: every character-string quoted,
separated by one space, with ``"`` and ``\\`` backslash-escaped and bytes outside
printable ASCII written ``\\DDD`` (what BIND and dnspython print, and what Route 53 takes).
"""

from __future__ import annotations

import ipaddress
import re

from failover.capabilities import Record
from failover.errors import InvalidInput

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


def check_ttl(ttl: int) -> None:
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
    check_ttl(record.ttl)
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


# ---------------------------------------------------------------- TXT character-strings

MAX_TXT_STRING = 255  # octets in one character-string (RFC 1035 section 3.3)
_ESCAPED = frozenset(b'"\\')


def txt_strings(value: str) -> list[bytes]:
    """The character-strings of a TXT value in presentation form (as in a zone file).

    ``"a b" c`` is two strings, ``a b`` and ``c``; ``\\"`` and ``\\DDD`` are escapes.
    """
    strings: list[bytes] = []
    raw = value.encode("utf-8")
    i, n = 0, len(raw)
    while i < n:
        if raw[i] in b" \t":
            i += 1
            continue
        quoted = raw[i] == ord('"')
        i += quoted
        out = bytearray()
        while i < n:
            c = raw[i]
            if quoted and c == ord('"'):
                i += 1
                break
            if not quoted and c in b" \t":
                break
            if not quoted and c == ord('"'):
                raise InvalidInput(f"TXT value {value!r}: a quote inside an unquoted string")
            if c == ord("\\"):
                i, c = _unescape(raw, i, value)
            out.append(c)
            i += 1
        else:
            if quoted:
                raise InvalidInput(f"TXT value {value!r} has an unterminated quoted string")
        if len(out) > MAX_TXT_STRING:
            raise InvalidInput(
                f"TXT value {value!r}: a character-string is longer than {MAX_TXT_STRING} bytes; "
                'split it into several quoted strings ("..." "...")'
            )
        strings.append(bytes(out))
    return strings


def _unescape(raw: bytes, i: int, value: str) -> tuple[int, int]:
    """Position of the escape's last byte and the byte it stands for (``raw[i]`` is ``\\``)."""
    digits = raw[i + 1 : i + 4]
    if len(digits) == 3 and digits.isdigit():
        if int(digits) > 255:
            raise InvalidInput(f"TXT value {value!r}: escape \\{digits.decode()} is above 255")
        return i + 3, int(digits)
    if i + 1 >= len(raw):
        raise InvalidInput(f"TXT value {value!r} ends with a lone backslash")
    return i + 1, raw[i + 1]


def format_txt(strings: list[bytes]) -> str:
    """The canonical TXT value: each string quoted, printable ASCII kept, the rest ``\\DDD``."""
    parts = []
    for string in strings:
        text = "".join(
            "\\" + chr(c) if c in _ESCAPED else chr(c) if 0x20 <= c < 0x7F else f"\\{c:03d}" for c in string
        )
        parts.append(f'"{text}"')
    return " ".join(parts)


def canonical_txt(value: str) -> str:
    """``hello "a b"`` -> ``"hello" "a b"``; already-canonical values come back unchanged."""
    return format_txt(txt_strings(value))


# ---------------------------------------------------------------- names from a server

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def decode_octal_escapes(name: str) -> str:
    """Route 53 returns ``*`` and other special characters as ``\\052``: undo that."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), name)
