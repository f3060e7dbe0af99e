"""The worker threads of hedged and time-limited attempts (`failover.execution.workers`).

Jobs block on events the tests set, never on sleeps."""

from __future__ import annotations

import logging
import threading
from queue import SimpleQueue

import pytest

from failover.errors import ConfigError, Unavailable
from failover.execution.workers import Workers

WAIT = 10.0  # a bound on waits that only a broken pool reaches


def test_a_job_runs_on_a_named_worker_thread() -> None:
    workers = Workers(4, "failover-attempt")
    ran: SimpleQueue[str] = SimpleQueue()
    workers.submit(lambda: ran.put(threading.current_thread().name))
    assert ran.get(timeout=WAIT) == "failover-attempt-0"
    workers.close()


def test_an_idle_worker_takes_the_next_job_instead_of_a_new_thread() -> None:
    workers = Workers(4, "w")
    names: SimpleQueue[str] = SimpleQueue()
    for _ in range(5):
        workers.submit(lambda: names.put(threading.current_thread().name))
        names.get(timeout=WAIT)  # each job ends before the next is submitted
    assert len(workers) == 1
    workers.close()


def test_threads_start_on_demand_up_to_the_limit_and_later_jobs_wait_their_turn() -> None:
    workers = Workers(2, "w")
    release = threading.Event()
    started: SimpleQueue[int] = SimpleQueue()
    finished: SimpleQueue[int] = SimpleQueue()

    def job(n: int) -> None:
        started.put(n)
        release.wait(WAIT)
        finished.put(n)

    for n in range(3):
        workers.submit(lambda n=n: job(n))
    assert {started.get(timeout=WAIT), started.get(timeout=WAIT)} == {0, 1}
    assert len(workers) == 2  # the third job waits for a thread
    assert started.empty()
    release.set()
    assert sorted(finished.get(timeout=WAIT) for _ in range(3)) == [0, 1, 2]
    assert len(workers) == 2
    workers.close()


def test_a_job_that_raises_is_logged_and_the_worker_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    workers = Workers(1, "w")
    done: SimpleQueue[str] = SimpleQueue()

    def broken() -> None:
        raise RuntimeError("the job's own bug")

    with caplog.at_level(logging.ERROR, logger="failover.execution"):
        workers.submit(broken)
        workers.submit(lambda: done.put("next"))
        assert done.get(timeout=WAIT) == "next"
    assert len(workers) == 1
    assert any("a job raised" in record.getMessage() for record in caplog.records)
    workers.close()


def test_close_lets_submitted_jobs_run_then_refuses_new_ones() -> None:
    workers = Workers(1, "w")
    release = threading.Event()
    done: SimpleQueue[str] = SimpleQueue()
    workers.submit(lambda: release.wait(WAIT))
    workers.submit(lambda: done.put("queued before close"))
    workers.close()
    release.set()
    assert done.get(timeout=WAIT) == "queued before close"
    with pytest.raises(Unavailable, match="closed"):
        workers.submit(lambda: None)
    workers.close()  # twice is harmless


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4"])
def test_max_workers_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises(ConfigError, match="max_workers"):
        Workers(bad, "w")  # type: ignore[arg-type]
