"""The journal and the key locks of replicated writes, reached without blocking the loop.

An SQLite commit (``synchronous=FULL``: an fsync) takes milliseconds; on the loop it
would stall every other task.  `JournalWorker` runs each journal call on one dedicated
thread, so the calls of one facade's journal stay in order and SQLite sees one writer
thread.  A call handed to the worker always runs to its end: a caller that is cancelled
while waiting stops waiting, never the journal write halfway (`JournalWorker.wait`).

The per-key locks (`failover.replication.modes.KeyLocks`) are shared with the repairer
threads, and a repair holds its key's lock across one write to a target.  `hold` takes
a key's lock on a helper thread, never on the loop and never on the journal thread:
the journal thread must never wait for a lock, since the write that holds it may need
that thread to finish.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from failover.replication.journal import RepairJournal
from failover.replication.modes import KeyLocks

R = TypeVar("R")


class JournalWorker:
    """One thread that makes every journal call of an async facade, in order."""

    def __init__(self, journal: RepairJournal) -> None:
        self.journal = journal
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, call: Callable[..., R], *args: Any, **kwargs: Any) -> concurrent.futures.Future[R]:
        """Queue ``call(*args, **kwargs)`` on the journal thread (started on first use, and
        again after `close`: a write made after it must still be journaled)."""
        with self._lock:
            if self._thread is None:
                self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="failover-journal")
            return self._thread.submit(call, *args, **kwargs)

    async def wait(self, job: concurrent.futures.Future[R]) -> R:
        """The answer of ``job``; a cancelled caller leaves the job running to its end."""
        return await asyncio.shield(asyncio.wrap_future(job))

    async def run(self, call: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        return await self.wait(self.submit(call, *args, **kwargs))

    def close(self) -> None:
        """Let the thread go once the calls already queued are made (none is dropped)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=False)


class Held:
    """A key's lock, held.  Let go when the block that took it ends (`releasing`), or, once
    handed to a journal call made under it (`release_after`), when that call has ended."""

    def __init__(self, scope: contextlib.AbstractContextManager[None]) -> None:
        self._scope: contextlib.AbstractContextManager[None] | None = scope
        self._handed = False

    def release(self) -> None:
        if not self._handed:
            self.let_go()

    def release_after(self, job: concurrent.futures.Future[Any]) -> None:
        """Let the lock go once ``job`` has ended, on whichever thread ends it."""
        self._handed = True
        job.add_done_callback(self.let_go)

    def let_go(self, *_: object) -> None:
        scope, self._scope = self._scope, None  # at most once, whoever comes first
        if scope is not None:
            scope.__exit__(None, None, None)


async def hold(locks: KeyLocks, key: str) -> Held:
    """Take ``locks(key)`` on a helper thread.  A caller cancelled while it waits leaves
    nothing held: the lock, once the thread gets it, is let go at once."""
    scope = locks(key)
    taking = asyncio.get_running_loop().run_in_executor(None, scope.__enter__)
    held = Held(scope)
    try:
        await asyncio.shield(taking)
    except BaseException:
        taking.add_done_callback(lambda f: None if f.cancelled() or f.exception() else held.let_go())
        raise
    return held


@contextlib.contextmanager
def releasing(held: Held) -> Iterator[Held]:
    """``held``, let go on leaving the block unless a journal call took it over."""
    try:
        yield held
    finally:
        held.release()


__all__ = ["Held", "JournalWorker", "hold", "releasing"]
