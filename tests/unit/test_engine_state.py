"""The engine's own state stays true: permits, the meaning of failure, one clock, statuses."""

from __future__ import annotations

from typing import Any

import pytest

from failover import BreakerConfig, ExecutionConfig, FailoverStorage, Target
from failover.breaker.circuit import BreakerState, CircuitBreaker
from failover.classification import Classifier, Verdict
from failover.clock import FakeClock
from failover.errors import (
    AllTargetsFailed,
    ConfigError,
    RetryBudgetExhausted,
    Unavailable,
)
from failover.providers._common import remaining_timeout
from failover.providers.memory import MemoryObjectStore
from tests.unit.pools import NAMES, Rig, make_rig


def half_open_second(rig: Rig) -> CircuitBreaker:
    """Open the second target's breaker, let its open time pass, and take the first down."""
    breaker = rig.storage.pool.member(NAMES[1]).breaker
    for _ in range(3):
        breaker.on_failure(breaker.try_acquire() or pytest.fail("breaker rejected"), 0.0, "unavailable")
    assert breaker.state is BreakerState.OPEN
    rig.clock.advance(60.0)
    rig.chaos[0].down()
    return breaker


@pytest.mark.parametrize(
    ("execution", "raised"),
    [
        (ExecutionConfig(attempt_timeout=1.0, max_attempts=1), AllTargetsFailed),
        (ExecutionConfig(attempt_timeout=1.0, retry_ratio=0.0, retry_floor_per_second=0.0, retry_burst=1.0),
         RetryBudgetExhausted),
    ],
    ids=["max_attempts", "retry_budget"],
)
def test_a_trial_permit_is_given_back_when_the_retry_check_stops_the_call(
    execution: ExecutionConfig, raised: type[Exception]
) -> None:
    rig = make_rig(execution=execution)
    breaker = half_open_second(rig)
    if raised is RetryBudgetExhausted:
        assert rig.storage.pool.executor_for("get").budget.try_spend()  # spend the only token
    with pytest.raises(raised):
        rig.storage.get("seed")
    assert breaker.is_available(), "the half-open target's trial permit leaked"


def test_a_trial_permit_is_given_back_when_the_deadline_stops_the_call() -> None:
    rig = make_rig(execution=ExecutionConfig(attempt_timeout=1.0, deadline=0.5))
    breaker = half_open_second(rig)
    rig.chaos[0].configure(error_rate=1.0, errors=(Unavailable,), latency=1.0)
    with pytest.raises(Exception, match="deadline"):
        rig.storage.get("seed")
    assert breaker.is_available()


class Boom(Exception):
    """Not an error the library knows: a bug in the provider or the caller's code."""


def boom(*_: Any) -> None:
    raise Boom("bug")


def test_executor_and_breaker_call_agree_that_unrecognised_errors_are_not_failures() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("standalone", BreakerConfig(consecutive_failures=1), clock=clock)
    with pytest.raises(Boom):
        breaker.call(boom)
    assert breaker.state is BreakerState.CLOSED and breaker.consecutive_failures == 0
    rig = make_rig()
    rig.chaos[0].configure(error_rate=1.0, errors=(Boom,))
    with pytest.raises(Boom):
        rig.storage.get("seed")
    assert rig.storage.status()[NAMES[0]].errors == 0


def test_a_classifier_makes_a_foreign_exception_a_failure_for_both() -> None:
    classifier = Classifier(failures=(Boom,))
    config = BreakerConfig(consecutive_failures=1)
    breaker = CircuitBreaker("standalone", config, clock=FakeClock(), classifier=classifier)
    with pytest.raises(Boom):
        breaker.call(boom)
    assert breaker.state is BreakerState.OPEN
    rig = make_rig(execution=ExecutionConfig(attempt_timeout=1.0, classifier=classifier))
    rig.chaos[0].configure(error_rate=1.0, errors=(Boom,))
    assert rig.storage.get("seed") == b"seed-data"  # failed over
    assert rig.storage.status()[NAMES[0]].errors == 1


def test_a_classifier_answer_propagates_unchanged_and_counts_as_alive() -> None:
    def should_handle(exc: BaseException) -> Verdict | None:
        return Verdict.ANSWER if isinstance(exc, Boom) else None

    rig = make_rig(execution=ExecutionConfig(attempt_timeout=1.0, classifier=Classifier(should_handle=should_handle)))
    rig.chaos[0].configure(error_rate=1.0, errors=(Boom,))
    with pytest.raises(Boom):
        rig.storage.get("seed")
    assert [c.calls for c in rig.chaos] == [1, 0, 0]
    assert rig.storage.status()[NAMES[0]].errors == 0


@pytest.mark.parametrize("bad", [(KeyError, 3), "KeyError", (int,)])
def test_a_classifier_refuses_what_is_not_exception_classes(bad: Any) -> None:
    with pytest.raises(ConfigError, match="failures"):
        Classifier(failures=bad)


class DeadlineReader(MemoryObjectStore):
    """Reads the attempt deadline the way the cloud adapters do."""

    reads_deadline = True

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float] = []

    def get(self, key: str) -> bytes:
        self.timeouts.append(remaining_timeout(5.0, operation="get"))
        return super().get(key)


@pytest.mark.parametrize("start", [0.0, 1e9])
def test_adapters_measure_the_deadline_on_the_executors_clock(start: float) -> None:
    reader = DeadlineReader()
    reader.put("k", b"v")
    store = FailoverStorage(
        [Target("memory:a", reader)], clock=FakeClock(start), execution=ExecutionConfig(attempt_timeout=2.0)
    )
    assert store.get("k") == b"v"
    assert reader.timeouts == [2.0]


def test_every_target_failing_is_persistent_not_temporary() -> None:
    rig = make_rig()
    for chaos in rig.chaos:
        chaos.down()
    with pytest.raises(AllTargetsFailed) as caught:
        rig.storage.get("seed")
    assert caught.value.status == "persistent" and not caught.value.temporary


def test_a_nested_facade_fails_over_on_the_inner_facades_persistent_error() -> None:
    inner = make_rig(2)
    for chaos in inner.chaos:
        chaos.down()
    spare = MemoryObjectStore()
    spare.put("seed", b"spare")
    outer = FailoverStorage([Target("nested", inner.storage, priority=0), Target("memory:spare", spare, priority=1)])
    assert outer.get("seed") == b"spare"
    assert outer.status()["nested"].errors == 1


def test_all_targets_failed_names_the_targets_skipped_behind_open_breakers() -> None:
    rig = make_rig()
    rig.storage.pool.member(NAMES[0]).breaker.force_open()
    rig.chaos[1].down()
    rig.chaos[2].down()
    with pytest.raises(AllTargetsFailed) as caught:
        rig.storage.put("k", b"v")
    assert caught.value.skipped == (NAMES[0],)
    assert f"{NAMES[0]}: skipped (breaker open or unhealthy)" in str(caught.value)
