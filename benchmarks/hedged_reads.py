"""Hedged reads: the happy path, a slow primary, and a slow primary a hedge cannot help.

    python benchmarks/hedged_reads.py [--reads 300] [--slow-ms 30] [--hedge-ms 5] [--out FILE]

All variants run in this one process, interleaved read by read, over memory targets
whose reads stand in for network calls by sleeping (``--io-ms`` for a normal read,
``--slow-ms`` for the slow primary).  Compare the ratios, not milliseconds across runs:

* ``unhedged``: `FailoverStorage.get`, healthy primary, no ``hedge_after``;
* ``hedged, healthy``: the same with ``hedge_after``; the primary answers before the
  hedge is due, so this is the happy path's cost of the hedging machinery;
* ``hedged, slow primary``: the primary is slow, the secondary has the object: the
  hedge answers after ``hedge_after`` plus one normal read;
* ``hedged, slow primary, hedge lacks it``: the secondary says NotFound at once; the
  correct answer is the primary's, so the read waits for it (the hedge must not win
  with a NotFound);
* ``thread hand-off``: no facade, the healthy primary's read submitted to a one-thread
  ``ThreadPoolExecutor`` and waited for (a `Future` per read);
* ``worker hand-off``: the same read handed to the facade's own worker threads
  (`failover.execution.workers`), reporting on a queue the caller waits on.  A hedged
  read must run its first attempt on a worker thread (a caller blocked in a call could
  not take a faster hedge's answer), so this is the floor under ``hedged, healthy``;
  ``machinery_ratio`` is the hedged read over it.

The ``wrong`` column counts reads that did not return the object, which exists on the
primary in every variant: it must be 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import SimpleQueue

from failover import BreakerConfig, ExecutionConfig, FailoverStorage, Target
from failover.errors import FailoverError
from failover.execution.workers import Workers
from failover.providers.memory import MemoryObjectStore

KEY = "reports/q3.pdf"
HAND_OFF = "thread hand-off"
WORKER_HAND_OFF = "worker hand-off"


class Sleepy(MemoryObjectStore):
    """A memory store whose reads take ``seconds``, like a network call."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def get(self, key: str) -> bytes:
        time.sleep(self.seconds)
        return super().get(key)


def facade(primary: MemoryObjectStore, secondary: MemoryObjectStore, hedge: float | None) -> FailoverStorage:
    return FailoverStorage(
        [Target("memory:primary", primary, priority=0), Target("memory:secondary", secondary, priority=1)],
        execution=ExecutionConfig(hedge_after=hedge, attempt_timeout=2.0, retry_burst=1e9, retry_ratio=1.0),
        breaker=BreakerConfig(consecutive_failures=0, failure_rate=None, slow_call_duration=None),
    )


def variants(io: float, slow: float, hedge: float) -> dict[str, FailoverStorage]:
    def pair(primary_s: float, secondary_has_it: bool) -> tuple[MemoryObjectStore, MemoryObjectStore]:
        primary, secondary = Sleepy(primary_s), Sleepy(io)
        primary.put(KEY, b"x" * 1024)
        if secondary_has_it:
            secondary.put(KEY, b"x" * 1024)
        return primary, secondary

    return {
        "unhedged": facade(*pair(io, True), None),
        "hedged, healthy": facade(*pair(io, True), hedge),
        "hedged, slow primary": facade(*pair(slow, True), hedge),
        "hedged, slow primary, hedge lacks it": facade(*pair(slow, False), hedge),
    }


def measure(stores: dict[str, FailoverStorage], reads: int, io: float) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Latency samples per variant, and how many reads gave a wrong answer (an error or
    other bytes: the object exists on the primary in every variant)."""
    calls: dict[str, Callable[[], bytes]] = {name: (lambda s=s: s.get(KEY)) for name, s in stores.items()}
    worker = ThreadPoolExecutor(1)
    plain = Sleepy(io)
    plain.put(KEY, b"x" * 1024)
    calls[HAND_OFF] = lambda: worker.submit(plain.get, KEY).result()
    workers = Workers(1, "bench-worker")

    def worker_hand_off() -> bytes:
        answer: SimpleQueue[bytes] = SimpleQueue()
        workers.submit(lambda: answer.put(plain.get(KEY)))
        return answer.get()

    calls[WORKER_HAND_OFF] = worker_hand_off
    samples: dict[str, list[float]] = {name: [] for name in calls}
    wrong = dict.fromkeys(calls, 0)
    try:
        _sample(calls, reads, samples, wrong)
    finally:
        worker.shutdown()
        workers.close()
    return samples, wrong


def _sample(
    calls: dict[str, Callable[[], bytes]], reads: int, samples: dict[str, list[float]], wrong: dict[str, int]
) -> None:
    for _ in range(reads):
        for name, call in calls.items():
            started = time.perf_counter()
            try:
                right = call() == b"x" * 1024
            except FailoverError:
                right = False
            samples[name].append((time.perf_counter() - started) * 1000)
            wrong[name] += not right


def summary(samples: dict[str, list[float]], wrong: dict[str, int]) -> dict[str, dict[str, float]]:
    base = statistics.median(samples["unhedged"])
    out = {}
    for name, values in samples.items():
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        p50 = statistics.median(ordered)
        out[name] = {
            "p50_ms": round(p50, 3),
            "p99_ms": round(p99, 3),
            "p50_ratio": round(p50 / base, 3),
            "wrong_answers": wrong[name],
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--io-ms", type=float, default=2.0)
    parser.add_argument("--slow-ms", type=float, default=30.0)
    parser.add_argument("--hedge-ms", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/hedged_reads.json"))
    args = parser.parse_args(argv)
    stores = variants(args.io_ms / 1000, args.slow_ms / 1000, args.hedge_ms / 1000)
    try:
        results = summary(*measure(stores, args.reads, args.io_ms / 1000))
    finally:
        for store in stores.values():
            store.close()
    machinery = results["hedged, healthy"]["p50_ms"] / results[WORKER_HAND_OFF]["p50_ms"]
    report = {
        "reads": args.reads,
        "io_ms": args.io_ms,
        "slow_ms": args.slow_ms,
        "hedge_ms": args.hedge_ms,
        "results": results,
        "machinery_ratio": round(machinery, 3),
    }
    print(f"{'variant':<38} {'p50 ms':>7} {'p99 ms':>7} {'p50 ratio':>9} {'wrong':>6}")
    for name, row in results.items():
        print(
            f"{name:<38} {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['p50_ratio']:>9.2f} {row['wrong_answers']:>6}"
        )
    print(f"hedged, healthy over a bare worker hand-off (the hedging machinery): {machinery:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
