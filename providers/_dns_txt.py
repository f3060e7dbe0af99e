"""The one TXT model every `DnsZone` shares: a value is one logical string.

* **Writing.** A TXT value in `Record.values` is the text itself (``v=spf1 include:_spf.example.net ~all``,
  ``v=DKIM1; k=rsa; p=MIIB...``), never zone-file syntax.  Each value is one resource
  record.  On the wire, its UTF-8 bytes are cut into character-strings of at most 255
  bytes, and only there (RFC 1035 section 3.3.14).  Quotes, backslashes and ``;`` are
  escaped by dnspython wherever a provider wants presentation form (Route 53, Cloud DNS).
  Azure and RFC 2136 take the strings themselves.
* **Reading.** The character-strings of one record are joined back into one value, with
  nothing between them, as SPF (RFC 7208 section 3.3) and DKIM (RFC 6376 section 3.6.2.2)
  verifiers join them.
* **Several strings in one record** cannot be asked for: reading joins them, so a split
  chosen by the caller would not survive a round trip.  A record written by another tool
  with several strings reads back as their concatenation.
* **Allowed text:** printable ASCII (space to ``~``), 1 to `MAX_TXT_VALUE` bytes, no blanks
  at either end.  A value may not begin with ``"``: ``'"v=spf1 -all"'`` is zone-file
  syntax, and publishing it would put the quotes into the record and break SPF.  Foreign
  bytes outside printable ASCII read back as UTF-8, undecodable bytes as U+FFFD.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING

from failover.errors import InvalidInput
from failover.providers._sdk import missing_sdk

if TYPE_CHECKING:
    from dns.rdtypes.ANY.TXT import TXT

MAX_TXT_STRING = 255  # bytes in one character-string (RFC 1035 section 3.3)
# Bytes in one value.  Azure DNS takes at most 1,024 characters in one TXT value; Route 53
# takes 4,000 characters of presentation form, which 1,024 bytes stay below even when every
# byte needs a backslash.
MAX_TXT_VALUE = 1024


def check_txt(value: str) -> str:
    """``value`` if it is a TXT value of the shared model, else `InvalidInput` saying why."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"TXT value must be a non-empty str, not {value!r}")
    if value != value.strip(" "):
        raise InvalidInput(f"TXT value {value!r} has blanks at one end")
    if not all(" " <= c <= "~" for c in value):
        raise InvalidInput(f"TXT value {value!r}: use printable ASCII only (no control or non-ASCII characters)")
    if value.startswith('"'):
        raise InvalidInput(
            f"TXT value {value!r} begins with a quote: a TXT value is the text itself, not zone-file "
            "syntax (pass 'v=spf1 -all', not '\"v=spf1 -all\"')"
        )
    if len(value) > MAX_TXT_VALUE:
        raise InvalidInput(f"TXT value of {len(value)} bytes is longer than {MAX_TXT_VALUE} bytes")
    return value


def txt_chunks(value: str) -> list[bytes]:
    """The character-strings ``value`` goes on the wire as: 255 bytes each, the last shorter."""
    raw = check_txt(value).encode("ascii")
    return [raw[i : i + MAX_TXT_STRING] for i in range(0, len(raw), MAX_TXT_STRING)]


def txt_join(strings: Iterable[bytes | str]) -> str:
    """One record's character-strings read back as one value."""
    raw = b"".join(s.encode("utf-8") if isinstance(s, str) else s for s in strings)
    return raw.decode("utf-8", "replace")


def _dnspython() -> ModuleType:
    """dnspython, imported on first use: the checks above need none of it, and the
    in-memory zone, which uses only them, must work on the base install."""
    try:
        import dns.exception
        import dns.rdata
        import dns.rdataclass
        import dns.rdatatype
        import dns.rdtypes.ANY.TXT
    except ImportError as exc:
        raise missing_sdk(__name__, "dns", exc) from exc
    return dns


def txt_rdata(value: str) -> TXT:
    dns = _dnspython()
    from dns.rdtypes.ANY.TXT import TXT as TxtRdata

    return TxtRdata(dns.rdataclass.IN, dns.rdatatype.TXT, txt_chunks(value))


def txt_presentation(value: str) -> str:
    """``value`` as zone-file text: ``"v=DKIM1; k=rsa; p=..."``, split into quoted strings."""
    return str(txt_rdata(value).to_text())


def txt_from_presentation(text: str) -> str:
    """The value of one TXT record given in zone-file text (as Route 53 and Cloud DNS return it).

    Text that is not valid presentation form (written by another tool) comes back as it is.
    """
    dns = _dnspython()
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text)
    except (dns.exception.DNSException, ValueError):
        return text
    assert isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
    return txt_join(rdata.strings)
