"""Layers: each target's stack runs in the order given, can pass a target by, and costs
nothing where it has nothing to do."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from failover import ExecutionConfig, FailoverStorage, FakeClock, Target
from failover.deadline import current_deadline
from failover.errors import AllTargetsFailed, ConfigError, Unavailable
from failover.layers import Attempt, AttemptTimeout, Invoke, Observe, Skip
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from failover.routing.router import Member

NAMES = ("memory:a", "memory:b")


class Recorder:
    """Notes when each attempt enters and leaves it."""

    def __init__(self, label: str, log: list[str]) -> None:
        self.label, self.log = label, log

    def wrap(self, member: Member, inner: Invoke) -> Invoke:
        def invoke(attempt: Attempt) -> Any:
            self.log.append(f"{self.label}>{attempt.member.name}")
            try:
                return inner(attempt)
            finally:
                self.log.append(f"{self.label}<{attempt.member.name}")

        return invoke


class PassBy:
    """Skips the targets it names, as a full rate limiter or bulkhead would."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def wrap(self, member: Member, inner: Invoke) -> Invoke | None:
        if member.name not in self.names:
            return None

        def invoke(attempt: Attempt) -> Any:
            raise Skip(f"{attempt.member.name} is full")

        return invoke


class Refuses:
    def wrap(self, member: Member, inner: Invoke) -> Invoke | None:
        if member.name != NAMES[0]:
            return None

        def invoke(attempt: Attempt) -> Any:
            raise Unavailable("the layer's own failure", target=attempt.member.name)

        return invoke


def storage(*layers: Any, stores: list[Any] | None = None, **execution: Any) -> FailoverStorage:
    clock = FakeClock()
    stores = stores or [MemoryObjectStore(clock=clock) for _ in NAMES]
    for store in stores:
        store.put("k", b"v")
    return FailoverStorage(
        [Target(name, store, priority=i) for i, (name, store) in enumerate(zip(NAMES, stores, strict=True))],
        execution=ExecutionConfig(layers=layers, **execution),
        clock=clock,
    )


def test_layers_run_around_each_attempt_outermost_first() -> None:
    log: list[str] = []
    store = storage(Recorder("outer", log), Recorder("inner", log), Refuses())
    assert store.get("k") == b"v"
    a, b = NAMES
    assert log == [
        f"outer>{a}",
        f"inner>{a}",
        f"inner<{a}",
        f"outer<{a}",
        f"outer>{b}",
        f"inner>{b}",
        f"inner<{b}",
        f"outer<{b}",
    ]


def test_an_error_a_layer_raises_is_the_targets_outcome() -> None:
    store = storage(Refuses())
    assert store.get("k") == b"v"  # failed over
    first = store.pool.member(NAMES[0])
    assert first.health.errors.value == 1 and first.health.last_error == "unavailable"


def test_a_layer_that_passes_a_target_by_sends_the_call_on_without_counting_against_it() -> None:
    store = storage(PassBy(NAMES[0]))
    assert store.get("k") == b"v"
    first = store.pool.member(NAMES[0])
    assert first.health.calls.value == 0 and first.health.errors.value == 0
    assert first.breaker.consecutive_failures == 0


def test_a_call_every_layer_passes_by_fails_naming_the_skipped_targets() -> None:
    store = storage(PassBy(*NAMES))
    with pytest.raises(AllTargetsFailed) as caught:
        store.put("k", b"w")
    assert caught.value.skipped == NAMES


def test_a_layer_with_nothing_to_do_is_left_out_of_the_stack() -> None:
    store = storage(PassBy(NAMES[1]))
    assert store.pool.member(NAMES[0]).stack is None  # the provider is called directly: no frame added
    assert store.pool.member(NAMES[1]).stack is not None
    assert [m.stack for m in storage().pool.executor_for("get").router.members] == [None, None]  # no layers


def test_the_default_stack_publishes_the_attempt_deadline_to_providers_that_read_it() -> None:
    clock = FakeClock()
    seen: list[float | None] = []

    class Sees(ChaosProvider):
        def get(self, key: str) -> bytes:
            seen.append(current_deadline())
            return super().get(key)

    memory = MemoryObjectStore(clock=clock)
    memory.put("k", b"v")
    store = FailoverStorage(
        [Target(NAMES[0], Sees(memory, clock=clock))], execution=ExecutionConfig(attempt_timeout=2.0), clock=clock
    )
    assert [type(layer) for layer in ExecutionConfig().layers] == [AttemptTimeout]
    started = clock.monotonic()
    assert store.get("k") == b"v"
    assert seen == [started + 2.0]
    assert current_deadline() is None  # reset after the attempt


@pytest.mark.parametrize(("order", "hook_sees_deadline"), [("observe-outside", False), ("observe-inside", True)])
def test_the_documented_layers_can_be_reordered(order: str, hook_sees_deadline: bool) -> None:
    clock = FakeClock()
    memory = MemoryObjectStore(clock=clock)
    memory.put("k", b"v")
    seen: list[float | None] = []
    observe = Observe(lambda attempt, seconds, error: seen.append(current_deadline()))
    layers = (observe, AttemptTimeout()) if order == "observe-outside" else (AttemptTimeout(), observe)
    store = FailoverStorage(
        [Target(NAMES[0], ChaosProvider(memory, clock=clock))], execution=ExecutionConfig(layers=layers), clock=clock
    )
    store.get("k")
    assert (seen[0] is not None) is hook_sees_deadline


def test_observe_hears_every_attempt_with_its_error() -> None:
    heard: list[tuple[str, str | None]] = []
    observe = Observe(
        lambda attempt, seconds, error: heard.append((attempt.member.name, type(error).__name__ if error else None))
    )
    store = storage(observe, Refuses())
    store.get("k")
    assert heard == [(NAMES[0], "Unavailable"), (NAMES[1], None)]


def test_hedged_attempts_run_through_the_layers_on_their_worker_threads() -> None:
    threads: list[str] = []

    class Where:
        def wrap(self, member: Member, inner: Invoke) -> Invoke:
            def invoke(attempt: Attempt) -> Any:
                threads.append(threading.current_thread().name)
                return inner(attempt)

            return invoke

    stores = [MemoryObjectStore() for _ in NAMES]
    for s in stores:
        s.put("k", b"v")
    store = FailoverStorage(
        [Target(name, s, priority=i) for i, (name, s) in enumerate(zip(NAMES, stores, strict=True))],
        execution=ExecutionConfig(layers=(PassBy(NAMES[0]), Where()), hedge_after=5.0),
    )
    try:
        assert store.get("k") == b"v"  # the first target passed by, the second served it
    finally:
        store.close()
    assert len(threads) == 1 and threads[0].startswith("failover-attempt")


@pytest.mark.parametrize(("layers", "named"), [([object()], "layers[0]"), ("AttemptTimeout", "layers must be")])
def test_something_that_is_not_a_layer_is_a_config_error_naming_it(layers: Any, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[")):
        ExecutionConfig(layers=layers)
