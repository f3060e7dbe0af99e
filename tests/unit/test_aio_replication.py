"""failover.aio.FailoverStorage(writes=...): replicated writes awaited, journaled off the loop.

Async memory stores on a `FakeClock`, driven by the virtual-time loop (`failover.aio.virtual`):
a send that hangs for an hour costs no wall-clock time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from failover import ExecutionConfig, FakeClock, Target
from failover import FailoverStorage as SyncStorage
from failover.aio import FailoverStorage
from failover.aio.virtual import run
from failover.capabilities import ObjectInfo
from failover.errors import AllTargetsFailed, ConfigError, NotFound, QuorumNotReached, Unavailable
from failover.providers.memory import MemoryObjectStore
from failover.providers.memory.aio import AsyncMemoryObjectStore
from failover.replication import All, Primary, Quorum
from failover.replication.journal import Journal
from failover.replication.modes import WriteMode
from failover.replication.versioning import VERSION_KEY, version_of

R = TypeVar("R")
NAMES = ("memory:a", "memory:b", "memory:c")


class Flaky(AsyncMemoryObjectStore):
    """An async memory store that fails or hangs on demand, and counts its calls."""

    def __init__(self, store: MemoryObjectStore | None = None) -> None:
        super().__init__(store)
        self.fail: Exception | None = None
        self.delay = 0.0  # seconds of loop time before answering
        self.calls = 0
        self.cancelled = 0

    async def _step(self) -> None:
        self.calls += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.fail is not None:
            raise self.fail

    async def put(self, key: str, data: bytes, **options: Any) -> ObjectInfo:
        await self._step()
        return await super().put(key, data, **options)

    async def delete(self, key: str) -> None:
        await self._step()
        await super().delete(key)

    async def head(self, key: str) -> ObjectInfo:
        await self._step()
        return await super().head(key)

    async def get(self, key: str) -> bytes:
        await self._step()
        return await super().get(key)


class Setup:
    def __init__(self, tmp_path: Path, mode: str = "all", *, w: int = 2, **options: Any) -> None:
        self.clock = FakeClock()
        self.path = tmp_path / "journal.sqlite"
        self.stores = [Flaky(MemoryObjectStore(clock=self.clock)) for _ in NAMES]
        options.setdefault("journal", self.path)
        options.setdefault("restore_check", None)
        options.setdefault("repair_workers", 1)
        self.mode: WriteMode
        if mode == "all":
            self.mode = All(**options)
        elif mode == "quorum":
            self.mode = Quorum(w, **options)
        else:
            self.mode = Primary(**options)
        targets = [
            Target(name, store, priority=i) for i, (name, store) in enumerate(zip(NAMES, self.stores, strict=True))
        ]
        self.storage = FailoverStorage(
            targets,
            writes=self.mode,
            clock=self.clock,
            failback_after=0.0,
            execution=ExecutionConfig(attempt_timeout=1.0, deadline=10.0),
        )

    def run(self, main: Callable[[], Coroutine[Any, Any, R]]) -> R:
        async def closing() -> R:
            try:
                return await main()
            finally:
                await self.storage.aclose()

        return run(closing(), self.clock)

    def held(self, i: int, key: str = "k") -> bytes | None:
        try:
            return self.stores[i].store.get(key)
        except NotFound:
            return None

    def version(self, i: int, key: str = "k") -> str | None:
        try:
            return version_of(self.stores[i].store.head(key))
        except NotFound:
            return None


# ---------------------------------------------------------------- acknowledgements


def test_all_lands_on_every_target_with_one_version_before_it_acks(tmp_path: Path) -> None:
    s = Setup(tmp_path, "all")

    async def main() -> tuple[ObjectInfo, dict[str, int]]:
        info = await s.storage.put("k", b"v1", metadata={"m": "1"})
        return info, await s.storage.pending()

    info, pending = s.run(main)
    assert pending == {}
    assert [s.held(i) for i in range(3)] == [b"v1"] * 3
    assert {s.version(i) for i in range(3)} == {info.version}
    assert info.version and info.metadata == {"m": "1"}


def test_all_acks_without_a_failed_target_which_is_journaled_and_repaired_later(tmp_path: Path) -> None:
    s = Setup(tmp_path, "all")
    s.stores[2].fail = Unavailable("503")

    async def main() -> None:
        await s.storage.put("k", b"v1")
        assert await s.storage.pending() == {"memory:c": 1}
        s.stores[0].fail = Unavailable("503")  # c still owes k: a read skips it for b
        assert await s.storage.get("k") == b"v1"
        s.stores[0].fail = s.stores[2].fail = None
        s.clock.advance(60.0)  # past c's open breaker
        report = await s.storage.repair()
        assert report.repaired == 1
        assert await s.storage.pending() == {}

    s.run(main)
    assert s.held(2) == b"v1" and s.version(2) == s.version(0)


def test_quorum_acks_at_the_wth_success_and_journals_the_rest(tmp_path: Path) -> None:
    s = Setup(tmp_path, "quorum", w=2)
    s.stores[2].delay = 3600.0  # would hang the write if it were waited for

    async def main() -> None:
        await s.storage.put("k", b"v1")
        assert await s.storage.pending() == {"memory:c": 1}

    s.run(main)
    assert s.stores[2].calls == 0  # never sent: the first two of the plan made the quorum
    assert [s.held(i) for i in range(3)] == [b"v1", b"v1", None]


def test_quorum_replaces_a_failed_target_with_the_next_one(tmp_path: Path) -> None:
    s = Setup(tmp_path, "quorum", w=2)
    s.stores[0].fail = Unavailable("503")

    async def main() -> dict[str, int]:
        await s.storage.put("k", b"v1")
        return await s.storage.pending()

    assert s.run(main) == {"memory:a": 1}
    assert [s.held(i) for i in range(3)] == [None, b"v1", b"v1"]


def test_a_quorum_not_reached_is_no_ack_and_the_write_stays_owed(tmp_path: Path) -> None:
    s = Setup(tmp_path, "quorum", w=2)
    s.stores[1].fail = s.stores[2].fail = Unavailable("503")

    async def main() -> dict[str, int]:
        with pytest.raises(QuorumNotReached) as failed:
            await s.storage.put("k", b"v1")
        assert failed.value.acked == ("memory:a",)
        return await s.storage.pending()

    assert s.run(main) == {"memory:b": 1, "memory:c": 1}  # a has it: the others converge on it


def test_a_write_that_no_target_takes_raises_and_leaves_nothing_journaled(tmp_path: Path) -> None:
    s = Setup(tmp_path, "all")
    for store in s.stores:
        store.fail = Unavailable("503")

    async def main() -> dict[str, int]:
        with pytest.raises(AllTargetsFailed):
            await s.storage.put("k", b"v1")
        return await s.storage.pending()

    assert s.run(main) == {}
    assert [s.held(i) for i in range(3)] == [None] * 3


def test_a_journal_that_cannot_record_stops_the_write_before_any_send(tmp_path: Path) -> None:
    class Broken(Journal):
        def record(self, *args: Any, **kwargs: Any) -> Any:
            raise sqlite3.OperationalError("disk I/O error")

    s = Setup(tmp_path, "all", journal=Broken(tmp_path / "broken.sqlite"))

    with pytest.raises(sqlite3.OperationalError):
        s.run(lambda: s.storage.put("k", b"v1"))
    assert [store.calls for store in s.stores] == [0, 0, 0]


def test_primary_writes_one_target_and_journals_the_others(tmp_path: Path) -> None:
    s = Setup(tmp_path, "primary")

    async def main() -> dict[str, int]:
        await s.storage.put("k", b"v1")
        pending = await s.storage.pending()
        await s.storage.repair()
        assert await s.storage.pending() == {}
        return pending

    assert s.run(main) == {"memory:b": 1, "memory:c": 1}
    assert [s.held(i) for i in range(3)] == [b"v1"] * 3


def test_a_replicated_delete_is_a_tombstone_repaired_on_a_target_that_missed_it(tmp_path: Path) -> None:
    s = Setup(tmp_path, "all")

    async def main() -> None:
        await s.storage.put("k", b"v1")
        s.stores[1].fail = Unavailable("503")
        await s.storage.delete("k")
        assert await s.storage.pending() == {"memory:b": 1}
        with pytest.raises(NotFound):
            await s.storage.get("k")  # b still holds k, but owes its delete: not read
        s.stores[1].fail = None
        s.clock.advance(60.0)
        await s.storage.repair()

    s.run(main)
    assert [s.held(i) for i in range(3)] == [None] * 3


def test_concurrent_writes_of_one_key_queue_and_every_target_ends_on_the_newest(tmp_path: Path) -> None:
    s = Setup(tmp_path, "all")

    async def main() -> list[ObjectInfo]:
        return list(await asyncio.gather(*(s.storage.put("k", str(n).encode()) for n in range(12))))

    infos = s.run(main)
    newest = max(infos, key=lambda info: info.version or "")
    assert {s.version(i) for i in range(3)} == {newest.version}
    assert len({s.held(i) for i in range(3)}) == 1
    writes = s.storage._writes
    assert writes is not None and writes._queues == {}  # nothing left behind per key
    assert s.storage.replication is not None and len(s.storage.replication.locks) == 0


# ---------------------------------------------------------------- versions


def test_a_late_repair_never_overwrites_a_newer_version(tmp_path: Path) -> None:
    s = Setup(tmp_path, "all", writer_id="one")
    s.stores[2].fail = Unavailable("503")

    async def main() -> None:
        await s.storage.put("k", b"old")  # c owes the old version
        s.clock.advance(1.0)
        s.stores[2].fail = None
        # Another writer puts a newer version straight onto c meanwhile.
        newer = f"{10**19:020d}-other"
        s.stores[2].store.put("k", b"newer", metadata={VERSION_KEY: newer})
        s.clock.advance(60.0)
        await s.storage.repair()
        assert await s.storage.pending() == {}

    s.run(main)
    assert s.held(2) == b"newer"


def test_metadata_may_not_name_the_version_key(tmp_path: Path) -> None:
    s = Setup(tmp_path, "all")
    with pytest.raises(ValueError, match=VERSION_KEY):
        s.run(lambda: s.storage.put("k", b"v", metadata={VERSION_KEY: "x"}))
    assert [store.calls for store in s.stores] == [0, 0, 0]


# ---------------------------------------------------------------- cancellation


def test_a_caller_cancelling_mid_send_loses_nothing_the_repairer_completes_the_write(tmp_path: Path) -> None:
    s = Setup(tmp_path, "all")
    s.stores[1].delay = s.stores[2].delay = 3600.0  # a answers; b and c hang

    async def main() -> None:
        write = asyncio.ensure_future(s.storage.put("k", b"v1"))
        while not (s.held(0) and s.stores[1].calls and s.stores[2].calls):
            await asyncio.sleep(0)  # journaled, sent everywhere, taken by a only
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
        assert await s.storage.pending() == {"memory:b": 1, "memory:c": 1}
        s.stores[1].delay = s.stores[2].delay = 0.0
        report = await s.storage.repair()
        assert report.waiting == 2  # a cut-short send may land yet: wait out its grace
        s.clock.advance(s.mode.unconfirmed_grace + 1.0)
        await s.storage.repair()
        assert await s.storage.pending() == {}

    s.run(main)
    assert (s.stores[1].cancelled, s.stores[2].cancelled) == (1, 1)
    assert [s.held(i) for i in range(3)] == [b"v1"] * 3


def test_a_write_cancelled_while_every_send_hangs_stays_owed_everywhere(tmp_path: Path) -> None:
    s = Setup(tmp_path, "all")
    for store in s.stores:
        store.delay = 3600.0

    async def main() -> None:
        write = asyncio.ensure_future(s.storage.put("k", b"v1"))
        while not all(store.calls for store in s.stores):
            await asyncio.sleep(0)  # every send is on its way, none confirmed
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
        # Any of them may have landed: the intent stays, and the repairer completes it.
        assert await s.storage.pending() == dict.fromkeys(NAMES, 1)
        for store in s.stores:
            store.delay = 0.0
        s.clock.advance(s.mode.unconfirmed_grace + 1.0)
        await s.storage.repair()
        assert await s.storage.pending() == {}

    s.run(main)
    assert [s.held(i) for i in range(3)] == [b"v1"] * 3


def test_a_caller_cancelling_before_any_send_takes_the_intent_back(tmp_path: Path) -> None:
    recording, release = threading.Event(), threading.Event()

    class Slow(Journal):
        def record(self, *args: Any, **kwargs: Any) -> Any:
            recording.set()
            release.wait(10.0)
            return super().record(*args, **kwargs)

    s = Setup(tmp_path, "all", journal=Slow(tmp_path / "slow.sqlite"))

    async def main() -> dict[str, int]:
        write = asyncio.ensure_future(s.storage.put("k", b"v1"))
        while not recording.is_set():
            await asyncio.sleep(0)
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
        release.set()
        return await s.storage.pending()  # queued behind the take-back on the journal thread

    assert s.run(main) == {}
    assert [store.calls for store in s.stores] == [0, 0, 0]


# ---------------------------------------------------------------- the loop and the journal


def test_the_loop_runs_other_tasks_while_the_journal_commits(tmp_path: Path) -> None:
    recording, ticked = threading.Event(), threading.Event()

    class Waiting(Journal):
        def record(self, *args: Any, **kwargs: Any) -> Any:
            # Holds the commit until another task has run: on the loop, none could.
            recording.set()
            assert ticked.wait(5.0), "the event loop was blocked while the journal recorded"
            return super().record(*args, **kwargs)

    s = Setup(tmp_path, "all", journal=Waiting(tmp_path / "waiting.sqlite"))

    async def main() -> None:
        write = asyncio.ensure_future(s.storage.put("k", b"v1"))
        while not recording.is_set():
            await asyncio.sleep(0)
        ticked.set()  # this task ran while the record was under way
        await write

    s.run(main)
    assert [s.held(i) for i in range(3)] == [b"v1"] * 3


def test_journal_calls_run_on_one_dedicated_thread(tmp_path: Path) -> None:
    threads: set[str] = set()

    class Watched(Journal):
        def record(self, *args: Any, **kwargs: Any) -> Any:
            threads.add(threading.current_thread().name)
            return super().record(*args, **kwargs)

        def settle(self, *args: Any, **kwargs: Any) -> None:
            threads.add(threading.current_thread().name)
            super().settle(*args, **kwargs)

    s = Setup(tmp_path, "all", journal=Watched(tmp_path / "watched.sqlite"))

    async def main() -> None:
        await asyncio.gather(*(s.storage.put(f"k{i}", b"v") for i in range(20)))

    s.run(main)
    assert len(threads) == 1 and next(iter(threads)).startswith("failover-journal")


# ---------------------------------------------------------------- reads


def test_a_read_that_finds_a_target_lacking_the_object_journals_a_copy(tmp_path: Path) -> None:
    s = Setup(tmp_path, "all")
    s.stores[1].store.put("k", b"v")  # on b only, written behind the library's back

    async def main() -> None:
        assert await s.storage.get("k") == b"v"
        assert await s.storage.pending() == {"memory:a": 1}
        await s.storage.repair()

    s.run(main)
    assert s.held(0) == b"v"


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize("bad", ["all", All, 3])
def test_a_bad_write_mode_is_a_config_error_naming_writes(tmp_path: Path, bad: object) -> None:
    targets = [Target(name, Flaky()) for name in NAMES]
    with pytest.raises(ConfigError, match=r"^writes must be"):
        FailoverStorage(targets, writes=bad)  # type: ignore[arg-type]


def test_a_quorum_larger_than_the_targets_is_a_config_error(tmp_path: Path) -> None:
    targets = [Target(name, Flaky()) for name in NAMES]
    with pytest.raises(ConfigError, match=r"Quorum\(w=4\)"):
        FailoverStorage(targets, writes=Quorum(4, journal=tmp_path / "j.sqlite"))


# ---------------------------------------------------------------- sync and async on one journal


def test_a_sync_and_an_async_facade_share_one_journal_and_agree(tmp_path: Path) -> None:
    clock = FakeClock()
    stores = [MemoryObjectStore(clock=clock) for _ in NAMES]
    sync = SyncStorage(
        [Target(n, st, priority=i) for i, (n, st) in enumerate(zip(NAMES, stores, strict=True))],
        writes=All(journal=tmp_path / "j.sqlite", restore_check=None),
        clock=clock,
        failback_after=0.0,
    )
    flaky = [Flaky(st) for st in stores]
    aio = FailoverStorage.sharing(sync, dict(zip(NAMES, flaky, strict=True)))
    flaky[2].fail = Unavailable("503")

    async def main() -> None:
        await aio.put("k", b"from-async")
        assert await aio.pending() == {"memory:c": 1}

    run(main(), clock)
    flaky[2].fail = None
    assert sync.pending() == {"memory:c": 1}  # the async write is in the sync facade's journal
    sync.repair()  # the sync facade repairs it, from the journal
    assert stores[2].get("k") == b"from-async" and sync.pending() == {}

    stores[0].delete("k")  # a lacks k now: a sync read repairs it ...
    assert sync.get("k") == b"from-async"
    assert run(aio.pending(), clock) == {"memory:a": 1}  # ... and the async side sees the row
    flaky[1].fail = Unavailable("503")
    assert run(aio.get("k"), clock) == b"from-async"  # from c: a still owes k
    sync.close()
