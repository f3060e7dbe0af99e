"""`status()` in an incident: recent share of client traffic, passive health, last error and its age."""

from __future__ import annotations

from pathlib import Path

from failover import BreakerConfig, FailoverStorage, FakeClock, Target
from failover.execution.status import passive_verdict
from failover.health.target_health import HealthConfig
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from tests.unit.replicas import make_replicas

A, B = "memory:a", "memory:b"


def pair(clock: FakeClock, breaker: BreakerConfig | None = None) -> tuple[FailoverStorage, list[ChaosProvider]]:
    chaos = [ChaosProvider(MemoryObjectStore(clock=clock), seed=i, clock=clock) for i in range(2)]
    for c in chaos:
        c.put("k", b"v")
    store = FailoverStorage(
        [Target(A, chaos[0]), Target(B, chaos[1], priority=1)],
        clock=clock,
        breaker=breaker or BreakerConfig(consecutive_failures=3, open_base=5.0, jitter=0.0),
        failback_after=0.0,
    )
    return store, chaos


def test_share_covers_the_last_window_not_the_calls_since_start() -> None:
    clock = FakeClock()
    store, _ = pair(clock)
    for _ in range(500):
        store.get("k")
    store.pool.member(A).breaker.force_open("maintenance")
    clock.advance(61.0)
    for _ in range(10):
        store.get("k")
    status = store.status()
    assert status[B].traffic_share == 1.0 and status[A].traffic_share == 0.0
    assert status[B].recent_calls == 10 and status[A].recent_calls == 0
    assert status[A].calls == 500, "the totals since start are kept"


def test_recent_counts_move_second_by_second() -> None:
    clock = FakeClock()
    store, _ = pair(clock)
    store.get("k")
    clock.advance(30.0)
    store.get("k")
    clock.advance(31.0)  # the first call is 61 s old, the second 31 s
    assert store.status()[A].recent_calls == 1


def test_share_leaves_out_trial_calls() -> None:
    clock = FakeClock()
    store, chaos = pair(clock)
    chaos[0].down()
    for _ in range(3):  # three failures open A's breaker; B serves each call
        store.get("k")
    clock.advance(61.0)  # those calls leave the window; A's breaker is due for a trial
    store.get("k")  # a trial on A fails, B serves
    status = store.status()
    assert status[A].recent_calls == 1 and status[A].recent_errors == 1
    assert status[A].traffic_share == 0.0 and status[B].traffic_share == 1.0


def test_share_leaves_out_replication_writes(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, "primary", count=2)
    for i in range(5):
        r.storage.put(f"k{i}", b"v")
    r.storage.repair()  # the copies to memory:b are the library's, not the client's
    for i in range(5):
        r.storage.get(f"k{i}")
    status = r.storage.status()
    assert status["memory:b"].recent_calls > 0, "the replication writes did reach memory:b"
    assert status["memory:a"].traffic_share == 1.0 and status["memory:b"].traffic_share == 0.0


def test_passive_health_is_not_up_beside_errors() -> None:
    clock = FakeClock()
    store, chaos = pair(clock, BreakerConfig(consecutive_failures=0, failure_rate=None))
    chaos[0].down()
    for _ in range(14):
        store.get("k")
    row = store.status()[A]
    assert (row.recent_errors, row.recent_calls) == (14, 14)
    assert row.healthy, "no health checks ran: the probes' verdict is unchanged"
    assert row.health == "failing" and row.cells()[2] == "failing"
    assert "failing" in str(store.status()) and "14/14" in str(store.status())


def test_passive_verdict_thresholds() -> None:
    assert passive_verdict(0, 0) == "up"
    assert passive_verdict(1000, 1) == "up"
    assert passive_verdict(10, 1) == "degraded"
    assert passive_verdict(10, 5) == "failing"


def test_last_error_has_its_age() -> None:
    clock = FakeClock()
    store, chaos = pair(clock)
    chaos[0].down()
    store.get("k")
    chaos[0].heal()
    clock.advance(12.0)
    row = store.status()[A]
    assert row.last_error == "unavailable" and row.last_error_age == 12.0
    assert "unavailable (12s ago)" in str(store.status())


def test_last_error_ages_out_after_recovery() -> None:
    clock = FakeClock()
    store, chaos = pair(clock)
    chaos[0].down()
    store.get("k")
    chaos[0].heal()
    store.get("k")
    clock.advance(61.0)
    row = store.status()[A]
    assert row.last_error is None and row.last_error_age is None
    assert "unavailable" not in str(store.status())


def test_last_error_stays_while_the_target_is_still_out() -> None:
    clock = FakeClock()
    store, chaos = pair(clock, BreakerConfig(consecutive_failures=3, open_base=300.0, open_max=300.0, jitter=0.0))
    chaos[0].down()
    for _ in range(3):
        store.get("k")
    clock.advance(120.0)  # the breaker is still open: no call has told us A is back
    row = store.status()[A]
    assert row.breaker == "open" and row.last_error == "unavailable" and row.last_error_age == 120.0


def test_status_window_is_configurable() -> None:
    clock = FakeClock()
    chaos = [ChaosProvider(MemoryObjectStore(clock=clock), clock=clock)]
    chaos[0].put("k", b"v")
    store = FailoverStorage([Target(A, chaos[0])], clock=clock, health=HealthConfig(status_window=10))
    store.get("k")
    clock.advance(11.0)
    assert store.status()[A].recent_calls == 0 and store.status()[A].window == 10.0
