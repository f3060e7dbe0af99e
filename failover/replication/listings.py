"""Listings under a write mode, as the journal has them.

A target serves a listing from what it holds.  While it still owes writes (it was down
when they were made, and the repair has not reached it yet), its listing lacks the
objects written meanwhile and still shows the ones deleted since.  So the facades answer
each key under the prefix that the serving target owes with a read of that key instead
(``head``, which avoids the targets that owe it): listed as that read finds it, left out
where it is deleted.  A key that no target can confirm fails the listing with that read's
error, as a read of the key would fail, rather than being left out.

`OwedKeys` keeps the bookkeeping of such a merge, shared by the sync and async listings;
they make the reads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from failover.replication.anti_entropy import MARKER_PREFIX


class OwedKeys:
    """The keys under ``prefix`` that the target serving a listing owes, in key order.

    Call `serving` when a target starts (or resumes) the listing, `due` with each key it
    lists, and `rest` when it has listed everything: each returns the owed keys to read
    at that point of the listing."""

    def __init__(self, owing: Mapping[str, Mapping[str, str]], prefix: str) -> None:
        self._owing = owing
        self._prefix = prefix
        self._owed: deque[str] = deque()
        self._last: str | None = None  # the last key placed in the listing

    def serving(self, target: str) -> None:
        """``target`` serves the listing from here on, past the keys already placed."""
        prefix, last = self._prefix, self._last
        # A snapshot in one C call: other threads add and settle rows meanwhile.
        rows = list(self._owing.items())
        owed = [
            key
            for key, owers in rows
            if target in owers
            and key.startswith(prefix)
            and (last is None or key > last)
            and not key.startswith(MARKER_PREFIX)
        ]
        owed.sort()
        self._owed = deque(owed)

    def due(self, listed: str) -> tuple[list[str], bool]:
        """The owed keys to read before ``listed`` takes its place (those up to it), and
        whether ``listed`` is one of them (so the read's answer replaces it)."""
        owed = self._owed
        self._last = listed
        if not owed or owed[0] > listed:
            return [], False
        keys: list[str] = []
        while owed and owed[0] <= listed:
            keys.append(owed.popleft())
        return keys, keys[-1] == listed

    def rest(self) -> list[str]:
        """The owed keys past the last one listed: read them after the listing's end."""
        keys = list(self._owed)
        self._owed.clear()
        return keys


__all__ = ["OwedKeys"]
