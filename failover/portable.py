"""The portable object model: what a write may carry so that every cloud stores it as given.

The clouds disagree.  S3 lower-cases metadata names and refuses non-ASCII values; Azure
refuses names that are not C# identifiers and cannot store keys with ``.`` / ``..``
segments; Python's ``http.client`` cannot read back more than 100 response headers.
Rather than encode around each difference, the library accepts only what all of them
keep unchanged, and refuses the rest with `InvalidInput` (permanent: it never counts
against a target's breaker) *before anything is sent*.  The same rules are checked by
`FailoverStorage` before a write reaches any target, by every cloud adapter and by the
in-memory store, so a write is either refused everywhere or stored alike everywhere.

==================  ===========================================================
object keys         `failover.capabilities.validate_key`: 1-1024 bytes of UTF-8,
                    no control character (C0, DEL, C1), no lone surrogate, no
                    noncharacter (U+FFFE, U+FFFF, ...), no ``\\``, no path segment
                    that ends with ``.`` (so no ``.`` or ``..`` segment), at most
                    `MAX_KEY_SEGMENTS` segments
metadata            a mapping of str to str (or None), at most
                    `MAX_METADATA_ENTRIES` entries and `MAX_METADATA_BYTES` bytes
                    of names and values
metadata names      lowercase ASCII letters and digits, ``[a-z][a-z0-9]*``, at
                    most `MAX_NAME_LENGTH` characters; the checksum names are
                    reserved
metadata values     1 or more printable ASCII characters (space to ``~``), no
                    leading or trailing space
content types       printable ASCII, ``type/subtype`` with optional parameters,
                    no leading or trailing space, at most `MAX_CONTENT_TYPE_LENGTH`
==================  ===========================================================

Reading back is exact: ``put(key, data, metadata=head(key).metadata,
content_type=head(key).content_type)`` is always accepted and writes the same object.

`VERSION_KEY` (``failoverversion``) is the library's own entry: the replication layer
writes it (`failover.replication.versioning`), the adapters accept it when it is a well-formed
version, store it, report it as `ObjectInfo.version` and hide it from ``metadata``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from failover.capabilities import MAX_KEY_SEGMENTS, check_key
from failover.errors import InvalidInput

MAX_METADATA_ENTRIES = 64
# S3 allows 2 KiB of user metadata names and values; the checksum and version entries
# take up to 256 bytes of it.
MAX_METADATA_BYTES = 1792
MAX_NAME_LENGTH = 128
MAX_CONTENT_TYPE_LENGTH = 256

VERSION_KEY = "failoverversion"
# The checksum entry, as spelled on S3 and GCS, and on Azure.
RESERVED_NAMES = frozenset({"failover-sha256", "failover_sha256"})

NAME_RULE = (
    "metadata names must be lowercase ASCII letters and digits, starting with a letter "
    "(S3 lower-cases names, Azure allows only C# identifiers, and HTTP stacks such as "
    "moto's or nginx's drop header names with '_')"
)
VALUE_RULE = (
    "metadata values must be printable ASCII (space to '~'), non-empty, without leading or "
    "trailing space (S3 refuses non-ASCII values; CR/LF would split the HTTP header)"
)
CONTENT_TYPE_RULE = (
    "content_type must be printable ASCII of the form type/subtype[; name=value], without "
    f"leading or trailing space, at most {MAX_CONTENT_TYPE_LENGTH} characters"
)

_NAME = re.compile(r"[a-z][a-z0-9]*")
_VALUE = re.compile(r"[!-~](?:[ -~]*[!-~])?")
_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_CONTENT_TYPE = re.compile(
    rf"{_TOKEN}/{_TOKEN}(?: *; *{_TOKEN}=(?:{_TOKEN}|\"[ !#-\[\]-~]*\"))*"
)
_VERSION = re.compile(r"[0-9]{20}-[A-Za-z0-9_]+")


def check_metadata(metadata: object) -> dict[str, str]:
    """A plain-dict copy of ``metadata`` (None gives ``{}``), or `InvalidInput` naming the rule."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInput(f"metadata must be a mapping of str to str, not {type(metadata).__name__}")
    out: dict[str, str] = {}
    user = 0
    size = 0
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidInput(
                f"metadata names and values must be str, not {type(name).__name__}: {type(value).__name__}"
            )
        if name == VERSION_KEY:
            if not _VERSION.fullmatch(value):
                raise InvalidInput(f"metadata name {VERSION_KEY!r} is reserved for the object's version")
            out[name] = value
            continue
        if name.lower() in RESERVED_NAMES or name.lower() == VERSION_KEY:
            raise InvalidInput(f"metadata name {name!r} is reserved for the library")
        if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
            raise InvalidInput(
                f"metadata name {name!r} is not portable: {NAME_RULE}; at most {MAX_NAME_LENGTH} characters"
            )
        if not _VALUE.fullmatch(value):
            raise InvalidInput(f"metadata value for {name!r} is not portable: {VALUE_RULE}")
        user += 1
        size += len(name) + len(value)
        out[name] = value
    if user > MAX_METADATA_ENTRIES:
        raise InvalidInput(
            f"metadata has {user} entries; the portable model allows at most {MAX_METADATA_ENTRIES} "
            "(more than 100 response headers cannot be read back)"
        )
    if size > MAX_METADATA_BYTES:
        raise InvalidInput(
            f"metadata is {size} bytes; the portable model allows at most {MAX_METADATA_BYTES} bytes "
            "of metadata names and values (S3 allows 2 KiB, the library's own entries included)"
        )
    return out


def check_content_type(content_type: object) -> str | None:
    """``content_type`` if it is None or portable, else `InvalidInput` naming the rule."""
    if content_type is None:
        return None
    if not isinstance(content_type, str):
        raise InvalidInput(f"content_type must be a str or None, not {type(content_type).__name__}")
    if len(content_type) > MAX_CONTENT_TYPE_LENGTH or not _CONTENT_TYPE.fullmatch(content_type):
        raise InvalidInput(f"content_type {content_type!r} is not portable: {CONTENT_TYPE_RULE}")
    return content_type


def check_write(key: str, content_type: object, metadata: object) -> tuple[str | None, dict[str, str]]:
    """Every rule a ``put`` must pass, checked before anything is sent anywhere.

    Returns the content type (None for the default) and a private copy of the metadata.
    """
    check_key(key)
    return check_content_type(content_type), check_metadata(metadata)


def split_version(metadata: Mapping[str, str] | None) -> tuple[dict[str, str], str | None]:
    """Stored metadata as ``(user metadata, version)``: the version entry is taken out
    (its name compared case-insensitively, since S3 lower-cases and Azure ignores case)."""
    user: dict[str, str] = {}
    version: str | None = None
    for name, value in (metadata or {}).items():
        if name.lower() == VERSION_KEY:
            version = value
        else:
            user[name] = value
    return user, version


__all__ = [
    "MAX_CONTENT_TYPE_LENGTH",
    "MAX_KEY_SEGMENTS",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_ENTRIES",
    "MAX_NAME_LENGTH",
    "RESERVED_NAMES",
    "VERSION_KEY",
    "check_content_type",
    "check_metadata",
    "check_write",
    "split_version",
]
