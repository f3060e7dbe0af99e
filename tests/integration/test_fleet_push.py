"""Breaker state pushed to a fleet through a real redis-server: adopted in milliseconds by every
started facade, never at a caller's expense, and resynced after Redis comes back.

Each "process" is a facade with its own Redis client; the shared-breaker failure modes known
from other libraries each have a test named after the behaviour."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from failover import BreakerConfig, BreakerState, FailoverStorage, FakeClock, Target
from failover.breaker.circuit import CircuitBreaker
from failover.fleet.redis_store import RedisBreakerStore, connect
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from failover.testing.proxy import TcpProxy
from failover.testing.redis import RedisServer

CONFIG = BreakerConfig(consecutive_failures=2, failure_rate=None, open_base=10.0, jitter=0.0)
SLOW_POLL = 60.0  # the backstop poll never runs within a test: only the push can explain adoption


def wait_for(predicate: Callable[[], bool], seconds: float = 5.0) -> float:
    """Seconds until ``predicate`` held; fails the test if it never did."""
    started = time.monotonic()
    tick = threading.Event()
    while not predicate():
        if time.monotonic() - started > seconds:
            pytest.fail(f"not within {seconds}s")
        tick.wait(0.002)
    return time.monotonic() - started


def process(url: str, prefix: str, primary: MemoryObjectStore | ChaosProvider) -> FailoverStorage:
    store = RedisBreakerStore(connect(url), prefix=prefix, sync_interval=SLOW_POLL)
    targets = [Target("aws:us-east-1", primary), Target("gcp:europe-west1", MemoryObjectStore(), priority=1)]
    return FailoverStorage(targets, breaker=CONFIG, breaker_store=store)


def test_an_opened_breaker_reaches_every_started_facade_within_milliseconds(redis_server: RedisServer) -> None:
    prefix = f"push:{uuid.uuid4().hex}:"
    chaos = ChaosProvider(MemoryObjectStore())
    chaos.put("k", b"v")
    first, second = process(redis_server.url, prefix, chaos), process(redis_server.url, prefix, MemoryObjectStore())
    with first, second:
        theirs = second.pool.member("aws:us-east-1").breaker
        chaos.down()
        for _ in range(CONFIG.consecutive_failures):
            with pytest.raises(Exception):  # noqa: B017 - the backup lacks k: the read fails, the breaker counts
                first.get("k")
        assert first.pool.member("aws:us-east-1").breaker.state is BreakerState.OPEN
        took = wait_for(lambda: theirs.state is BreakerState.OPEN)
        assert took < 1.0, f"adopted after {took:.3f}s"
        first.release("aws:us-east-1")  # a reset is pushed too
        first.force_open("aws:us-east-1", "maintenance")
        wait_for(lambda: theirs.state is BreakerState.FORCED_OPEN)
        first.release("aws:us-east-1")
        wait_for(lambda: theirs.state is BreakerState.CLOSED)


def test_a_blackholed_redis_never_delays_a_caller(redis_server: RedisServer) -> None:
    with TcpProxy(redis_server.port) as proxy:
        store = RedisBreakerStore(connect(f"redis://{proxy.endpoint.split('://')[-1]}/0"), prefix="hole:")
        breaker = CircuitBreaker("aws:us-east-1", CONFIG, store=store)
        proxy.blackhole()
        slowest = 0.0
        for _ in range(20):  # every other call opens or resets the breaker: a save each time
            started = time.monotonic()
            breaker.reset()
            for _ in range(CONFIG.consecutive_failures):
                permit = breaker.try_acquire()
                assert permit is not None
                breaker.on_failure(permit, 0.001, "unavailable")
            slowest = max(slowest, time.monotonic() - started)
        assert breaker.state is BreakerState.OPEN
        assert slowest < 0.05, f"a transition waited {slowest * 1000:.0f} ms for Redis"
        store.close()


def test_a_transition_redis_refused_reaches_the_fleet_once_redis_is_back(redis_server: RedisServer) -> None:
    prefix = f"refused:{uuid.uuid4().hex}:"
    with TcpProxy(redis_server.port) as proxy:
        through_proxy = f"redis://{proxy.endpoint.split('://')[-1]}/0"
        first = process(through_proxy, prefix, MemoryObjectStore())
        second = process(redis_server.url, prefix, MemoryObjectStore())
        with first, second:
            ours = first.pool.member("aws:us-east-1").breaker
            theirs = second.pool.member("aws:us-east-1").breaker
            proxy.blackhole()
            first.force_open("aws:us-east-1", "maintenance")  # its save times out
            time.sleep(0.5)
            proxy.pass_through()
            wait_for(lambda: theirs.state is BreakerState.FORCED_OPEN)
            assert ours.state is BreakerState.FORCED_OPEN  # not undone by the stale stored state


class _FailingOnce:
    """A Redis client whose first pipeline fails, as a read timing out under load does."""

    def __init__(self, client: object) -> None:
        self._client = client
        self.failed = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    def pipeline(self, *args: object, **kwargs: object) -> object:
        if not self.failed:
            self.failed = True
            raise RedisConnectionError("read timed out")
        return self._client.pipeline(*args, **kwargs)  # type: ignore[attr-defined]


def test_an_announcement_whose_read_failed_is_adopted_once_redis_answers(redis_server: RedisServer) -> None:
    prefix = f"misread:{uuid.uuid4().hex}:"
    first = process(redis_server.url, prefix, MemoryObjectStore())
    store = RedisBreakerStore(connect(redis_server.url), prefix=prefix, sync_interval=SLOW_POLL, retry_after=0.5)
    backup = Target("gcp:europe-west1", MemoryObjectStore(), priority=1)
    targets = [Target("aws:us-east-1", MemoryObjectStore()), backup]
    second = FailoverStorage(targets, breaker=CONFIG, breaker_store=store)
    with first, second:
        theirs = second.pool.member("aws:us-east-1").breaker
        wait_for(lambda: store.subscribed)
        time.sleep(0.2)  # the subscription's first read of every breaker is done
        flaky = _FailingOnce(store.client)
        store.client = flaky  # type: ignore[assignment]
        first.force_open("aws:us-east-1", "maintenance")
        wait_for(lambda: flaky.failed)
        wait_for(lambda: theirs.state is BreakerState.FORCED_OPEN)


def test_open_time_is_read_back_so_an_adopting_worker_half_opens(redis_server: RedisServer) -> None:
    store = RedisBreakerStore(connect(redis_server.url), prefix=f"ht:{uuid.uuid4().hex}:")
    opener = CircuitBreaker("t", CONFIG, clock=FakeClock(), store=store)
    worker_clock = FakeClock()
    worker = CircuitBreaker("t", CONFIG, clock=worker_clock, store=store)
    for _ in range(CONFIG.consecutive_failures):
        opener.on_failure(opener.try_acquire() or pytest.fail("closed"), 0.001, "unavailable")
    assert store.flush()
    worker.sync()
    assert worker.state is BreakerState.OPEN and worker.try_acquire() is None
    worker_clock.advance(CONFIG.open_base + 0.1)
    permit = worker.try_acquire()
    assert permit is not None and permit.trial, "past the open time read from the store, a trial goes through"


def test_a_new_breaker_does_not_reset_the_shared_state(redis_server: RedisServer) -> None:
    store = RedisBreakerStore(connect(redis_server.url), prefix=f"new:{uuid.uuid4().hex}:")
    opener = CircuitBreaker("t", CONFIG, store=store)
    opener.force_open("maintenance")
    assert store.flush()
    newcomer = CircuitBreaker("t", CONFIG, store=store)  # a process starting up
    assert store.flush()
    stored = store.load("t")
    assert stored is not None and stored.state == "forced_open"
    newcomer.sync()
    assert newcomer.state is BreakerState.FORCED_OPEN


def test_lost_redis_data_raises_nothing_and_breakers_carry_on(redis_server: RedisServer) -> None:
    prefix = f"lost:{uuid.uuid4().hex}:"
    with process(redis_server.url, prefix, MemoryObjectStore()) as facade:
        breaker = facade.pool.member("aws:us-east-1").breaker
        breaker.force_open("maintenance")
        client = connect(redis_server.url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        facade.pool.store_sync.run_once()  # type: ignore[union-attr]
        assert breaker.state is BreakerState.FORCED_OPEN, "nothing stored is not a reason to change state"
        facade.put("k", b"v")  # on the other target: calls carry on
        assert facade.get("k") == b"v"


def test_a_returning_redis_resyncs_what_was_missed(own_redis: RedisServer) -> None:
    prefix = "resync:"
    with process(own_redis.url, prefix, MemoryObjectStore()) as facade:
        breaker = facade.pool.member("aws:us-east-1").breaker
        own_redis.kill()
        own_redis.start()  # same port, empty; the subscription reconnects within retry_after
        other = RedisBreakerStore(connect(own_redis.url), prefix=prefix)
        CircuitBreaker("aws:us-east-1", CONFIG, store=other).force_open("during the reconnect")
        assert other.flush()
        wait_for(lambda: breaker.state is BreakerState.FORCED_OPEN, seconds=5.0)


def test_closing_the_facade_ends_its_subscription(redis_server: RedisServer) -> None:
    facade = process(redis_server.url, f"close:{uuid.uuid4().hex}:", MemoryObjectStore())
    store = facade.pool.member("aws:us-east-1").breaker.store
    assert isinstance(store, RedisBreakerStore) and not store.subscribed
    with facade:
        assert store.subscribed
    assert not store.subscribed, "a closed facade must not keep a thread listening to Redis"


def test_a_transition_still_on_its_way_to_redis_is_not_undone_by_a_sync(redis_server: RedisServer) -> None:
    with TcpProxy(redis_server.port) as proxy:
        url = f"redis://{proxy.endpoint.split('://')[-1]}/0"
        store = RedisBreakerStore(connect(url), prefix=f"undo:{uuid.uuid4().hex}:")
        breaker = CircuitBreaker("t", CONFIG, store=store)
        breaker.reset("seed")
        assert store.flush()
        proxy.delay(0.1)  # the next write takes a while to land (within the client's 0.25 s timeout)
        breaker.force_open("maintenance")
        breaker.sync()  # Redis still holds "closed": ours is newer
        assert breaker.state is BreakerState.FORCED_OPEN
        assert store.flush()
        proxy.pass_through()
        stored = store.load("t")
        assert stored is not None and stored.state == "forced_open"
        store.close()


def test_a_stray_message_on_the_channel_does_not_end_the_subscription(redis_server: RedisServer) -> None:
    prefix = f"stray:{uuid.uuid4().hex}:"
    with process(redis_server.url, prefix, MemoryObjectStore()) as facade:
        store = facade.pool.member("aws:us-east-1").breaker.store
        assert isinstance(store, RedisBreakerStore)
        wait_for(lambda: store.subscribed)
        connect(redis_server.url).publish(store.channel, b"\xff\xfe not a name")
        other = RedisBreakerStore(connect(redis_server.url), prefix=prefix)
        CircuitBreaker("aws:us-east-1", CONFIG, store=other).force_open("after the stray message")
        assert other.flush()
        breaker = facade.pool.member("aws:us-east-1").breaker
        wait_for(lambda: breaker.state is BreakerState.FORCED_OPEN)
        assert store.subscribed
        other.close()


def test_a_started_facade_has_loaded_its_store_scripts_before_the_first_failure(redis_server: RedisServer) -> None:
    client = connect(redis_server.url)
    client.script_flush()  # what a restarted Redis holds: no script
    facade = process(redis_server.url, f"warm:{uuid.uuid4().hex}:", MemoryObjectStore())
    store = facade.pool.member("aws:us-east-1").breaker.store
    assert isinstance(store, RedisBreakerStore)
    scripts = [store._save_script.sha, store._streaks._script.sha]
    with facade:
        wait_for(lambda: all(client.script_exists(*scripts)))
        names = {t.name for t in threading.enumerate()}
        assert {"failover-redis-writer", "failover-redis-streaks"} <= names, "writers run before any value"
    client.close()
