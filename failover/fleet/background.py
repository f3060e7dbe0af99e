"""Work a caller must never wait for: saving breaker states to a shared store.

`LatestWriter` takes ``put(name, value)`` on the caller's thread (a dict write and an event
set) and writes on a thread of its own.  Values queued for the same name coalesce: only the
newest is written, so a slow or blackholed store delays the fleet's view, never a call,
and a burst of transitions costs one write per breaker.
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
        write: Callable[[str, V], None],
        *,
        thread_name: str = "failover-store-writer",
        merge: Callable[[V, V], V] | None = None,
    ) -> None:
        self._write = write
        # Values for one name are combined with ``merge(queued, new)`` instead of the
        # newest replacing the rest: for counts, which must add up.
        self._merge = merge
        self._thread_name = thread_name
        self._pending: dict[str, V] = {}
        self._writing: frozenset[str] = frozenset()  # the names of the batch being written
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
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._thread_name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def holds(self, name: str) -> bool:
        """Whether a value for ``name`` is queued or being written: what the store holds
        for it now is older than what this process decided."""
        with self._cond:
            return name in self._pending or name in self._writing

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything put so far is written (or failed); False on timeout."""
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
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                if self._closed and not self._pending:
                    return
                batch, self._pending = self._pending, {}
                self._busy = True
                self._writing = frozenset(batch)
            try:
                for name, value in batch.items():
                    try:
                        self._write(name, value)
                    except Exception:  # the writer reports its own failures; this one was a bug
                        logger.exception("writing %s to the shared store failed", name)
            finally:
                with self._cond:
                    self._busy = False
                    self._writing = frozenset()
                    self._cond.notify_all()


__all__ = ["LatestWriter"]
