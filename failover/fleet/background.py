"""Work a caller must never wait for: saving breaker states to a shared store.

`LatestWriter` takes ``put(name, value)`` on the caller's thread (a dict write and an event
set) and writes on a thread of its own.  Values queued for the same name coalesce: only the
newest is written, so a slow or blackholed store delays the fleet's view, never a call,
and a burst of transitions costs one write per breaker.  A value the store could not
take (the write returned False) is written again after ``retry_after`` seconds unless a
newer one replaced it: a state decided during an outage reaches the fleet once the store
is back, instead of leaving it with the one before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")

logger = logging.getLogger(__name__)


class LatestWriter(Generic[V]):
    """Writes ``write(name, value)`` on a daemon thread, newest (or merged) value per name."""

    def __init__(
        self,
        write: Callable[[str, V], bool | None],
        *,
        thread_name: str = "failover-store-writer",
        merge: Callable[[V, V], V] | None = None,
        retry_after: float = 1.0,
        prepare: Callable[[], object] | None = None,
    ) -> None:
        self._write = write
        # Run on the thread before its first write (a script load, a pooled connection),
        # so the first value to write does not wait for them.
        self._prepare = prepare
        self._retry_after = retry_after
        # Values for one name are combined with ``merge(queued, new)`` instead of the
        # newest replacing the rest: for counts, which must add up.
        self._merge = merge
        self._thread_name = thread_name
        self._pending: dict[str, V] = {}
        self._writing: frozenset[str] = frozenset()  # the names of the batch being written
        self._unwritten: dict[str, V] = {}  # refused by the store: written again later
        self._busy = False  # a batch is being written
        self._closed = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def put(self, name: str, value: V) -> None:
        with self._cond:
            if self._closed:
                return
            queued = self._pending.pop(name, None)  # re-inserted last: names are written in the order they changed
            self._pending[name] = value if queued is None or self._merge is None else self._merge(queued, value)
            self._start()
            self._cond.notify_all()

    def start(self) -> None:
        """Start the writer thread now, and prepare it, rather than with the first value:
        the first value is often a breaker's first failure, when every moment counts."""
        with self._cond:
            if not self._closed:
                self._start()

    def _start(self) -> None:  # under the condition's lock
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self._thread_name, daemon=True)
            self._thread.start()

    def holds(self, name: str) -> bool:
        """Whether a value for ``name`` is queued or being written: what the store holds
        for it now is older than what this process decided."""
        with self._cond:
            return name in self._pending or name in self._writing or name in self._unwritten

    @property
    def unwritten(self) -> int:
        """Values the store refused, waiting to be written again."""
        with self._cond:
            return len(self._unwritten)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything put so far is written or refused (refused values are
        written again later, not waited for); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self, timeout: float = 1.0) -> None:
        """Write what is queued (within ``timeout``), then stop the thread."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        if self._prepare is not None:
            try:
                self._prepare()
            except Exception:  # only a head start: the writes themselves report failures
                logger.debug("preparing the shared store's writer failed", exc_info=True)
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            refused: dict[str, V] = {}
            try:
                for name, value in batch.items():
                    if self._written(name, value) is False:
                        refused[name] = value
            finally:
                with self._cond:
                    for name, value in refused.items():
                        if name not in self._pending:  # a newer value supersedes the refused one
                            self._unwritten[name] = value
                    self._busy = False
                    self._writing = frozenset()
                    self._cond.notify_all()

    def _next_batch(self) -> dict[str, V] | None:
        """What to write next: new values at once, refused ones after ``retry_after``;
        None once closed with nothing new."""
        with self._cond:
            while not self._pending and not self._closed:
                if self._unwritten and not self._cond.wait(self._retry_after):
                    break  # time to try the refused values again
                if not self._unwritten:
                    self._cond.wait()
            if self._closed and not self._pending:
                return None
            batch, self._unwritten = {**self._unwritten, **self._pending}, {}
            self._pending = {}
            self._busy = True
            self._writing = frozenset(batch)
            return batch

    def _written(self, name: str, value: V) -> bool | None:
        try:
            return self._write(name, value)
        except Exception:  # the writer reports its own failures; this one was a bug
            logger.exception("writing %s to the shared store failed", name)
            return None


__all__ = ["LatestWriter"]
