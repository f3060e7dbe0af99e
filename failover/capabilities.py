"""What a provider can do: small protocols, one per capability, and plain data types.

A provider implements the protocols it can (structural typing: no base class) and may
narrow what it supports with a ``supported_operations`` attribute.  The facades check
capabilities when they are built and skip a target that lacks an operation at call time.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, runtime_checkable

from failover.errors import InvalidInput

MAX_KEY_BYTES = 1024
# Azure Blob Storage: at most this many '/'-separated segments in a blob name.
MAX_KEY_SEGMENTS = 254
# C0 and C1 controls and DEL; lone surrogates (not UTF-8); noncharacters (Azure fails to
# list U+FFFF); a backslash (Azure turns it into '/').
_NONCHARACTERS = "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17))
_UNPORTABLE_CHARACTER = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef" + re.escape(_NONCHARACTERS) + "\\\\]"
)


class Capability(str, enum.Enum):
    OBJECT_STORE = "object_store"
    DNS_ZONE = "dns_zone"
    COMPUTE = "compute"


# ---------------------------------------------------------------- object storage


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What ``head`` returns.  ``checksum`` is ``"sha256:<hex>"`` when the writer recorded one.

    ``etag`` is an opaque token for this write of the object, the one to pass back as
    ``put(if_match=...)`` on the same store: S3's and Azure's HTTP ETag (quoted), GCS's
    object generation (decimal digits), the memory store's own token.  Tokens of
    different stores are not comparable.
    """

    key: str
    size: int
    etag: str | None = None
    checksum: str | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    modified: float | None = None
    # The replication version (`failover.replication.versioning`), kept out of ``metadata``.
    version: str | None = None


@runtime_checkable
class ObjectStore(Protocol):
    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_match: str | None = None,
        if_absent: bool = False,
    ) -> ObjectInfo:
        """Write the object; with a condition, only if it holds when the write lands.

        ``if_match``: only if the object's current ``etag`` is this one (from an earlier
        `head`, `put` or `list` on this store); ``if_absent``: only if no object has the
        key.  A condition that does not hold raises `failover.errors.PreconditionFailed`
        (permanent) and leaves the stored object as it was; ``if_match`` on a missing
        object fails alike.  Both at once, or a malformed token, is `InvalidInput`
        before any request (`check_condition`).
        """
        ...

    def get(self, key: str) -> bytes: ...

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``; ``end`` past the object's size is cut to it."""
        ...

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Lazily yield the object's bytes in non-empty chunks of at most ``chunk_size``.

        The object is looked up on the call itself: `NotFound` (and any other failure to
        open the object) is raised before the iterator is returned, so a facade can fail
        over before handing anything to the caller.  The recorded sha256 checksum, when
        present, is verified as the last chunk is read: a mismatch raises
        `failover.errors.IntegrityError` from the iterator, before that last chunk is
        yielded.  An empty object yields no chunks.  ``chunk_size`` must be an int >= 1
        (`InvalidInput`).  Close the iterator (or exhaust it) to release its connection.
        """
        ...

    def head(self, key: str) -> ObjectInfo: ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Lazily, in key order, every object whose key starts with ``prefix``."""
        ...

    def delete(self, key: str) -> None:
        """Idempotent: deleting a missing key succeeds."""
        ...

    def copy(self, src: str, dst: str) -> ObjectInfo: ...


# ---------------------------------------------------------------- DNS


@dataclass(frozen=True, slots=True)
class Record:
    """One record set: every value of one name and type."""

    name: str
    type: str
    ttl: int
    values: tuple[str, ...]


@runtime_checkable
class DnsZone(Protocol):
    @property
    def zone(self) -> str: ...

    def list_records(self) -> Iterator[Record]: ...

    def get_record(self, name: str, type: str) -> Record: ...

    def upsert_record(self, record: Record) -> Record: ...

    def delete_record(self, name: str, type: str) -> None:
        """Idempotent: deleting a missing record set succeeds."""
        ...


# ---------------------------------------------------------------- compute


class InstanceState(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    name: str
    instance_type: str
    image: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Instance:
    id: str
    name: str
    state: InstanceState
    region: str
    instance_type: str = ""
    image: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    addresses: tuple[str, ...] = ()
    created: float | None = None


@runtime_checkable
class Compute(Protocol):
    def list_instances(self, tags: Mapping[str, str] | None = None) -> Iterator[Instance]: ...

    def describe_instance(self, instance_id: str) -> Instance: ...

    def start_instance(self, instance_id: str) -> Instance: ...

    def stop_instance(self, instance_id: str) -> Instance: ...

    def create_instance(self, spec: InstanceSpec) -> Instance: ...

    def terminate_instance(self, instance_id: str) -> None: ...


# ---------------------------------------------------------------- declarations

OPERATIONS: Mapping[Capability, frozenset[str]] = {
    Capability.OBJECT_STORE: frozenset(
        {"put", "get", "get_range", "get_stream", "head", "list", "delete", "copy"}
    ),
    Capability.DNS_ZONE: frozenset({"list_records", "get_record", "upsert_record", "delete_record"}),
    Capability.COMPUTE: frozenset(
        {
            "list_instances",
            "describe_instance",
            "start_instance",
            "stop_instance",
            "create_instance",
            "terminate_instance",
        }
    ),
}

# Operations that may be repeated on another target without changing the outcome.
# create_instance is the one that is not: a blind retry could start two machines.
NOT_IDEMPOTENT: frozenset[str] = frozenset({"create_instance"})

def supported_operations(provider: object) -> frozenset[str]:
    """Operations the provider offers: its own declaration, or every method it has."""
    declared = getattr(provider, "supported_operations", None)
    if declared is not None:
        return frozenset(declared)
    every = frozenset().union(*OPERATIONS.values())
    return frozenset(op for op in every if callable(getattr(provider, op, None)))


def capabilities_of(provider: object) -> frozenset[Capability]:
    """Capabilities for which the provider offers at least one operation."""
    ops = supported_operations(provider)
    return frozenset(cap for cap, cap_ops in OPERATIONS.items() if ops & cap_ops)


_SHORT_KEY = MAX_KEY_BYTES // 4  # this many characters cannot exceed the byte limit


def check_key(key: str) -> None:
    """`validate_key` for the hot path: a few C calls when the key is fine.

    ``isprintable`` is False for every control character, lone surrogate and
    noncharacter (and for some legal characters, such as a no-break space, which the
    full check then accepts).
    """
    if (
        key.__class__ is not str
        or not 0 < len(key) <= _SHORT_KEY
        or not key.isprintable()
        or "\\" in key
        or "./" in key
        or key[-1] == "."
        or key.count("/") >= MAX_KEY_SEGMENTS
    ):
        validate_key(key)


# How many checked keys a facade remembers (`remember_key`).
CHECKED_KEYS = 4096


def remember_key(checked: set[str], key: str) -> None:
    """`check_key`, then note ``key`` in ``checked``, a facade's set of keys that passed.

    A hot read or write tests ``key in checked`` instead of checking the key again;
    the set is emptied when full, so it stays small.  A bad key raises and is never
    remembered.
    """
    check_key(key)
    if len(checked) >= CHECKED_KEYS:
        checked.clear()
    checked.add(key)


def validate_key(key: str) -> str:
    """Reject keys that some cloud refuses or changes, before any provider sees them.

    The portable key rules (`failover.portable`): 1 to `MAX_KEY_BYTES` bytes of UTF-8;
    no control character (C0, DEL, C1), lone surrogate or noncharacter; no backslash
    (Azure stores it as '/'); no path segment ending with '.' (Azure drops trailing dots,
    so '.' and '..' segments cannot be stored); at most `MAX_KEY_SEGMENTS` segments.
    """
    if not isinstance(key, str):
        raise InvalidInput(f"object key must be a str, not {type(key).__name__}")
    if not key:
        raise InvalidInput("object key must not be empty")
    bad = _UNPORTABLE_CHARACTER.search(key)
    if bad is not None:
        what = "a backslash" if bad.group() == "\\" else f"the character U+{ord(bad.group()):04X}"
        raise InvalidInput(
            f"object key {key!r} contains {what}: keys must not hold control characters, lone "
            "surrogates, noncharacters or backslashes (not stored alike by every cloud)"
        )
    # A str of at most MAX_KEY_BYTES / 4 characters cannot exceed the limit: skip encoding.
    if len(key) > _SHORT_KEY and len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidInput(f"object key is longer than {MAX_KEY_BYTES} bytes in UTF-8")
    segments = key.split("/")
    if any(segment.endswith(".") for segment in segments):
        raise InvalidInput(
            f"object key {key!r} has a path segment ending with '.': Azure cannot store "
            "'.' or '..' segments or trailing dots"
        )
    if len(segments) > MAX_KEY_SEGMENTS:
        raise InvalidInput(f"object key has {len(segments)} path segments; Azure allows at most {MAX_KEY_SEGMENTS}")
    return key


def check_condition(if_match: object, if_absent: object) -> None:
    """A conditional put's arguments: ``if_match`` None or a non-empty etag, ``if_absent`` a
    bool, not both.  ``"*"`` is refused: GCS cannot express "any existing object"."""
    if if_absent is not True and if_absent is not False:
        raise InvalidInput(f"if_absent must be a bool, not {type(if_absent).__name__}")
    if if_match is None:
        return
    if not isinstance(if_match, str):
        raise InvalidInput(f"if_match must be a str etag or None, not {type(if_match).__name__}")
    if not if_match.strip() or if_match.strip() == "*":
        raise InvalidInput(f"if_match must be an etag that head() or put() returned, not {if_match!r}")
    if if_absent:
        raise InvalidInput("pass if_match or if_absent, not both: an object cannot both exist and be absent")


def validate_chunk_size(chunk_size: int) -> None:
    """A streamed read's chunk size: an int of at least one byte."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise InvalidInput(f"chunk_size must be an int, not {type(chunk_size).__name__}")
    if chunk_size < 1:
        raise InvalidInput(f"chunk_size must be at least 1, not {chunk_size}")


def validate_range(start: int, end: int) -> None:
    """A byte range ``[start, end)``: two ints (not bools or floats), 0 <= start <= end."""
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"range {name} must be an int, not {type(value).__name__}")
    if start < 0 or end < start:
        raise InvalidInput(f"invalid byte range [{start}, {end}): need 0 <= start <= end")


__all__ = [
    "CHECKED_KEYS",
    "MAX_KEY_BYTES",
    "MAX_KEY_SEGMENTS",
    "NOT_IDEMPOTENT",
    "OPERATIONS",
    "Capability",
    "Compute",
    "DnsZone",
    "Instance",
    "InstanceSpec",
    "InstanceState",
    "ObjectInfo",
    "ObjectStore",
    "Record",
    "capabilities_of",
    "check_condition",
    "check_key",
    "remember_key",
    "supported_operations",
    "validate_chunk_size",
    "validate_key",
    "validate_range",
]
