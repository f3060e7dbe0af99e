"""The shared repair journal on a real redis-server: the SQLite journal's rules, leases that
pass a dead process's entries to a live one, never two repairs of one entry at once,
and a refused write when Redis is down (the set-up file's keys: test_redis_journal_config.py;
races between processes and replicas: test_redis_journal_races.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from failover import BreakerConfig, ExecutionConfig, FailoverStorage, FakeClock, Target, replication
from failover.errors import Unavailable
from failover.fleet.redis_journal import RedisJournal
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from failover.replication.journal import Payload
from failover.replication.versioning import version_of
from failover.testing.redis import RedisServer
from tests.integration.servers import REPO

V1 = "00000000000000000001-w"
V2 = "00000000000000000002-w"
V3 = "00000000000000000003-w"
NAMES = ("memory:a", "memory:b", "memory:c")


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def opened(redis_server: RedisServer, prefix: str) -> Iterator[list[RedisJournal]]:
    """Journals this test opened on the session's Redis, closed after it."""
    journals: list[RedisJournal] = []
    yield journals
    for journal in journals:
        journal.close()


def journal_on(
    server: RedisServer, prefix: str, opened: list[RedisJournal], consumer: str, **options: Any
) -> RedisJournal:
    journal = RedisJournal.from_url(server.url, prefix=prefix, consumer=consumer, **options)
    opened.append(journal)
    return journal


def facade(journal: RedisJournal, stores: list[ChaosProvider], clock: FakeClock) -> FailoverStorage:
    targets = [Target(NAMES[i], store, priority=i) for i, store in enumerate(stores)]
    return FailoverStorage(
        targets,
        clock=clock,
        writes=replication.All(journal=journal, repair_workers=1, restore_check=None),
        breaker=BreakerConfig(consecutive_failures=3, open_base=5.0, jitter=0.0),
        execution=ExecutionConfig(attempt_timeout=1.0, deadline=10.0),
        failback_after=0.0,
    )


def chaos_stores(clock: FakeClock) -> tuple[list[MemoryObjectStore], list[ChaosProvider]]:
    stores = [MemoryObjectStore(clock=clock) for _ in NAMES]
    return stores, [ChaosProvider(store, seed=i, clock=clock) for i, store in enumerate(stores)]


# ---------------------------------------------------------------- the SQLite journal's rules


def test_rows_outlive_the_process_that_wrote_them(redis_server: RedisServer, prefix: str, opened: list) -> None:
    first = journal_on(redis_server, prefix, opened, "one")
    first.record("k", V1, "put", ["a", "b"], payload=Payload(b"data", "text/plain", {"x": "y"}))
    first.settle("k", V1, ["a"], source="a")
    again = journal_on(redis_server, prefix, opened, "two")
    assert again.owing == {"k": {"b": V1}}
    assert again.payload("k", V1) == Payload(b"data", "text/plain", {"x": "y"})
    assert again.last_version() == V1 and again.counts() == {"b": 1} and len(again) == 1
    assert again.owed("b") == []  # still leased to "one"
    (owed,) = first.owed("b")
    assert (owed.key, owed.version, owed.op, owed.source) == ("k", V1, "put", "a")


def test_a_row_only_moves_forward_and_settles_by_version(redis_server: RedisServer, prefix: str, opened: list) -> None:
    journal = journal_on(redis_server, prefix, opened, "one")
    journal.record("k", V2, "put", ["a"])
    journal.record("k", V1, "put", ["a"])  # a late, older intent
    assert journal.entry("a", "k").version == V2  # type: ignore[union-attr]
    journal.settle("k", V1, ["a"])
    assert journal.owing == {"k": {"a": V2}}
    journal.settle("k", V3, ["a"])
    assert journal.owing == {} and len(journal) == 0


def test_payloads_are_collected_once_nobody_needs_them(redis_server: RedisServer, prefix: str, opened: list) -> None:
    journal = journal_on(redis_server, prefix, opened, "one")
    journal.record("k", V1, "put", ["a", "b"], payload=Payload(b"1", None, {}))
    journal.record("k", V2, "put", ["a", "b"], payload=Payload(b"22", None, {}))
    assert journal.backlog()["a"].bytes == 2
    journal.settle("k", V2, ["a"])
    assert journal.payload("k", V1) is None and journal.payload("k", V2) is not None
    journal.settle("k", V2, ["b"])
    assert journal.payload("k", V2) is None


def test_forget_restores_the_older_debt_and_tombstone(redis_server: RedisServer, prefix: str, opened: list) -> None:
    journal = journal_on(redis_server, prefix, opened, "one")
    journal.record("k", V1, "delete", ["b"])
    prior = journal.record("k", V2, "put", ["a", "b"], payload=Payload(b"2", None, {}))
    assert journal.tombstone("k") is None
    journal.forget("k", V2, prior)
    assert journal.owing == {"k": {"b": V1}}
    assert journal.entry("b", "k").op == "delete"  # type: ignore[union-attr]
    assert journal.tombstone("k") == V1 and journal.payload("k", V2) is None
    journal.settle("k", V1, ["b"])
    assert journal.tombstones() == {"k": V1}
    assert journal.prune_tombstones(V2) == 1 and journal.tombstones() == {}


def test_a_quarantined_row_stays_owed_out_of_drains(redis_server: RedisServer, prefix: str, opened: list) -> None:
    journal = journal_on(redis_server, prefix, opened, "one")
    journal.record("k", V1, "put", ["a", "b"])
    [row] = journal.owed("b")
    journal.quarantine(row, "invalid_request: 400")
    assert journal.owed("b") == [] and journal.entry("b", "k") is None
    assert journal.counts() == {"a": 1, "b": 1} and journal.quarantined() == 1
    [failed] = journal.failed()
    assert (failed.target, failed.key, failed.version, failed.error) == ("b", "k", V1, "invalid_request: 400")
    prior = journal.record("k", V2, "put", ["a", "b"])
    journal.forget("k", V2, prior)
    assert journal.quarantined() == 1 and journal.owed("b") == []
    journal.record("k", V2, "put", ["a", "b"])
    assert journal.quarantined() == 0 and [o.version for o in journal.owed("b")] == [V2]


def test_owed_lists_oldest_first_in_batches(redis_server: RedisServer, prefix: str, opened: list) -> None:
    journal = journal_on(redis_server, prefix, opened, "one")
    for i in range(5):
        journal.record(f"k{i}", V1, "put", ["a"])
    first = journal.owed("a", limit=2)
    rest = journal.owed("a", after=first[-1].seq)
    assert [o.key for o in first + rest] == [f"k{i}" for i in range(5)]
    assert journal.seq == rest[-1].seq


# ---------------------------------------------------------------- the stream: append, claim, ack


def test_an_entry_is_appended_leased_to_its_writer_and_acked_when_settled(
    redis_server: RedisServer, prefix: str, opened: list
) -> None:
    writer = journal_on(redis_server, prefix, opened, "writer")
    other = journal_on(redis_server, prefix, opened, "other", lease=60.0)
    writer.record("k", V1, "put", ["a", "b"])
    raw = redis_server.client()
    stream = prefix + "stream:b"
    assert raw.xlen(stream) == 1
    [pending] = raw.xpending_range(stream, "repair", "-", "+", 10)
    assert pending["consumer"] == b"writer"
    assert other.owed("b") == [] and other.entry("b", "k") is None
    writer.settle("k", V1, ["a", "b"])
    assert raw.xlen(stream) == 0 and raw.xpending(stream, "repair")["pending"] == 0


def kill_mid_repair(server: RedisServer, prefix: str, keys: int) -> None:
    """A process that records ``keys`` rows, starts repairing one, and is SIGKILLed."""
    code = (
        "import sys, time\n"
        "from failover.fleet.redis_journal import RedisJournal\n"
        f"j = RedisJournal.from_url({server.url!r}, prefix={prefix!r}, consumer='victim')\n"
        f"for i in range({keys}): j.record(f'k{{i}}', {V1!r}, 'put', ['b'])\n"
        "assert j.entry('b', 'k0') is not None\n"  # mid-repair: it holds the lease
        "print('repairing', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "repairing"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)


def test_a_killed_consumers_entries_are_taken_over_after_the_lease(
    redis_server: RedisServer, prefix: str, opened: list
) -> None:
    lease = 1.5
    before_last_touch = time.monotonic()  # the victim renews its leases after this
    kill_mid_repair(redis_server, prefix, keys=3)
    heir = journal_on(redis_server, prefix, opened, "heir", lease=lease)
    assert heir.owed("b") == []  # the lease is still running (well over a second to go)
    taken: set[str] = set()
    while len(taken) < 3 and time.monotonic() - before_last_touch < 15:
        taken.update(o.key for o in heir.owed("b"))
        time.sleep(0.05)
    assert sorted(taken) == ["k0", "k1", "k2"]
    # Taken over only once idle for the lease, and the last touch came after before_last_touch.
    assert time.monotonic() - before_last_touch >= lease
    assert heir.entry("b", "k0") is not None
    for key in taken:
        heir.settle(key, V1, ["b"])
    assert len(heir) == 0


def test_two_consumers_never_repair_the_same_entry(redis_server: RedisServer, prefix: str, opened: list) -> None:
    dead = journal_on(redis_server, prefix, opened, "dead")
    keys = [f"k{i}" for i in range(60)]
    for key in keys:
        dead.record(key, V1, "put", ["b"])
    # A lease a hundred times a repair: no stall of a loaded machine passes for an overlap.
    workers = [journal_on(redis_server, prefix, opened, name, lease=2.0) for name in ("left", "right")]
    repaired: list[tuple[str, str]] = []
    busy: set[str] = set()
    overlaps: list[str] = []
    guard = threading.Lock()
    age_entries(redis_server, prefix + "stream:b", "dead")  # "dead" stopped repairing: up for grabs

    def drain(journal: RedisJournal) -> None:
        ends = time.monotonic() + 15
        while len(journal) and time.monotonic() < ends:
            for owed in journal.owed("b", limit=16):
                if journal.entry("b", owed.key) is None:
                    continue  # the other one took it meanwhile
                with guard:
                    overlaps.extend([owed.key] if owed.key in busy else [])
                    busy.add(owed.key)
                time.sleep(0.02)  # the repair
                with guard:
                    busy.discard(owed.key)
                    repaired.append((journal.consumer, owed.key))
                journal.settle(owed.key, owed.version, ["b"])

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert overlaps == []
    assert sorted(key for _, key in repaired) == sorted(keys)  # each exactly once
    assert {who for who, _ in repaired} == {"left", "right"}  # both took a share


def age_entries(server: RedisServer, stream: str, consumer: str) -> None:
    """``consumer``'s entries idle for a minute, as if it had died then (XCLAIM ... IDLE)."""
    raw = server.client()
    ids = [p["message_id"] for p in raw.xpending_range(stream, "repair", "-", "+", 1000, consumername=consumer)]
    raw.xclaim(stream, "repair", consumer, 0, ids, idle=60_000, justid=True)
    raw.close()


# ---------------------------------------------------------------- through the facade


def test_a_target_that_was_down_is_repaired_through_the_shared_journal(
    redis_server: RedisServer, prefix: str, opened: list
) -> None:
    clock = FakeClock()
    stores, chaos = chaos_stores(clock)
    storage = facade(journal_on(redis_server, prefix, opened, "one"), chaos, clock)
    chaos[2].configure(error_rate=1.0)
    for i in range(3):
        storage.put(f"doc/{i}", b"x" * (i + 1))
    backlog = storage.replication.journal.backlog()  # type: ignore[union-attr]
    assert backlog["memory:c"].rows == 3 and backlog["memory:c"].bytes == 6
    assert storage.replication.pending() == {"memory:c": 3}  # type: ignore[union-attr]
    chaos[2].heal()
    clock.advance(60.0)
    storage.replication.repairer.drain_all()  # type: ignore[union-attr]
    assert storage.replication.pending() == {}  # type: ignore[union-attr]
    assert {info.key for info in stores[2].list()} == {"doc/0", "doc/1", "doc/2"}


def test_a_stale_repair_never_overwrites_a_newer_version(redis_server: RedisServer, prefix: str, opened: list) -> None:
    clock = FakeClock()
    stores, chaos = chaos_stores(clock)
    first = facade(journal_on(redis_server, prefix, opened, "first"), chaos, clock)
    second = facade(journal_on(redis_server, prefix, opened, "second"), chaos, clock)
    chaos[2].configure(error_rate=1.0)
    first.put("k", b"old")
    [stale] = first.replication.journal.owed("memory:c")  # type: ignore[union-attr]
    chaos[2].heal()
    clock.advance(60.0)
    second.put("k", b"new")  # reaches c, and replaces the row first was about to repair
    assert first.replication.repairer.repair(stale) == "repaired"  # type: ignore[union-attr]
    assert stores[2].get("k") == b"new"
    assert version_of(stores[2].head("k")) > stale.version
    assert len(first.replication.journal) == 0  # type: ignore[union-attr]


def test_redis_unreachable_refuses_the_write(own_redis: RedisServer, prefix: str) -> None:
    clock = FakeClock()
    stores, chaos = chaos_stores(clock)
    journal = RedisJournal.from_url(own_redis.url, prefix=prefix, consumer="one")
    storage = facade(journal, chaos, clock)
    storage.put("before", b"1")
    own_redis.kill()
    with pytest.raises(Unavailable, match="repair journal") as caught:
        storage.put("during", b"2")
    assert caught.value.operation == "journal"
    assert all("during" not in {i.key for i in store.list()} for store in stores)  # not attempted anywhere
    assert storage.replication.quarantined() == 0  # type: ignore[union-attr]  # status answers what it last read
    own_redis.restart()
    storage.put("after", b"3")
    journal.close()


def test_wait_for_replicas_refuses_a_write_no_replica_took(redis_server: RedisServer, prefix: str) -> None:
    clock = FakeClock()
    stores, chaos = chaos_stores(clock)
    journal = RedisJournal.from_url(redis_server.url, prefix=prefix, wait_replicas=1, wait_timeout=0.05)
    storage = facade(journal, chaos, clock)
    with pytest.raises(Unavailable, match="0 of 1 replicas"):
        storage.put("k", b"1")
    assert len(journal) == 0 and journal.owing == {}  # the intent was withdrawn
    assert all(not list(store.list()) for store in stores)
    journal.close()
