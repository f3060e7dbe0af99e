"""The async facade beside the sync one: per-call overhead, and 1,000 reads in flight.

    python benchmarks/async_load.py [--calls 20000] [--repeat 7] [--moto-calls 3000] [--hedged-reads 300]
        [--out benchmarks/results/async_load.json]

Everything runs in this one process, side by side, keeping each variant's best of
``--repeat`` samples (these machines are noisy: compare ratios, not nanoseconds).

* overhead: a routed ``get`` over two memory targets minus the bare call of the
  adapter: `failover.aio.FailoverStorage.get` minus ``await`` of
  `AsyncMemoryObjectStore.get`, against `failover.FailoverStorage.get` minus
  `MemoryObjectStore.get`.  Goal: async overhead at most 1.5x the sync one.
  Also the async facade without ``attempt_timeout`` and ``deadline``, whose attempts
  have no deadline to watch (`failover.aio.watchdog`): the gap is the deadline's cost.
* load: ``--calls`` gets with 1,000 in flight: on one event loop, 1,000 tasks each
  making its share of the calls in turn; on the sync facade, a 64-thread pool given
  1,000 calls at a time.  Throughput, and the p99 latency of a call (async: from the
  call to its answer; threads: from submission, so the pool's queue counts).  On the
  memory provider as it is, with 1 ms of simulated network wait per call
  (``asyncio.sleep`` / ``time.sleep``), and on moto (``--moto-calls`` per side, 0 to
  skip), where both SDKs have 32 pooled connections and the server is the bottleneck.
  Goal: async throughput at least 3x the threaded sync facade.
* hedged: ``--hedged-reads`` reads per variant, interleaved, over memory targets that
  wait 2 ms (a slow primary: 30 ms; ``hedge_after`` 5 ms): p50 and p99 unhedged,
  hedged with a healthy primary (the hedging machinery's cost: tasks, no threads),
  and with the slow primary, unhedged and hedged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

from failover import ExecutionConfig, FailoverStorage, Target
from failover.aio import FailoverStorage as AsyncFailoverStorage
from failover.providers.memory import MemoryObjectStore
from failover.providers.memory.aio import AsyncMemoryObjectStore
from failover.testing.environment import LoopbackEnvironment
from failover.testing.servers import LocalServer, moto, raw_s3_client

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
    """``IN_FLIGHT`` tasks, each making its share of the calls one after another: always
    1,000 calls in flight, and never a queue of tasks waiting for a slot."""
    latencies: list[float] = []
    shares = [calls // IN_FLIGHT + (n < calls % IN_FLIGHT) for n in range(IN_FLIGHT)]

    async def caller(share: int) -> None:
        for _ in range(share):
            began = time.perf_counter()
            await aio.get(KEY)
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(caller(share) for share in shares))
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


def moto_facades() -> tuple[LocalServer, FailoverStorage, AsyncFailoverStorage, list[Any]]:
    """Both facades over two S3 targets on a moto started here: boto3 for the sync one,
    aiobotocore for the async one, one bucket holding the object."""
    from failover.providers.aws import AsyncS3Store, S3Store

    LoopbackEnvironment().apply()  # moto's keys for both SDKs, no proxy for 127.0.0.1
    server = moto("moto-async-load")
    server.start()
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    with closing(raw_s3_client(server)) as s3:
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=KEY, Body=b"x" * 1024)
    names = ("aws:one", "aws:two")
    # 1,000 calls queue for 32 connections: patient timeouts, so the queue is measured
    # rather than failed over.
    where: dict[str, Any] = {"region": "us-east-1", "endpoint_url": server.endpoint, "read_timeout": 60.0}
    patient = ExecutionConfig(attempt_timeout=60.0, deadline=120.0)
    targets = [Target(n, S3Store(bucket, **where), priority=i) for i, n in enumerate(names)]
    sync = FailoverStorage(targets, execution=patient)
    faces = [AsyncS3Store(bucket, **where) for _ in names]
    aio = AsyncFailoverStorage.sharing(sync, dict(zip(names, faces, strict=True)))
    return server, sync, aio, faces


def load_moto(calls: int) -> dict[str, dict[str, float]]:
    """As `load`, on moto: a real HTTP round trip per call, through the SDKs' connection
    pools (32 connections each), the server shared by both sides."""
    server, sync, aio, faces = moto_facades()

    async def run_async() -> tuple[float, list[float]]:
        try:
            return await async_load(aio, calls)
        finally:
            for face in faces:
                await face.close()

    try:
        threaded = figures(*threaded_load(sync, calls))
        awaited = figures(*asyncio.run(run_async()))
    finally:
        sync.close()
        server.stop()
    return {
        "async": awaited,
        "threads": threaded,
        "ratio": {"throughput": awaited["per_second"] / threaded["per_second"]},
    }


# ---------------------------------------------------------------- hedging


def hedge_facade(primary_wait: float, io: float, hedge_after: float | None) -> AsyncFailoverStorage:
    """An async facade over a primary answering in ``primary_wait`` and a secondary in ``io``."""
    stores = [MemoryObjectStore(), MemoryObjectStore()]
    for store in stores:
        store.put(KEY, b"x" * 1024)
    faces = [AsyncSlowStore(stores[0], primary_wait), AsyncSlowStore(stores[1], io)]
    execution = ExecutionConfig(hedge_after=hedge_after, attempt_timeout=2.0, retry_burst=1e9, retry_ratio=1.0)
    return AsyncFailoverStorage(
        [Target(f"memory:{i}", f, priority=i) for i, f in enumerate(faces)], execution=execution
    )


def hedged(reads: int, io: float, slow: float, hedge_after: float) -> dict[str, dict[str, float]]:
    """Read by read, interleaved: p50 and p99 of an unhedged read, a hedged one whose primary
    is healthy (the cost of the machinery), and a hedged one whose primary is slow."""
    variants = {
        "unhedged": hedge_facade(io, io, None),
        "hedged, healthy": hedge_facade(io, io, hedge_after),
        "unhedged, slow primary": hedge_facade(slow, io, None),
        "hedged, slow primary": hedge_facade(slow, io, hedge_after),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}

    async def sample() -> None:
        for _ in range(reads):
            for name, facade in variants.items():
                began = time.perf_counter()
                await facade.get(KEY)
                samples[name].append(time.perf_counter() - began)

    asyncio.run(sample())
    base = statistics.median(samples["unhedged"])
    out: dict[str, dict[str, float]] = {}
    for name, values in samples.items():
        cuts = statistics.quantiles(values, n=100)
        out[name] = {"p50_ms": cuts[49] * 1e3, "p99_ms": cuts[98] * 1e3, "p50_ratio": cuts[49] / base}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--hedged-reads", type=int, default=300, help="reads per hedging variant")
    parser.add_argument("--moto-calls", type=int, default=3000, help="gets on moto per side (0: skip moto)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/async_load.json"))
    args = parser.parse_args(argv)
    report = {
        "overhead": overhead(args.calls, args.repeat),
        "load_memory": load(0.0, args.calls, max(1, args.repeat // 2)),
        "load_memory_1ms": load(0.001, args.calls, max(1, args.repeat // 2)),
        **({"load_moto": load_moto(args.moto_calls)} if args.moto_calls else {}),
        "hedged": hedged(args.hedged_reads, 0.002, 0.030, 0.005),
        "in_flight": IN_FLIGHT,
        "threads": THREADS,
    }
    o = report["overhead"]
    print(
        f"overhead per get: async {o['async_overhead_ns']:.0f} ns, sync {o['sync_overhead_ns']:.0f} ns "
        f"(ratio {o['ratio']:.2f}, goal <= 1.5)"
    )
    for name in ("load_memory", "load_memory_1ms", "load_moto"):
        run = report.get(name)
        if run is None:
            continue
        assert isinstance(run, dict)
        print(
            f"{name}: async {run['async']['per_second']:.0f}/s p99 {run['async']['p99_ms']:.1f} ms; "
            f"64 threads {run['threads']['per_second']:.0f}/s p99 {run['threads']['p99_ms']:.1f} ms "
            f"(ratio {run['ratio']['throughput']:.2f}, goal >= 3)"
        )
    for name, run in report["hedged"].items():
        print(f"{name}: p50 {run['p50_ms']:.2f} ms, p99 {run['p99_ms']:.2f} ms, p50 ratio {run['p50_ratio']:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
