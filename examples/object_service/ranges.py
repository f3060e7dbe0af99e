"""HTTP byte ranges (RFC 9110, section 14) for ``GET /objects/KEY``: one range per request."""

from __future__ import annotations

import re
from dataclasses import dataclass

from failover.errors import InvalidInput

# One byte-range-spec: START-END, START- (to the end) or -SUFFIX (the last SUFFIX bytes).
_SPEC = re.compile(r"(\d*)-(\d*)")


class RangeNotSatisfiable(InvalidInput):
    """The Range header asks for no byte of the object: 416, with the object's ``size``."""

    kind = "range_not_satisfiable"

    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(message)
        self.size = size


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``[start, end)`` of an object of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def content_range(self) -> str:
        """The Content-Range header of a 206 (its last byte is inclusive)."""
        return f"bytes {self.start}-{self.end - 1}/{self.size}"


def parse_range(header: str, size: int) -> ByteRange | None:
    """The one range ``header`` asks for, cut to ``size``; None to send the whole object.

    RFC 9110 lets a server ignore a Range it will not serve, and makes it ignore one in a
    unit it does not know: another unit, several ranges (no multipart answers here), and
    bad syntax all get the whole object (200).  Only a well-formed range that starts past
    the end is `RangeNotSatisfiable` (416).
    """
    unit, equals, ranges = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    specs = [spec.strip() for spec in ranges.split(",") if spec.strip()]  # empty list elements are no range
    match = _SPEC.fullmatch(specs[0]) if len(specs) == 1 else None
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # a suffix: the last N bytes; satisfiable only when N > 0 and the object is not empty
        start, end = max(size - int(last), 0), size if int(last) > 0 else 0
    else:
        start = int(first)
        if last != "" and int(last) < start:  # an invalid spec, not an unsatisfiable one
            return None
        end = size if last == "" else min(int(last) + 1, size)
    if start >= end:
        raise RangeNotSatisfiable(f"Range: {header[:64]!r} asks for no byte of a {size}-byte object", size=size)
    return ByteRange(start, end, size)


__all__ = ["ByteRange", "RangeNotSatisfiable", "parse_range"]
