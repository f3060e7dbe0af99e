"""16 threads over chaos providers: no deadlock, invariants hold, no lost counter updates."""

from __future__ import annotations

import threading

from failover import BreakerConfig, BreakerState, ExecutionConfig, FailoverStorage, Target
from failover.errors import FailoverError
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore

THREADS = 16
CALLS = 400


def test_sixteen_threads_over_flaky_targets() -> None:
    stores = [MemoryObjectStore() for _ in range(3)]
    for store in stores:
        store.put("k", b"v")
    chaos = [ChaosProvider(store, seed=i) for i, store in enumerate(stores)]
    chaos[0].configure(error_rate=0.3)
    chaos[1].configure(error_rate=0.05)
    storage = FailoverStorage(
        [Target(f"memory:{i}", c, priority=i) for i, c in enumerate(chaos)],
        breaker=BreakerConfig(consecutive_failures=5, open_base=0.001, open_max=0.01, minimum_calls=10),
        execution=ExecutionConfig(retry_burst=10_000, retry_floor_per_second=10_000),
        failback_after=0.0,
    )
    client_errors: list[BaseException] = []
    successes = [0] * THREADS
    start = threading.Barrier(THREADS)

    def worker(index: int) -> None:
        start.wait()
        for _ in range(CALLS):
            try:
                assert storage.get("k") == b"v"
                successes[index] += 1
            except FailoverError as exc:
                client_errors.append(exc)
            except BaseException as exc:  # anything else is a bug: keep it for the assert
                client_errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "deadlock: a worker never finished"
    assert client_errors == []
    assert sum(successes) == THREADS * CALLS

    status = storage.status()
    # Every attempt reached a provider and was counted exactly once, under contention.
    assert sum(row.calls for row in status.targets) == sum(c.calls for c in chaos)
    assert sum(row.errors for row in status.targets) == sum(sum(c.injected.values()) for c in chaos)
    for member in storage.pool.executor_for("get").router.members:
        assert member.breaker.state in set(BreakerState)
        assert len(member.breaker._trials) <= member.breaker.config.half_open_permits
    storage.close()
