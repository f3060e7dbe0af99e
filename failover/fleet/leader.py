"""Leader locks: only one controller of a fleet acts at a time; fencing tokens refuse the rest.

`FileLeaderLock` holds an exclusive ``flock`` on a file: it works between processes
on one machine and is released by the kernel if the holder dies, so a crashed leader
never wedges the others.  A fleet across machines needs a shared lock (Redis).

A lease alone cannot stop a leader that was paused (SIGSTOP, a long GC, a VM migration,
a partition) past its lease: it wakes up believing it still leads and writes.  So each
acquisition of a `FencingLock` hands out a **fencing token**, larger than every token
handed out before, and a fenced write (`FencedDnsZone.upsert_fenced`) carries it.  The
zone keeps the largest token written so far in a TXT record beside the record,
``_failover-fence.<name>``, changed in the same atomic step as the record, and refuses
a write whose token is smaller (`failover.errors.Fenced`).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from failover.capabilities import DnsZone, Record
from failover.errors import ConfigError, Fenced, InvalidInput, InvalidRequest

# The fence record's owner is the record's name under this label: a leading underscore
# keeps it out of host names (BIND's check-names allows it for TXT), and a name of its
# own keeps it apart from a CNAME, which may have no other data beside it.
FENCE_LABEL = "_failover-fence"
FENCE_TTL = 60  # seconds; resolvers never need the fence, so its TTL hardly matters


class LeaderLock(Protocol):
    def try_acquire(self) -> bool:
        """True if this process holds (or just took) the lock; never blocks."""
        ...

    def release(self) -> None: ...


@runtime_checkable
class FencingLock(LeaderLock, Protocol):
    """A `LeaderLock` whose every acquisition gets a fencing token."""

    @property
    def token(self) -> int | None:
        """The token of the current hold (>= 1); None when this object does not hold the lock.
        Renewing a hold keeps its token; a new acquisition gets a larger one."""
        ...

    def advance(self, token: int) -> None:
        """Make every later acquisition's token larger than ``token``: a controller fenced
        by a token its lock never handed out (the lock's counter was lost) catches up."""
        ...


@runtime_checkable
class FencedDnsZone(DnsZone, Protocol):
    def upsert_fenced(self, record: Record, token: int, *, seen: int | None = None) -> Record:
        """`upsert_record`, and the fence record set to ``token`` in the same atomic change,
        unless the fence holds a larger token: then `failover.errors.Fenced`, and nothing
        changes.  ``seen`` is the fence token the caller saw last (0: no fence), which
        spares a zone that can use it a read; a wrong one costs a read and a retry."""
        ...


def fence_name(name: str) -> str:
    """The fence record's name for an absolute record name: ``_failover-fence.api.example.com.``."""
    return f"{FENCE_LABEL}.{name}"


def fence_record(name: str, token: int, value: str | None = None) -> Record:
    """The fence TXT record of absolute record name ``name``, holding ``token`` (or ``value``,
    which must start with the token, for a zone that adds to it)."""
    return Record(fence_name(name), "TXT", FENCE_TTL, (value or str(token),))


def fence_token(record: Record) -> int:
    """The token a fence record holds: its one value's first word, in decimal.  Anything
    else is an `InvalidRequest`: a fence of unknown meaning is never overwritten."""
    words = record.values[0].split() if len(record.values) == 1 else []
    if not words or not words[0].isascii() or not words[0].isdigit():
        raise InvalidRequest(
            f"{record.name} TXT holds {record.values!r}, not a fencing token: delete it if nothing else wrote it",
            operation="upsert_fenced",
        )
    return int(words[0])


def fenced(what: str, token: int, current: int) -> Fenced:
    """The `Fenced` error for a write of ``what`` (``"api.example.com. A"``) refused because
    its fence holds ``current``, larger than the writer's ``token``."""
    return Fenced(
        f"upsert_fenced {what}: refused, a newer leader holds the record (fencing token {current} "
        f"in {FENCE_LABEL}, this writer's is {token})",
        token=token,
        current=current,
        operation="upsert_fenced",
    )


def check_token(token: int, seen: int | None = None) -> None:
    """`InvalidInput` unless ``token`` is an int >= 1 and ``seen`` None or an int >= 0."""
    if isinstance(token, bool) or not isinstance(token, int) or token < 1:
        raise InvalidInput(f"token must be an int >= 1 (a leader lock's fencing token), not {token!r}")
    if seen is not None and (isinstance(seen, bool) or not isinstance(seen, int) or seen < 0):
        raise InvalidInput(f"seen must be None or an int >= 0 (0: no fence yet), not {seen!r}")


class FileLeaderLock:
    """A `FencingLock` on one machine: ``flock`` on ``path``, tokens from ``path + ".fence"``.

    The token counter is a file of its own, changed under its own ``flock``, so that
    `advance` works whoever holds the lock.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.fence_path = self.path + ".fence"
        self._fd: int | None = None
        self._token: int | None = None
        self._mutex = threading.Lock()
        for where in (self.path, self.fence_path):
            try:
                # Open now so that a path that cannot be written fails at construction.
                os.close(os.open(where, os.O_RDWR | os.O_CREAT, 0o644))
            except OSError as exc:
                raise ConfigError(f"cannot use {where!r} as a leader lock: {exc.strerror}") from exc

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._fd is not None:
                return True
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            try:
                self._token = self._bump(lambda count: count + 1)
            except BaseException:
                os.close(fd)  # closing the file lets the flock go
                raise
            self._fd = fd
            return True

    def release(self) -> None:
        with self._mutex:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None
                self._token = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    @property
    def token(self) -> int | None:
        return self._token

    def advance(self, token: int) -> None:
        check_token(token)
        self._bump(lambda count: max(count, token))

    def _bump(self, change: Callable[[int], int]) -> int:
        """Apply ``change`` to the counter under its flock; return the new count."""
        fd = os.open(self.fence_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held for one read and one write: never long
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            count = int(text) if text.isdigit() else 0
            new = change(count)
            data = f"{new}\n".encode()
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
            return new
        finally:
            os.close(fd)  # also lets the flock go

    def __repr__(self) -> str:
        return f"FileLeaderLock({self.path!r}, held={self.held}, token={self._token})"


__all__ = [
    "FENCE_LABEL",
    "FENCE_TTL",
    "FencedDnsZone",
    "FencingLock",
    "FileLeaderLock",
    "LeaderLock",
    "check_token",
    "fence_name",
    "fence_record",
    "fence_token",
    "fenced",
]
