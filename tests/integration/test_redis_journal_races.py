"""The shared repair journal where processes race: two writers of one key, a dead consumer's
entries behind many a live one renews, and ``WAIT`` against a replica frozen by SIGSTOP
(a primary and a replica started here), on real redis-servers."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis

from failover.errors import ConfigError, Unavailable
from failover.fleet.redis_journal import RedisJournal
from failover.replication.journal import Payload
from failover.testing.redis import RedisServer, redis_server_binary
from tests.integration.servers import started

V1 = "00000000000000000001-w"
V2 = "00000000000000000002-w"
V3 = "00000000000000000003-w"
CLOUDS = ("s3", "azure", "gcs")


@pytest.fixture
def prefix() -> str:
    return f"race:{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def opened() -> Iterator[list[RedisJournal]]:
    journals: list[RedisJournal] = []
    yield journals
    for journal in journals:
        journal.close()


def open_journal(server: RedisServer, prefix: str, opened: list[RedisJournal], consumer: str, **options: Any) -> Any:
    journal = RedisJournal.from_url(server.url, prefix=prefix, consumer=consumer, **options)
    opened.append(journal)
    return journal


def text(data: bytes) -> Payload:
    return Payload(data, "text/plain", {})


# ---------------------------------------------------------------- two writers of one key


def test_forgetting_a_failed_write_keeps_the_newer_write_another_process_recorded(
    redis_server: RedisServer, prefix: str, opened: list[RedisJournal]
) -> None:
    a = open_journal(redis_server, prefix, opened, "A")
    b = open_journal(redis_server, prefix, opened, "B")
    a.record("k", V1, "put", CLOUDS, payload=text(b"one"))
    a.settle("k", V1, ("s3", "azure"))  # gcs missed V1
    prior = a.record("k", V2, "put", CLOUDS, payload=text(b"two"))
    b.record("k", V3, "put", CLOUDS, payload=text(b"three"))  # B's write of the key, in flight
    a.forget("k", V2, prior)  # A's write failed everywhere
    b.settle("k", V3, ("s3", "azure"))  # B's Quorum(2) write is acknowledged
    a.refresh()
    assert a.owing == {"k": {"gcs": V3}}
    assert [(o.key, o.version) for o in b.owed("gcs")] == [("k", V3)]
    assert a.payload("k", V3) == text(b"three")
    assert a.payload("k", V1) is None and a.payload("k", V2) is None


def test_forgetting_a_failed_write_never_restores_a_tombstone_a_newer_put_replaced(
    redis_server: RedisServer, prefix: str, opened: list[RedisJournal]
) -> None:
    a = open_journal(redis_server, prefix, opened, "A")
    b = open_journal(redis_server, prefix, opened, "B")
    a.record("k", V1, "delete", CLOUDS)
    a.settle("k", V1, CLOUDS)
    prior = a.record("k", V2, "put", CLOUDS)
    assert prior.tombstone == V1
    b.record("k", V3, "put", CLOUDS)
    a.forget("k", V2, prior)
    assert a.tombstone("k") is None
    assert a.owing == {"k": dict.fromkeys(CLOUDS, V3)}


def test_forgetting_a_failed_write_alone_still_restores_what_it_replaced(
    redis_server: RedisServer, prefix: str, opened: list[RedisJournal]
) -> None:
    a = open_journal(redis_server, prefix, opened, "A")
    open_journal(redis_server, prefix, opened, "B").record("other", V3, "put", CLOUDS)  # another key
    a.record("k", V1, "delete", ("gcs",))
    prior = a.record("k", V2, "put", CLOUDS)
    a.forget("k", V2, prior)
    assert a.owing["k"] == {"gcs": V1} and a.tombstone("k") == V1
    assert [o.version for o in a.owed("gcs") if o.key == "k"] == [V1]


# ---------------------------------------------------------------- taking over behind live entries


def test_a_dead_consumers_entries_behind_many_renewed_ones_are_taken_over(
    redis_server: RedisServer, prefix: str, opened: list[RedisJournal]
) -> None:
    live = open_journal(redis_server, prefix, opened, "live")
    dead = open_journal(redis_server, prefix, opened, "dead")
    heir = open_journal(redis_server, prefix, opened, "heir", lease=30.0)
    for i in range(30):  # older entries, held by a live consumer (idle ~0: renewed)
        live.record(f"live{i}", V1, "put", ["b"])
    for i in range(3):
        dead.record(f"dead{i}", V1, "put", ["b"])
    raw = redis_server.client()
    stream = prefix + "stream:b"
    ids = [p["message_id"] for p in raw.xpending_range(stream, "repair", "-", "+", 100, consumername="dead")]
    raw.xclaim(stream, "repair", "dead", 0, ids, idle=60_000, justid=True)  # dead for a minute
    # limit 2: one XAUTOCLAIM looks at 20 pending entries at most, all of them live ones
    taken: list[str] = []
    after = 0
    for _ in range(8):  # a repair pass: batch after batch
        batch = heir.owed("b", limit=2, after=after)
        taken += [o.key for o in batch]
        after = batch[-1].seq if batch else after
    assert sorted(set(taken)) == ["dead0", "dead1", "dead2"]
    assert not any(heir.entry("b", f"live{i}") for i in range(30))  # the live ones stay with their owner


# ---------------------------------------------------------------- WAIT against a frozen replica


def redis_pair_member(name: str, *extra: str) -> RedisServer:
    """A redis-server on loopback, nothing on disk, a full sync at once (no diskless delay)."""
    binary = redis_server_binary()

    def argv(port: int, workdir: Path) -> list[str]:
        loopback = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        return [binary, *loopback, "--dir", str(workdir), "--repl-diskless-sync-delay", "0", *extra]

    return RedisServer(name, argv)


@pytest.fixture(scope="module")
def replicated() -> Iterator[tuple[RedisServer, RedisServer]]:
    """A primary and its replica, in sync."""
    for primary in started(lambda: redis_pair_member("redis-primary")):
        of_primary = partial(redis_pair_member, "redis-replica", "--replicaof", "127.0.0.1", str(primary.port))
        for replica in started(of_primary):
            wait_in_sync(primary)
            yield primary, replica


def wait_in_sync(primary: RedisServer) -> None:
    """Until the replica acknowledges a write (the first one after a sync takes up to a second)."""
    client = primary.client(timeout=12.0)
    client.set("sync", uuid.uuid4().hex)  # WAIT on a connection that wrote nothing returns at once
    assert client.wait(1, 10_000) >= 1, "the replica never caught up with the primary"
    client.close()


@contextmanager
def frozen(replica: RedisServer, primary: RedisServer) -> Iterator[None]:
    """The replica stopped (SIGSTOP): connected, but it acknowledges nothing."""
    assert replica.pid is not None
    os.kill(replica.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(replica.pid, signal.SIGCONT)
        wait_in_sync(primary)


class FreshConnectionPool(redis.ConnectionPool):
    """A connection of its own for every command, as a pool shared by threads may hand
    out: a command after another is not on the connection that made the first one."""

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        connection = self.make_connection()
        connection.connect()
        return connection

    def release(self, connection: Any) -> None:
        connection.disconnect()


def commands_seen(primary: RedisServer, during: Callable[[], object]) -> list[tuple[str, str]]:
    """(client port, command) of every command ``primary`` ran during ``during()`` (MONITOR)."""
    watcher, marker = primary.client(timeout=5.0), f"end-{uuid.uuid4().hex}"
    seen: list[tuple[str, str]] = []
    with watcher.monitor() as monitor:
        try:
            during()
        finally:
            primary.client().echo(marker)
            while marker not in (command := monitor.next_command())["command"]:
                seen.append((str(command["client_port"]), command["command"]))
    watcher.close()
    return seen


def test_wait_runs_on_the_connection_that_recorded_the_intent(
    replicated: tuple[RedisServer, RedisServer], prefix: str
) -> None:
    primary, replica = replicated
    pool = FreshConnectionPool(host="127.0.0.1", port=primary.port, socket_timeout=2.0)
    journal = RedisJournal(redis.Redis(connection_pool=pool), prefix=prefix, wait_replicas=1, wait_timeout=0.3)
    try:
        seen = commands_seen(primary, lambda: journal.record("before", V1, "put", ["a"]))
        ports = {port for port, command in seen if command.startswith(("EVALSHA ", "WAIT "))}
        assert len(ports) == 1, f"WAIT counts only the writes of its own connection: {seen}"
        with frozen(replica, primary), pytest.raises(Unavailable, match=r"reached 0 of 1 replicas within 0\.3s"):
            journal.record("k", V1, "put", ["a"])
        assert journal.owing == {"before": {"a": V1}} and journal.counts() == {"a": 1}  # k withdrawn
    finally:
        journal.close()


def test_wait_timeout_above_the_client_timeout_is_waited_for_in_full(
    replicated: tuple[RedisServer, RedisServer], prefix: str
) -> None:
    primary, replica = replicated
    journal = RedisJournal.from_url(primary.url, timeout=0.5, prefix=prefix, wait_replicas=1, wait_timeout=1.2)
    try:
        with frozen(replica, primary), pytest.raises(Unavailable) as caught:
            began = time.monotonic()
            journal.record("k", V1, "put", ["a"])
        waited = time.monotonic() - began
        assert "reached 0 of 1 replicas within 1.2s" in str(caught.value)
        assert 1.15 <= waited < 5.0
        assert len(journal) == 0
    finally:
        journal.close()


def test_a_client_whose_socket_timeout_cuts_wait_short_is_refused(redis_server: RedisServer) -> None:
    client = redis_server.client(timeout=0.5)
    with pytest.raises(ConfigError, match="wait_timeout"):
        RedisJournal(client, wait_replicas=1, wait_timeout=1.0)
    RedisJournal(client, wait_replicas=0, wait_timeout=1.0).close()  # no WAIT, no conflict
