"""Execution: which errors fail over, retry budget, deadlines, idempotency, listing resume."""

from __future__ import annotations

import io

import pytest

from failover import BreakerConfig, BreakerState, ExecutionConfig
from failover.errors import (
    AllTargetsFailed,
    CircuitOpen,
    ConfigError,
    DeadlineExceeded,
    InvalidInput,
    InvalidRequest,
    NotFound,
    RetryBudgetExhausted,
    Timeout,
    Unavailable,
)
from tests.unit.pools import make_rig


def test_not_found_is_an_answer_not_a_failure() -> None:
    rig = make_rig()
    with pytest.raises(NotFound) as info:
        rig.storage.get("missing")
    assert isinstance(info.value, FileNotFoundError)
    assert info.value.target == "memory:a" and info.value.operation == "get"
    assert rig.chaos[1].calls == 0, "a permanent error must not be retried on another target"
    assert rig.storage.status()["memory:a"].errors == 0


def test_permanent_error_from_provider_is_raised_as_is() -> None:
    rig = make_rig()
    rig.chaos[0].configure(error_rate=1.0, errors=(InvalidRequest,))
    with pytest.raises(InvalidRequest):
        rig.storage.get("seed")
    assert rig.storage.status()["memory:a"].breaker == "closed"


@pytest.mark.parametrize("builtin", [ConnectionResetError, TimeoutError, BrokenPipeError])
def test_builtin_network_errors_count_as_temporary(builtin: type[Exception]) -> None:
    rig = make_rig()
    rig.chaos[0].configure(error_rate=1.0, errors=(builtin,))
    assert rig.storage.get("seed") == b"seed-data"
    assert rig.storage.status()["memory:a"].errors == 1


def test_a_circuitbreaker_guarded_provider_fails_over_when_its_circuit_opens() -> None:
    import circuitbreaker

    rig = make_rig()
    primary = rig.stores[0]

    @circuitbreaker.circuit(failure_threshold=1, recovery_timeout=60, expected_exception=ConnectionError)
    def guarded_get(key: str) -> bytes:
        raise ConnectionResetError("peer reset")

    primary.get = guarded_get  # type: ignore[method-assign]
    assert rig.storage.get("seed") == b"seed-data"  # ConnectionResetError: fails over
    assert rig.storage.get("seed") == b"seed-data"  # CircuitBreakerError: fails over too
    assert rig.storage.status()["memory:a"].errors == 2
    assert rig.storage.status()["memory:a"].last_error == "unavailable"


def test_unknown_exceptions_are_bugs_and_propagate_unchanged() -> None:
    rig = make_rig()
    rig.chaos[0].configure(error_rate=1.0, errors=(KeyError,))
    with pytest.raises(KeyError):
        rig.storage.get("seed")
    assert rig.chaos[1].calls == 0


def test_retry_budget_caps_retries_when_every_target_fails() -> None:
    rig = make_rig(
        breaker=BreakerConfig(consecutive_failures=0, failure_rate=None),  # never opens
        execution=ExecutionConfig(retry_ratio=0.1, retry_floor_per_second=0.0, retry_burst=5),
    )
    for chaos in rig.chaos:
        chaos.down()
    outcomes = []
    for _ in range(200):
        with pytest.raises((AllTargetsFailed, RetryBudgetExhausted)) as info:
            rig.storage.get("seed")
        outcomes.append(type(info.value))
    attempts = sum(c.calls for c in rig.chaos)
    retries = attempts - 200
    assert retries <= 5 + 0.1 * 200 + 1, f"{retries} retries for 200 calls breaks the budget"
    assert RetryBudgetExhausted in outcomes


def test_retry_budget_refills_over_time_at_the_floor_rate() -> None:
    rig = make_rig(execution=ExecutionConfig(retry_ratio=0.0, retry_floor_per_second=1.0, retry_burst=1))
    budget = rig.storage.pool.executor_for("get").budget
    assert budget.try_spend()
    assert not budget.try_spend()
    rig.clock.advance(1.0)
    assert budget.try_spend()


def test_blackholed_primary_times_out_at_the_attempt_deadline_and_fails_over() -> None:
    rig = make_rig(execution=ExecutionConfig(attempt_timeout=2.0, deadline=10.0))
    rig.chaos[0].configure(blackhole=1.0)
    start = rig.clock.monotonic()
    assert rig.storage.get("seed") == b"seed-data"
    assert rig.clock.monotonic() - start == pytest.approx(2.0)
    assert rig.storage.status()["memory:a"].last_error == "timeout"


def test_overall_deadline_stops_further_attempts() -> None:
    rig = make_rig(execution=ExecutionConfig(attempt_timeout=4.0, deadline=6.0))
    rig.chaos[0].configure(blackhole=1.0)
    rig.chaos[1].configure(blackhole=1.0)
    with pytest.raises(DeadlineExceeded) as info:
        rig.storage.get("seed")
    assert isinstance(info.value, TimeoutError)
    assert rig.chaos[2].calls == 0
    assert isinstance(info.value.__cause__, Timeout)


def test_non_idempotent_operation_is_not_retried_elsewhere() -> None:
    rig = make_rig()
    rig.chaos[0].down()
    stream = _Unseekable(b"payload")
    with pytest.raises(Unavailable):
        rig.storage.put("k", stream)
    assert rig.chaos[1].calls == 0


def test_seekable_stream_is_rewound_for_the_next_target() -> None:
    rig = make_rig()
    rig.chaos[0].down()
    info = rig.storage.put("k", io.BytesIO(b"payload"))
    assert info.size == 7
    assert rig.stores[1].get("k") == b"payload"


def test_listing_resumes_on_the_next_target_after_a_midway_failure() -> None:
    rig = make_rig()
    for store in rig.stores:
        for i in range(10):
            store.put(f"list/{i:02d}", b"x")
    primary = rig.stores[0]
    whole_listing = primary.list

    def list_then_drop(prefix: str = ""):  # type: ignore[no-untyped-def]
        for count, info in enumerate(whole_listing(prefix)):
            if count == 4:
                raise ConnectionResetError("connection dropped midway")
            yield info

    primary.list = list_then_drop  # type: ignore[method-assign]
    keys = [info.key for info in rig.storage.list("list/")]
    assert keys == [f"list/{i:02d}" for i in range(10)], "no key lost or repeated across the resume"
    assert rig.storage.status()["memory:a"].errors == 1
    assert rig.chaos[1].calls == 1


def test_list_with_a_failing_first_page_fails_over() -> None:
    rig = make_rig()
    rig.chaos[0].down()
    assert [i.key for i in rig.storage.list()] == ["seed"]


def test_invalid_input_is_rejected_before_any_provider_is_called() -> None:
    rig = make_rig()
    for bad in ("", "a\x00b", "x" * 1025):
        with pytest.raises(InvalidInput):
            rig.storage.get(bad)
    with pytest.raises(InvalidInput):
        rig.storage.get_range("seed", 5, 2)
    with pytest.raises(InvalidInput):
        rig.storage.put("k", "text is not bytes")  # type: ignore[arg-type]
    assert sum(c.calls for c in rig.chaos) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempt_timeout": -1},
        {"deadline": 0},
        {"hedge_after": -0.5},
        {"max_attempts": 0},
        {"retry_ratio": 1.5},
        {"retry_burst": 0},
    ],
)
def test_bad_execution_config_is_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ExecutionConfig(**kwargs)


class _Unseekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_excluding_the_healthy_targets_falls_back_to_the_rest_even_behind_open_breakers() -> None:
    rig = make_rig()
    breaker = rig.storage.pool.member("memory:a").breaker
    while breaker.state is not BreakerState.OPEN:  # opened by its own failures, not by an operator
        breaker.on_failure(breaker.try_acquire() or pytest.fail("rejected while closed"), 0.01, "unavailable")
    executor = rig.storage.pool.executor_for("get")
    others = frozenset({"memory:b", "memory:c"})
    # Only memory:a may serve (say, the others still owe the key): trying it beats failing.
    assert executor.run("get", lambda m: m.provider.get("seed"), exclude=others) == b"seed-data"
    assert rig.chaos[0].calls == 1


def test_excluding_the_healthy_targets_never_falls_back_to_one_an_operator_forced_open() -> None:
    rig = make_rig()
    rig.storage.force_open("memory:a", "maintenance")
    executor = rig.storage.pool.executor_for("get")
    with pytest.raises(CircuitOpen, match="maintenance"):
        executor.run("get", lambda m: m.provider.get("seed"), exclude=frozenset({"memory:b", "memory:c"}))
    assert rig.chaos[0].calls == 0


def test_get_stream_fails_over_from_a_down_target_before_the_first_chunk() -> None:
    rig = make_rig()
    rig.chaos[0].down()
    stream = rig.storage.get_stream("seed", chunk_size=4)
    # The failover happened on the call: memory:a was tried and skipped, memory:b serves.
    assert rig.chaos[0].calls == 1 and rig.chaos[1].calls == 1
    assert rig.storage.status()["memory:a"].errors == 1
    chunks = list(stream)
    assert chunks == [b"seed", b"-dat", b"a"]
    assert rig.chaos[2].calls == 0


def test_a_bad_key_is_refused_on_every_call_and_never_remembered_as_checked() -> None:
    rig = make_rig()
    assert rig.storage.get("seed") == b"seed-data"
    for _ in range(3):
        with pytest.raises(InvalidInput):
            rig.storage.get("reports/./q3")
        with pytest.raises(InvalidInput):
            rig.storage.head("trailing.")
    assert all(chaos.calls == 0 for chaos in rig.chaos[1:])
    assert rig.storage.get("seed") == b"seed-data"


def test_the_checked_keys_a_facade_remembers_stay_bounded() -> None:
    rig = make_rig()
    for n in range(10_000):
        with pytest.raises(NotFound):
            rig.storage.head(f"k{n}")
    assert 0 < len(rig.storage._checked_keys) <= 4096
