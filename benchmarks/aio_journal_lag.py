"""How long the event loop stalls while replicated async writes commit to the journal.

    python benchmarks/aio_journal_lag.py [--writes 600] [--concurrency 16] [--repeat 3]
        [--out benchmarks/results/aio_journal_lag.json]

A ticker task asks to wake every millisecond and records how late each wake-up is
(its lag: the time the loop could not run it).  Meanwhile ``--writes`` replicated puts
(`writes=All()` over three async memory stores, SQLite journal with ``sync="full"``,
so every record and settle is a commit) run ``--concurrency`` at a time.  Side by side,
in this one process:

* ``thread``: the facade as shipped, each journal call on the journal's own thread;
* ``inline``: the same facade with its journal calls made on the loop itself, which is
  what the thread avoids (the baseline);
* ``none``: the same puts without ``writes=`` (one target, no journal), the lag the
  writes themselves cause.

Each variant's run with the smallest maximum lag of ``--repeat`` is kept; the figures
are the ticker's maximum and 99th-percentile lag, and the puts per second.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from failover import ExecutionConfig, Target
from failover.aio import FailoverStorage
from failover.aio.journaling import JournalWorker
from failover.providers.memory.aio import AsyncMemoryObjectStore
from failover.replication import All

R = TypeVar("R")
TICK = 0.001
PAYLOAD = b"x" * 4096


class InlineWorker(JournalWorker):
    """The baseline: every journal call made at once, on the caller's thread (the loop)."""

    def submit(self, call: Callable[..., R], *args: Any, **kwargs: Any) -> concurrent.futures.Future[R]:
        job: concurrent.futures.Future[R] = concurrent.futures.Future()
        try:
            job.set_result(call(*args, **kwargs))
        except BaseException as exc:  # handed to the awaiting write, as the thread would
            job.set_exception(exc)
        return job


def build(variant: str, folder: Path) -> FailoverStorage:
    names = ("memory:a", "memory:b", "memory:c") if variant != "none" else ("memory:a",)
    targets = [Target(name, AsyncMemoryObjectStore(), priority=i) for i, name in enumerate(names)]
    writes = None if variant == "none" else All(journal=folder / f"{variant}.sqlite", sync="full", restore_check=None)
    storage = FailoverStorage(targets, writes=writes, execution=ExecutionConfig())
    if variant == "inline" and storage._writes is not None:
        storage._writes.worker = InlineWorker(storage._writes.worker.journal)
    return storage


async def measure(storage: FailoverStorage, writes: int, concurrency: int) -> dict[str, float]:
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            asked = loop.time()
            await asyncio.sleep(TICK)
            lags.append(max(0.0, loop.time() - asked - TICK))

    async def writer(start: int) -> None:
        for n in range(start, writes, concurrency):
            await storage.put(f"objects/{n:06d}", PAYLOAD)

    tick = asyncio.ensure_future(ticker())
    await asyncio.sleep(TICK * 5)  # the ticker is running before the first write
    started = time.perf_counter()
    await asyncio.gather(*(writer(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    done.set()
    await tick
    await storage.aclose()
    lags.sort()
    return {
        "max_lag_ms": lags[-1] * 1e3,
        "p99_lag_ms": lags[int(len(lags) * 0.99) - 1] * 1e3,
        "median_lag_ms": statistics.median(lags) * 1e3,
        "puts_per_s": writes / elapsed,
        "ticks": float(len(lags)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/aio_journal_lag.json"))
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeat):
            for variant in ("thread", "inline", "none"):
                (Path(folder) / str(repeat)).mkdir(exist_ok=True)
                storage = build(variant, Path(folder) / str(repeat))  # a fresh journal each run
                figures = asyncio.run(measure(storage, args.writes, args.concurrency))
                best = results.get(variant)
                if best is None or figures["max_lag_ms"] < best["max_lag_ms"]:
                    results[variant] = figures
    inline, thread = results["inline"], results["thread"]
    report = {
        "writes": args.writes,
        "concurrency": args.concurrency,
        "journal_sync": "full",
        "variants": results,
        "max_lag_inline_over_thread": inline["max_lag_ms"] / thread["max_lag_ms"],
        "p99_lag_inline_over_thread": inline["p99_lag_ms"] / thread["p99_lag_ms"],
    }
    for variant, figures in results.items():
        print(
            f"{variant:>7}: max lag {figures['max_lag_ms']:7.2f} ms  p99 {figures['p99_lag_ms']:6.2f} ms  "
            f"median {figures['median_lag_ms']:5.2f} ms  {figures['puts_per_s']:7.0f} puts/s"
        )
    print(
        f"inline / thread: max lag {report['max_lag_inline_over_thread']:.1f}x, "
        f"p99 lag {report['p99_lag_inline_over_thread']:.1f}x"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
