"""The drainer: runs repair passes (`failover.replication.repair`) on a daemon thread.

Woken by every journaled write and at least every ``drain_interval`` seconds.  Stopping
it never waits for a whole pass: the pass sees the stop before its next repair.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

from failover.replication.repair import DrainReport

logger = logging.getLogger("failover.replication.repair")


class Drainer:
    """Runs ``drain`` on a daemon thread: at once when woken, else every ``interval`` seconds."""

    def __init__(self, drain: Callable[[threading.Event | None], DrainReport], interval: float) -> None:
        self._drain = drain
        self._interval = interval
        self._wake = threading.Event()
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self.passes = 0
        self.last: DrainReport | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def run_once(self, stop: threading.Event | None = None) -> DrainReport:
        """One pass, on the caller's thread (what the worker loop does each time); the
        pass ends early once ``stop`` is set."""
        try:
            self.last = self._drain(stop)
        except Exception:  # a bug in one pass must not kill the worker: log, retry later
            logger.exception("repair pass failed")
            self.last = DrainReport(remaining=-1)
        self.passes += 1
        return self.last

    def start(self) -> None:
        if self.running:
            return
        stop = threading.Event()
        self._stop = stop
        self._thread = threading.Thread(target=self._loop, args=(stop,), name="failover-drainer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask the worker to stop and wait up to ``timeout`` seconds for it.  The pass in
        flight ends before its next repair; a repair in flight ends at its attempt
        timeout, on the daemon thread.  True when the worker has ended."""
        thread, stop = self._thread, self._stop
        if thread is None or stop is None:
            return True
        stop.set()
        self._wake.set()
        if thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = self._stop = None
        return not thread.is_alive()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            report = self.run_once(stop)
            if stop.is_set():
                return
            if report.remaining > 0 and report.repaired > 0:
                continue  # progress and more to do: go on without waiting
            self._wake.wait(self._interval if math.isfinite(self._interval) else None)


__all__ = ["Drainer"]
