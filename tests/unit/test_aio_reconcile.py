"""`failover.aio.FailoverStorage.reconcile`: the sync comparison, on a thread, reaching the
async providers through the facade's loop."""

from __future__ import annotations

import asyncio
import threading

from failover import FailoverStorage as SyncStorage
from failover import Target
from failover.aio import FailoverStorage
from failover.providers.memory import MemoryObjectStore
from failover.providers.memory.aio import AsyncMemoryObjectStore
from failover.replication.reconcile import ReconcileReport


def async_pair() -> tuple[FailoverStorage, MemoryObjectStore, MemoryObjectStore]:
    one, two = MemoryObjectStore(), MemoryObjectStore()
    targets = [Target("memory:one", AsyncMemoryObjectStore(one), priority=0)]
    targets.append(Target("memory:two", AsyncMemoryObjectStore(two), priority=1))
    return FailoverStorage(targets), one, two


def test_reconcile_on_an_async_facade_reports_then_repairs_what_one_target_lacks() -> None:
    storage, one, two = async_pair()
    two.put("reports/q3.pdf", b"only on two")
    one.put("both", b"same")
    two.put("both", b"same")

    async def main() -> tuple[ReconcileReport, ReconcileReport, ReconcileReport]:
        dry = await storage.reconcile()
        repaired = await storage.reconcile(repair=True)
        after = await storage.reconcile()
        return dry, repaired, after

    dry, repaired, after = asyncio.run(main())
    assert [d.key for d in dry.divergent] == ["reports/q3.pdf"] and dry.repaired == 0
    assert repaired.repaired == 1 and repaired.ok
    assert one.get("reports/q3.pdf") == b"only on two"
    assert after.ok and after.scanned == 2


def test_reconcile_runs_off_the_loop_and_calls_progress_on_its_thread() -> None:
    storage, one, two = async_pair()
    for n in range(3):
        one.put(f"k{n}", b"x")
    threads: set[str] = set()

    async def main() -> str:
        await storage.reconcile(repair=True, progress=lambda *_: threads.add(threading.current_thread().name))
        return threading.current_thread().name

    loop_thread = asyncio.run(main())
    assert [info.key for info in two.list()] == ["k0", "k1", "k2"]
    assert threads and loop_thread not in threads


def test_reconcile_on_a_shared_facade_compares_through_the_sync_providers() -> None:
    one, two = MemoryObjectStore(), MemoryObjectStore()
    sync = SyncStorage([Target("memory:one", one, priority=0), Target("memory:two", two, priority=1)])
    shared = FailoverStorage.sharing(
        sync, {"memory:one": AsyncMemoryObjectStore(one), "memory:two": AsyncMemoryObjectStore(two)}
    )
    one.put("k", b"v")
    report = asyncio.run(shared.reconcile(repair=True))
    assert report.repaired == 1 and two.get("k") == b"v"
