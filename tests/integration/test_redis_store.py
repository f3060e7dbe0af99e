"""Fleet-shared breaker state and leader lock on a real redis-server.

Breakers run on fake clocks (each "process" its own); Redis keeps real time, so open
times and lock TTLs are checked against Redis's clock with small real sleeps (< 1 s).
Outages kill a redis-server started by the test itself, never the session's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from failover import FakeClock, HealthConfig, Target
from failover.breaker.circuit import PASS, BreakerConfig, BreakerState, CircuitBreaker
from failover.breaker.store import StoredState
from failover.controllers.dns_controller import DnsController, Endpoint
from failover.errors import CircuitOpen, ConfigError, NotFound
from failover.fleet.redis_store import RedisBreakerStore, RedisLeaderLock, connect
from failover.providers.memory import MemoryDnsZone
from failover.testing.redis import RedisServer
from tests.integration.servers import unique

pytestmark = pytest.mark.integration

CONFIG = BreakerConfig(consecutive_failures=2, failure_rate=None, open_base=10.0, jitter=0.0)


def refused() -> None:
    raise ConnectionRefusedError("target down")


def ok() -> str:
    return "ok"


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(CONFIG.consecutive_failures):
        with pytest.raises(ConnectionRefusedError):
            breaker.call(refused)
    assert breaker.state is BreakerState.OPEN


def redis_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "failover.redis" and r.levelno == logging.WARNING]


@pytest.fixture
def client(redis_server: RedisServer) -> Any:
    return redis_server.client()


def client_url(client: Any) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/0"


# ---------------------------------------------------------------- breaker state


def test_an_open_breaker_is_adopted_with_its_remaining_time_and_closing_propagates(client: Any) -> None:
    store = RedisBreakerStore(client, prefix=unique("brk") + ":")
    a = CircuitBreaker("aws:us-east-1", CONFIG, clock=FakeClock(), store=store)
    b = CircuitBreaker("aws:us-east-1", CONFIG, clock=FakeClock(5000.0), store=store)

    trip(a)
    assert store.flush(), "saves are written on the store's own thread"
    b.sync()
    assert b.state is BreakerState.OPEN
    assert 9.0 < b.retry_in() <= 10.0, "remaining open time by Redis's clock, not a's"
    assert b.try_acquire() is None
    with pytest.raises(CircuitOpen):
        b.call(ok)

    # a's open time passes on a's clock; a trial succeeds and a closes.
    a._clock.advance(10.0)  # type: ignore[attr-defined]
    assert a.call(ok) == "ok"
    assert a.state is BreakerState.CLOSED
    assert store.flush()
    b.sync()
    assert b.state is BreakerState.CLOSED
    assert b.try_acquire() is PASS


def test_the_store_counts_down_on_the_redis_clock_and_never_goes_negative(client: Any) -> None:
    store = RedisBreakerStore(client, prefix=unique("brk") + ":")
    assert store.load("nobody") is None
    store.save("t", StoredState("open", 3, 0.3, "3 consecutive failures"))
    assert store.flush()
    first = store.load("t")
    assert first is not None
    assert (first.state, first.opens, first.reason) == ("open", 3, "3 consecutive failures")
    assert 0.1 < first.open_for <= 0.3
    as_text = RedisBreakerStore(connect(client_url(client), decode_responses=True), prefix=store.prefix)
    assert as_text.load("t") is not None, "clients that decode responses work too"
    time.sleep(0.35)
    later = store.load("t")
    assert later is not None and later.open_for == 0.0
    raw = {k.decode(): v.decode() for k, v in client.hgetall(store.key("t")).items()}
    assert set(raw) == {"state", "opens", "reason", "open_until_ms"}


def test_a_redis_outage_degrades_to_local_breakers_and_sharing_resumes(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="failover.redis")
    store_clock = FakeClock()
    store = RedisBreakerStore(own_redis.client(), prefix="fleet:", retry_after=1.0, clock=store_clock)
    a = CircuitBreaker("gcp:europe-west1", CONFIG, clock=FakeClock(), store=store)
    b = CircuitBreaker("gcp:europe-west1", CONFIG, clock=FakeClock(), store=store)
    b.sync()  # connects while Redis is up

    own_redis.kill()
    began = time.monotonic()
    trip(a)  # the save fails inside the transition: no exception reaches the caller
    with pytest.raises(CircuitOpen):
        a.call(ok)
    b.sync()
    assert b.state is BreakerState.CLOSED, "nothing shared while Redis is down"
    assert b.call(ok) == "ok"
    store_clock.advance(1.5)  # past retry_after: Redis is tried again, and fails again
    b.sync()
    a.reset()
    trip(a)
    assert time.monotonic() - began < 2.0, "a dead Redis must fail fast"
    assert store.flush()
    warnings = redis_warnings(caplog)
    assert len(warnings) == 1, warnings  # once per streak
    assert "unreachable" in warnings[0] and f"127.0.0.1:{own_redis.port}" in warnings[0]

    own_redis.start()  # same port, empty
    store_clock.advance(1.5)
    a.reset()
    trip(a)
    assert store.flush()
    b.sync()
    assert b.state is BreakerState.OPEN, "sharing resumes once Redis is back"
    assert any("reachable again" in r.getMessage() for r in caplog.records if r.name == "failover.redis")


def test_warnings_never_carry_the_password(own_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    client = connect(f"redis://:hunter2-secret@127.0.0.1:{own_redis.port}/0")
    own_redis.kill()
    store = RedisBreakerStore(client, prefix="x:")
    store.save("t", StoredState("open", 1, 5.0))
    assert store.flush()
    assert store.load("t") is None
    lock = RedisLeaderLock(client, "leader:x")
    assert not lock.try_acquire()
    text = caplog.text + repr(store) + repr(lock)
    assert redis_warnings(caplog)
    assert "hunter2" not in text


# ---------------------------------------------------------------- leader lock


def test_exactly_one_of_two_locks_acquires_and_renewal_keeps_it(client: Any) -> None:
    name = unique("leader")
    a, b = RedisLeaderLock(client, name, ttl=0.5), RedisLeaderLock(client, name, ttl=0.5)
    assert a.owner != b.owner
    assert [a.try_acquire(), b.try_acquire()] == [True, False]
    for _ in range(7):  # 0.7 s in all, longer than the ttl: renewed each time
        time.sleep(0.1)
        assert a.try_acquire()
        assert not b.try_acquire()
    assert client.get(name).decode() == a.owner
    a.release()
    assert client.get(name) is None
    assert b.try_acquire()


def test_an_unrenewed_lock_expires_and_the_other_takes_it(client: Any) -> None:
    name = unique("leader")
    a, b = RedisLeaderLock(client, name, ttl=0.2), RedisLeaderLock(client, name, ttl=0.2)
    assert a.try_acquire()
    time.sleep(0.3)
    assert b.try_acquire()
    assert not a.try_acquire(), "a lost it while not renewing"
    assert not a.held


def test_release_by_a_non_owner_does_nothing(client: Any) -> None:
    name = unique("leader")
    a, b = RedisLeaderLock(client, name, ttl=0.2), RedisLeaderLock(client, name, ttl=5.0)
    assert a.try_acquire()
    b.release()  # never held it
    assert client.get(name).decode() == a.owner
    time.sleep(0.3)  # a's lock expires while a still believes it holds it
    assert b.try_acquire()
    assert a.held
    a.release()  # the key holds b's token now: the owner check keeps it
    assert client.get(name).decode() == b.owner
    assert b.try_acquire()


def test_redis_down_means_not_the_leader(own_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    lock = RedisLeaderLock(own_redis.client(), "leader", ttl=5.0, clock=clock)
    assert lock.try_acquire()
    own_redis.kill()
    assert not lock.try_acquire(), "leadership that cannot be proven is not assumed"
    assert len(redis_warnings(caplog)) == 1
    own_redis.start()  # empty: the key is gone
    assert not lock.try_acquire(), "still pausing for retry_after"
    clock.advance(1.5)
    assert lock.try_acquire()


def test_ttl_must_be_positive(client: Any) -> None:
    with pytest.raises(ConfigError):
        RedisLeaderLock(client, "leader", ttl=0)


# ---------------------------------------------------------------- DnsController with a Redis lock

NAME = "api.example.com."


@dataclass
class Up:
    def check(self, timeout: float) -> None:
        return None


def controller(lock: RedisLeaderLock, zone: MemoryDnsZone, clock: FakeClock) -> DnsController:
    return DnsController(
        NAME,
        "A",
        [Endpoint("192.0.2.1", Up(), priority=0)],
        [Target("memory:dns", zone)],
        interval=1.0,
        timeout=0.5,
        jitter=0.0,
        health=HealthConfig(rise=1, fall=1),
        clock=clock,
        lock=lock,
    )


def record(zone: MemoryDnsZone) -> tuple[str, ...] | None:
    try:
        return zone.get_record(NAME, "A").values
    except NotFound:
        return None


def test_dns_failover_with_a_redis_lock_only_the_leader_writes(client: Any) -> None:
    name = unique("dns-leader")
    clock = FakeClock()
    zones = [MemoryDnsZone("example.com."), MemoryDnsZone("example.com.")]
    leader = controller(RedisLeaderLock(client, name, ttl=5.0), zones[0], clock)
    follower = controller(RedisLeaderLock(client, name, ttl=5.0), zones[1], clock)
    for _ in range(3):
        clock.advance(1.0)
        assert leader.run_once().leader
        assert not follower.run_once().leader
    assert record(zones[0]) == ("192.0.2.1",)
    assert record(zones[1]) is None, "the follower wrote nothing"
    leader.stop()  # releases the lock
    clock.advance(1.0)
    assert follower.run_once().leader
    assert record(zones[1]) == ("192.0.2.1",)


def test_dns_controller_config_takes_a_redis_lock(tmp_path: Path, redis_server: RedisServer) -> None:
    from failover.config.dns import load

    config = tmp_path / "dns.toml"
    config.write_text(
        f'lock = "{redis_server.url}"\n'
        '[record]\nname = "api.example.com."\n'
        '[[endpoints]]\nvalue = "192.0.2.1"\ntcp = "127.0.0.1:9"\n'
        '[[providers]]\nname = "memory:a"\nkind = "memory"\nzone = "example.com."\n'
    )
    first, second = load(config).build(), load(config).build()
    assert first.run_once().leader
    assert not second.run_once().leader, "two controllers of one record never both lead"
    first.stop()
    assert second.run_once().leader
    second.stop()
