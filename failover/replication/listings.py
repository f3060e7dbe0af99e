"""Listings under a write mode, as the journal has them.

A target serves a listing from what it holds.  While it still owes writes (it was down
when they were made, and the repair has not reached it yet), its listing lacks the
objects written meanwhile and still shows the ones deleted since.  So the facades answer
each key under the prefix that the serving target owes with a read of that key instead
(``head``, which avoids the targets that owe it): listed as that read finds it, left out
where it is deleted.  A key that no target can confirm fails the listing with that read's
error, as a read of the key would fail, rather than being left out.

`owed_keys` and `due` are the bookkeeping of such a merge, shared by the sync and async
listings; they make the reads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from failover.replication.anti_entropy import MARKER_PREFIX


def owed_keys(owing: Mapping[str, Mapping[str, str]], target: str, prefix: str, past: str | None) -> deque[str]:
    """The keys under ``prefix`` after ``past`` that ``target`` owes, in key order: those
    to merge into the listing ``target`` serves from there on."""
    # A snapshot in one C call: other threads add and settle rows meanwhile.
    rows = list(owing.items())
    owed = [
        key
        for key, owers in rows
        if target in owers
        and key.startswith(prefix)
        and (past is None or key > past)
        and not key.startswith(MARKER_PREFIX)
    ]
    owed.sort()
    return deque(owed)


def due(owed: deque[str], listed: str) -> tuple[list[str], bool]:
    """Take from ``owed`` the keys to read before ``listed`` takes its place (those up to
    it), and tell whether ``listed`` is one of them (the read's answer replaces it)."""
    keys: list[str] = []
    while owed and owed[0] <= listed:
        keys.append(owed.popleft())
    return keys, bool(keys) and keys[-1] == listed


__all__ = ["due", "owed_keys"]
