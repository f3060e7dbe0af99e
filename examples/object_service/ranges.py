"""HTTP byte ranges (RFC 9110, section 14) for ``GET /objects/KEY``: one range per request."""

from __future__ import annotations

import re
from dataclasses import dataclass

from failover.errors import InvalidInput

# bytes=START-END, bytes=START- (to the end) or bytes=-SUFFIX (the last SUFFIX bytes).
_SINGLE = re.compile(r"bytes=(\d*)-(\d*)")


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


def parse_range(header: str, size: int) -> ByteRange:
    """The one range ``header`` asks for, cut to ``size``; else `RangeNotSatisfiable`.

    A header this service cannot serve (several ranges, another unit, bad syntax) is
    refused too, rather than answered with the whole object the client did not ask for.
    """
    match = _SINGLE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        raise RangeNotSatisfiable(f"Range: expected one 'bytes=START-END' range, got {header[:64]!r}", size=size)
    first, last = match.group(1), match.group(2)
    if first == "":  # a suffix: the last N bytes
        start, end = max(size - int(last), 0), size
        if int(last) == 0:
            start = end = size
    else:
        start = int(first)
        end = size if last == "" else min(int(last) + 1, size)
        if last != "" and int(last) < start:
            raise RangeNotSatisfiable(f"Range: the last byte comes before the first in {header[:64]!r}", size=size)
    if start >= end:
        raise RangeNotSatisfiable(f"Range: {header[:64]!r} is past the end of a {size}-byte object", size=size)
    return ByteRange(start, end, size)


__all__ = ["ByteRange", "RangeNotSatisfiable", "parse_range"]
