"""Leader locks: only one controller of a fleet acts at a time.

`FileLeaderLock` holds an exclusive ``flock`` on a file: it works between processes
on one machine and is released by the kernel if the holder dies, so a crashed leader
never wedges the others.  A fleet across machines needs a shared lock (Redis).
"""

from __future__ import annotations

import fcntl
import os
import threading
from typing import Protocol

from failover.errors import ConfigError


class LeaderLock(Protocol):
    def try_acquire(self) -> bool:
        """True if this process holds (or just took) the lock; never blocks."""
        ...

    def release(self) -> None: ...


class FileLeaderLock:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._fd: int | None = None
        self._mutex = threading.Lock()
        try:
            # Open now so that a path that cannot be written fails at construction.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644))
        except OSError as exc:
            raise ConfigError(f"cannot use {self.path!r} as a leader lock: {exc.strerror}") from exc

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
            self._fd = fd
            return True

    def release(self) -> None:
        with self._mutex:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __repr__(self) -> str:
        return f"FileLeaderLock({self.path!r}, held={self.held})"


__all__ = ["FileLeaderLock", "LeaderLock"]
