"""The worker threads that run hedged and time-limited attempts.

A hedged read hands its first attempt to a worker, so that the caller stays free to
take a faster hedge's answer; on a healthy target that hand-off is all the hedging
costs, so it must be as cheap as a hand-off between threads can be.
`concurrent.futures.ThreadPoolExecutor` builds a `Future` per job, with a condition
variable to wait on and a lock per callback; here a job is a plain callable that
reports its own outcome (the race's attempts put themselves on the race's queue), and
the only synchronisation is the job queue itself, a C `SimpleQueue`.  Side by side on
a 2 ms read, that halves the hand-off's cost (``benchmarks/hedged_reads.py``).

Threads start on demand, one for a job that finds no idle worker, up to
``max_workers``; beyond that, jobs wait their turn.  Workers are daemon threads: an
attempt abandoned on a blackholed target must not hold up the process's exit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from queue import SimpleQueue

from failover.errors import ConfigError, Unavailable

logger = logging.getLogger("failover.execution")

Job = Callable[[], object]


class Workers:
    """``Workers(max_workers, name)``: threads named ``name-N`` running submitted jobs."""

    def __init__(self, max_workers: int, name: str) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ConfigError(f"max_workers: must be an int >= 1, got {max_workers!r}")
        self.max_workers = max_workers
        self.name = name
        self._jobs: SimpleQueue[Job | None] = SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # workers waiting for a job, or about to
        self._closed = False

    def submit(self, job: Job) -> None:
        """Run ``job()`` on a worker; it must report its own outcome (what it raises is logged)."""
        with self._lock:
            if self._closed:
                raise Unavailable(f"{self.name}: the worker threads are closed", operation="submit")
            if self._idle:
                self._idle -= 1  # an idle worker takes it
            elif len(self._threads) < self.max_workers:
                self._start()
        self._jobs.put(job)

    def close(self) -> None:
        """Let every worker end once it is idle; jobs already submitted still run."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for _ in self._threads:
                self._jobs.put(None)

    def __len__(self) -> int:
        """Worker threads started so far."""
        return len(self._threads)

    def _start(self) -> None:
        thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self) -> None:
        jobs, lock = self._jobs, self._lock
        while True:
            job = jobs.get()
            if job is None:
                return
            try:
                job()
            except BaseException:  # a job's own failure is the job's to report: keep the worker
                logger.exception("%s: a job raised", self.name)
            with lock:
                self._idle += 1

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._idle} idle"
        return f"Workers({self.name!r}, {len(self._threads)}/{self.max_workers} threads, {state})"


__all__ = ["Workers"]
