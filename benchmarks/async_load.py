"""The async facade beside the sync one: per-call overhead, and 1,000 reads in flight.

    python benchmarks/async_load.py [--calls 20000] [--repeat 7] [--out benchmarks/results/async_load.json]

Everything runs in this one process, side by side, keeping each variant's best of
``--repeat`` samples (these machines are noisy: compare ratios, not nanoseconds).

* overhead: a routed ``get`` over two memory targets minus the bare call of the
  adapter: `failover.aio.FailoverStorage.get` minus ``await`` of
  `AsyncMemoryObjectStore.get`, against `failover.FailoverStorage.get` minus
  `MemoryObjectStore.get`.  Goal: async overhead at most 1.5x the sync one.
  Also the async facade without ``attempt_timeout`` and ``deadline``, which puts no
  ``asyncio.timeout`` scope around the attempt: the scope is most of the async cost.
* load: ``--calls`` gets with 1,000 in flight, on one event loop (async) and on the
  sync facade through a 64-thread pool (1,000 submitted at a time); throughput and the
  p99 latency of a call (from submission to answer).  Once on the memory provider as
  it is, once with 1 ms of simulated network wait per call (``asyncio.sleep`` /
  ``time.sleep``), which is where threads and an event loop really differ.  Goal:
  async throughput at least 3x the threaded sync facade.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from failover import ExecutionConfig, FailoverStorage, Target
from failover.aio import FailoverStorage as AsyncFailoverStorage
from failover.providers.memory import MemoryObjectStore
from failover.providers.memory.aio import AsyncMemoryObjectStore

KEY = "reports/q3.pdf"
IN_FLIGHT = 1000
THREADS = 64


class SlowStore(MemoryObjectStore):
    """A memory store whose reads wait like a network call, holding a thread."""

    def __init__(self, wait: float) -> None:
        super().__init__()
        self.wait = wait

    def get(self, key: str) -> bytes:
        time.sleep(self.wait)
        return super().get(key)


class AsyncSlowStore(AsyncMemoryObjectStore):
    """The async face of a `SlowStore`'s objects, waiting on the loop instead."""

    def __init__(self, store: MemoryObjectStore, wait: float) -> None:
        super().__init__(store)
        self.wait = wait

    async def get(self, key: str) -> bytes:
        await asyncio.sleep(self.wait)
        return MemoryObjectStore.get(self.store, key)  # the objects, without the thread's wait


def facades(
    wait: float, execution: ExecutionConfig | None = None
) -> tuple[FailoverStorage, AsyncFailoverStorage, MemoryObjectStore, AsyncMemoryObjectStore]:
    stores = [SlowStore(wait) if wait else MemoryObjectStore() for _ in range(2)]
    for store in stores:
        store.put(KEY, b"x" * 1024)
    faces = [AsyncSlowStore(s, wait) if wait else AsyncMemoryObjectStore(s) for s in stores]
    sync = FailoverStorage([Target(f"memory:{i}", s, priority=i) for i, s in enumerate(stores)], execution=execution)
    aio = AsyncFailoverStorage.sharing(sync, {f"memory:{i}": f for i, f in enumerate(faces)})
    return sync, aio, stores[0], faces[0]


# ---------------------------------------------------------------- overhead


def sync_ns(call: Callable[[], object], calls: int) -> float:
    began = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - began) / calls * 1e9


async def async_ns(call: Callable[[], Awaitable[object]], calls: int) -> float:
    began = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - began) / calls * 1e9


def overhead(calls: int, repeat: int) -> dict[str, float]:
    sync, aio, store, face = facades(0.0)
    # Without attempt timeout and deadline: no timeout scope around the attempt.
    _, unbounded, _, _ = facades(0.0, ExecutionConfig(attempt_timeout=None, deadline=None))
    best: dict[str, float] = {}

    def keep(name: str, ns: float) -> None:
        best[name] = min(best.get(name, ns), ns)

    loop = asyncio.new_event_loop()
    try:
        for _ in range(repeat):  # interleaved, so drift hits every variant alike
            keep("sync_bare_ns", sync_ns(lambda: store.get(KEY), calls))
            keep("sync_routed_ns", sync_ns(lambda: sync.get(KEY), calls))
            keep("async_bare_ns", loop.run_until_complete(async_ns(lambda: face.get(KEY), calls)))
            keep("async_routed_ns", loop.run_until_complete(async_ns(lambda: aio.get(KEY), calls)))
            keep("async_unbounded_ns", loop.run_until_complete(async_ns(lambda: unbounded.get(KEY), calls)))
    finally:
        loop.close()
    best["sync_overhead_ns"] = best["sync_routed_ns"] - best["sync_bare_ns"]
    best["async_overhead_ns"] = best["async_routed_ns"] - best["async_bare_ns"]
    best["async_unbounded_overhead_ns"] = best["async_unbounded_ns"] - best["async_bare_ns"]
    best["ratio"] = best["async_overhead_ns"] / best["sync_overhead_ns"]
    best["unbounded_ratio"] = best["async_unbounded_overhead_ns"] / best["sync_overhead_ns"]
    return best


# ---------------------------------------------------------------- load


async def async_load(aio: AsyncFailoverStorage, calls: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> None:
        async with slots:
            began = time.perf_counter()
            await aio.get(KEY)
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    return time.perf_counter() - began, latencies


def threaded_load(sync: FailoverStorage, calls: int) -> tuple[float, list[float]]:
    latencies: list[float] = []

    def one(submitted: float) -> None:
        sync.get(KEY)
        latencies.append(time.perf_counter() - submitted)

    began = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as threads:
        for start in range(0, calls, IN_FLIGHT):  # 1,000 submitted at a time
            now = time.perf_counter()
            batch = [threads.submit(one, now) for _ in range(min(IN_FLIGHT, calls - start))]
            for future in batch:
                future.result()
    return time.perf_counter() - began, latencies


def figures(elapsed: float, latencies: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return {"per_second": len(latencies) / elapsed, "p50_ms": cuts[49] * 1e3, "p99_ms": cuts[98] * 1e3}


def load(wait: float, calls: int, repeat: int) -> dict[str, dict[str, float]]:
    sync, aio, _, _ = facades(wait)
    best: dict[str, dict[str, float]] = {}
    for _ in range(repeat):
        for name, sample in (
            ("async", lambda: asyncio.run(async_load(aio, calls))),
            ("threads", lambda: threaded_load(sync, calls)),
        ):
            result = figures(*sample())
            if name not in best or result["per_second"] > best[name]["per_second"]:
                best[name] = result
    best["ratio"] = {"throughput": best["async"]["per_second"] / best["threads"]["per_second"]}
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/async_load.json"))
    args = parser.parse_args(argv)
    report = {
        "overhead": overhead(args.calls, args.repeat),
        "load_memory": load(0.0, args.calls, max(1, args.repeat // 2)),
        "load_memory_1ms": load(0.001, args.calls, max(1, args.repeat // 2)),
        "in_flight": IN_FLIGHT,
        "threads": THREADS,
    }
    o = report["overhead"]
    print(
        f"overhead per get: async {o['async_overhead_ns']:.0f} ns, sync {o['sync_overhead_ns']:.0f} ns "
        f"(ratio {o['ratio']:.2f}, goal <= 1.5)"
    )
    for name in ("load_memory", "load_memory_1ms"):
        run = report[name]
        assert isinstance(run, dict)
        print(
            f"{name}: async {run['async']['per_second']:.0f}/s p99 {run['async']['p99_ms']:.1f} ms; "
            f"64 threads {run['threads']['per_second']:.0f}/s p99 {run['threads']['p99_ms']:.1f} ms "
            f"(ratio {run['ratio']['throughput']:.2f}, goal >= 3)"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
