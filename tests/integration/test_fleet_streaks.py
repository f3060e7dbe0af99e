"""Failure streaks counted across a fleet on a real redis-server: processes that each saw
fewer failures than the threshold open the breaker together, and learn it within
milliseconds; a success ends the fleet's streak; Redis down leaves each process alone."""

from __future__ import annotations

import uuid

import redis

from failover import BreakerConfig, BreakerState, FailoverStorage, Target
from failover.fleet.fleet_failures import streak_key
from failover.fleet.redis_store import RedisBreakerStore, connect
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from failover.testing.redis import RedisServer
from tests.integration.test_fleet_push import SLOW_POLL, wait_for

CONFIG = BreakerConfig(consecutive_failures=3, failure_rate=None, open_base=30.0, jitter=0.0)


def fleet(url: str, size: int) -> tuple[list[FailoverStorage], ChaosProvider]:
    prefix = f"streak:{uuid.uuid4().hex}:"
    primary = ChaosProvider(MemoryObjectStore())
    backup = MemoryObjectStore()
    for provider in (primary, backup):
        provider.put("k", b"v")
    facades = []
    for _ in range(size):
        store = RedisBreakerStore(connect(url), prefix=prefix, sync_interval=SLOW_POLL)
        targets = [Target("aws:us-east-1", primary), Target("gcp:europe-west1", backup, priority=1)]
        facades.append(FailoverStorage(targets, breaker=CONFIG, breaker_store=store))
    return facades, primary


def store_of(facade: FailoverStorage) -> RedisBreakerStore:
    store = facade.pool.member("aws:us-east-1").breaker.store
    assert isinstance(store, RedisBreakerStore)
    return store


def flush(*facades: FailoverStorage) -> None:
    for facade in facades:
        assert store_of(facade).flush()


def breakers(facades: list[FailoverStorage]) -> list[BreakerState]:
    return [f.pool.member("aws:us-east-1").breaker.state for f in facades]


def test_processes_below_the_threshold_each_open_together_within_milliseconds(redis_server: RedisServer) -> None:
    facades, primary = fleet(redis_server.url, 3)
    for facade in facades:
        facade.start()
    try:
        primary.down()
        for facade in facades:
            assert facade.get("k") == b"v"  # one failure each, answered by the backup
        took = wait_for(lambda: breakers(facades) == [BreakerState.OPEN] * 3)
        assert took < 1.0, f"opened across the fleet after {took:.3f}s"
        reason = facades[0].pool.member("aws:us-east-1").breaker.reason
        assert "3 consecutive failures across the fleet" in reason
    finally:
        for facade in facades:
            facade.close()


def test_a_success_in_one_process_ends_the_fleets_streak(redis_server: RedisServer) -> None:
    facades, primary = fleet(redis_server.url, 3)
    first, second, third = facades
    for facade in facades:
        facade.start()
    try:
        primary.down()
        # Reports travel on each process's own writer thread: each step lands before the
        # next, as in a fleet where the success came well after the failures and before
        # the next one.
        first.get("k")
        second.get("k")
        flush(first, second)
        primary.heal()
        second.get("k")  # answered by the primary: the streak is over
        flush(second)
        primary.down()
        third.get("k")
        flush(third)
        # What Redis holds decides: the fleet's streak is the third's one failure, no opening.
        client = redis.Redis.from_url(redis_server.url)
        prefix = store_of(third).prefix
        assert client.get(streak_key(prefix, "aws:us-east-1")) == b"1"
        assert client.hget(prefix + "aws:us-east-1", "state") is None
    finally:
        for facade in facades:
            facade.close()


def test_with_redis_unreachable_each_process_counts_alone() -> None:
    from failover.testing.servers import closed_port

    store = RedisBreakerStore(connect(f"redis://127.0.0.1:{closed_port()}/0"), prefix="gone:")
    primary = ChaosProvider(MemoryObjectStore())
    primary.put("k", b"v")
    backup = MemoryObjectStore()
    backup.put("k", b"v")
    facade = FailoverStorage(
        [Target("aws:us-east-1", primary), Target("gcp:europe-west1", backup, priority=1)],
        breaker=CONFIG,
        breaker_store=store,
    )
    primary.down()
    for _ in range(CONFIG.consecutive_failures):
        assert facade.get("k") == b"v"  # no caller error while the store cannot be reached
    assert breakers([facade]) == [BreakerState.OPEN]
    store.close()


def test_a_local_opening_ends_the_fleets_streak(redis_server: RedisServer) -> None:
    facades, primary = fleet(redis_server.url, 1)
    (alone,) = facades
    primary.down()
    for _ in range(CONFIG.consecutive_failures):
        alone.get("k")  # opens on its own; the failures it reported first must not linger
    flush(alone)
    client = redis.Redis.from_url(redis_server.url)
    prefix = store_of(alone).prefix
    assert client.hget(prefix + "aws:us-east-1", "state") == b"open"
    assert client.get(streak_key(prefix, "aws:us-east-1")) is None
    alone.close()


def test_without_streaks_each_process_counts_alone(redis_server: RedisServer) -> None:
    prefix = f"alone:{uuid.uuid4().hex}:"
    stores = [RedisBreakerStore(connect(redis_server.url), prefix=prefix, streaks=False) for _ in range(3)]
    primary = ChaosProvider(MemoryObjectStore())
    backup = MemoryObjectStore()
    for provider in (primary, backup):
        provider.put("k", b"v")
    facades = [
        FailoverStorage(
            [Target("aws:us-east-1", primary), Target("gcp:europe-west1", backup, priority=1)],
            breaker=CONFIG,
            breaker_store=store,
        )
        for store in stores
    ]
    primary.down()
    for facade in facades:
        facade.get("k")
    flush(*facades)
    client = redis.Redis.from_url(redis_server.url)
    assert client.get(streak_key(prefix, "aws:us-east-1")) is None
    assert client.hget(prefix + "aws:us-east-1", "state") is None
    for store in stores:
        store.close()
