"""A fleet of processes and a target that dies: how many calls reach it before all avoid it.

    python -m benchmarks.fleet [--processes 8] [--threshold 5] [--out benchmarks/results/fleet.json]

Starts its own redis-server on a free loopback port.  Each of ``--processes`` processes
builds a `FailoverStorage` over two targets (a primary that dies at one wall-clock
instant for every process, and a healthy backup) and reads in a loop, paced at
``--rate`` calls per second.  It counts the calls that still reach the dead primary.
Side by side, in the same run:

* local breakers: each process learns alone (the expected total is processes x threshold);
* the Redis store: a breaker that opens is pushed to every process (pub/sub);
* each of those twice: the primary failing fast (connection refused) and failing slowly
  (each call hangs ``--hang`` seconds before it fails, like a blackholed region).

Then the hot path: a routed read with the Redis store against the memory store, in
interleaved samples (fastest of each), as a ratio: a shared store must cost nothing on
a call that changes no state.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
import timeit
import uuid
from pathlib import Path
from typing import Any

from failover import BreakerConfig, FailoverStorage, Target
from failover.breaker.store import MemoryBreakerStore
from failover.errors import Unavailable
from failover.providers.memory import MemoryObjectStore

KEY = "reports/q3.pdf"


class DyingStore(MemoryObjectStore):
    """A memory store whose reads fail from ``dies_at`` (wall clock) on, each after ``hang`` s."""

    def __init__(self, dies_at: float, hang: float) -> None:
        super().__init__()
        self.dies_at, self.hang, self.reached = dies_at, hang, 0

    def get(self, key: str) -> bytes:
        if time.time() < self.dies_at:
            return super().get(key)
        self.reached += 1
        if self.hang:
            time.sleep(self.hang)
        raise Unavailable("connection refused", target="primary", operation="get")


def _storage(primary: MemoryObjectStore, breaker: BreakerConfig, store: Any) -> FailoverStorage:
    backup = MemoryObjectStore()
    for provider in (primary, backup):
        provider.put(KEY, b"x" * 1024)
    targets = [Target("primary", primary), Target("backup", backup, priority=1)]
    return FailoverStorage(targets, breaker=breaker, breaker_store=store)


def _one_process(args: tuple[str | None, str, int, float, float, float, float], results: Any) -> None:
    url, prefix, threshold, dies_at, hang, rate, seconds = args
    breaker = BreakerConfig(
        consecutive_failures=threshold, failure_rate=None, open_base=600.0, open_max=600.0, jitter=0.0
    )
    store = None
    if url is not None:
        from failover.fleet.redis_store import RedisBreakerStore, connect

        store = RedisBreakerStore(connect(url), prefix=prefix, sync_interval=600.0)
    primary = DyingStore(dies_at, hang)
    with _storage(primary, breaker, store) as facade:
        interval, next_call, stop = 1.0 / rate, time.monotonic(), dies_at + seconds
        while time.time() < stop:
            facade.get(KEY)  # the backup answers when the primary fails: no caller error
            next_call += interval
            pause = next_call - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    results.put(primary.reached)


def reached_dead_target(url: str | None, processes: int, threshold: int, hang: float, rate: float) -> int:
    """Calls that reached the primary after it died, summed over every process."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    dies_at = time.time() + 3.0  # every process started and warm by then
    prefix = f"fleet-bench:{uuid.uuid4().hex}:"
    args = (url, prefix, threshold, dies_at, hang, rate, 1.0 + hang * threshold * 2)
    workers = [context.Process(target=_one_process, args=(args, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    total = sum(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(30)
    return total


def hot_path(url: str, calls: int, repeat: int) -> dict[str, float]:
    from failover.fleet.redis_store import RedisBreakerStore, connect

    breaker = BreakerConfig()
    variants = {
        "memory store": _storage(MemoryObjectStore(), breaker, MemoryBreakerStore()),
        "redis store": _storage(MemoryObjectStore(), breaker, RedisBreakerStore(connect(url), prefix="hot:")),
    }
    best = dict.fromkeys(variants, float("inf"))
    for facade in variants.values():
        facade.start()
    try:
        for _ in range(repeat):
            for name, facade in variants.items():
                took = timeit.timeit(lambda f=facade: f.get(KEY), number=calls // repeat)  # type: ignore[misc]
                best[name] = min(best[name], took / (calls // repeat) * 1e9)
    finally:
        for facade in variants.values():
            facade.close()
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--threshold", type=int, default=5, help="consecutive failures that open a breaker")
    parser.add_argument("--rate", type=float, default=500.0, help="calls per second per process")
    parser.add_argument("--hang", type=float, default=0.05, help="seconds a slow failure takes")
    parser.add_argument("--calls", type=int, default=200_000, help="hot-path calls per variant in all")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/fleet.json"))
    args = parser.parse_args(argv)

    from failover.testing.redis import redis_local_server

    server = redis_local_server()
    try:
        server.start()
        runs = {}
        for failure, hang in (("fast", 0.0), ("slow", args.hang)):
            for sharing, url in (("local", None), ("redis", server.url)):
                runs[f"{sharing}, {failure} failure"] = reached_dead_target(
                    url, args.processes, args.threshold, hang, args.rate
                )
        hot = hot_path(server.url, args.calls, args.repeat)
    finally:
        server.close()

    goal = args.threshold + args.processes
    print(f"calls that reached the dead target ({args.processes} processes, threshold {args.threshold}):")
    for name, count in runs.items():
        print(f"  {name:<26} {count:6d}")
    print(f"  goal with a shared store: <= threshold + processes = {goal}")
    print("routed read, ns per call (fastest sample):")
    for name, ns in hot.items():
        print(f"  {name:<26} {ns:8.0f}")
    ratio = hot["redis store"] / hot["memory store"]
    print(f"ratio redis / memory store: {ratio:.2f} (goal <= 1.2)")
    figures = {
        "processes": args.processes,
        "threshold": args.threshold,
        "rate_per_process": args.rate,
        "hang_s": args.hang,
        "reached_dead_target": runs,
        "goal_reached": goal,
        "hot_path_ns": hot,
        "hot_path_redis_vs_memory": round(ratio, 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
