"""Instruments: telemetry attached to a facade in one piece (call wrappers, a layer, a listener)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

import pytest

from failover import ExecutionConfig, FailoverStorage, FakeClock, Target
from failover.errors import ConfigError
from failover.events import Event, Retried
from failover.layers import Attempt, Invoke
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from failover.routing.router import Member
from tests.unit.test_hedging import Gate


class Everything:
    """An instrument with every hook, writing down what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, tuple[Any, ...]]] = []
        self.attempts: list[tuple[str, int, bool, str | None]] = []
        self.events: list[Event] = []
        self.attached: list[object] = []

    def wrap_call(self, facade: str, operation: str, call: Callable[..., Any]) -> Callable[..., Any] | None:
        if operation not in ("get", "put"):
            return None

        def traced(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((facade, operation, args))
            return call(*args, **kwargs)

        return traced

    def wrap(self, member: Member, inner: Invoke) -> Invoke:
        def invoke(attempt: Attempt) -> Any:
            try:
                result = inner(attempt)
            except Exception as exc:
                self.attempts.append((attempt.member.name, attempt.order, attempt.hedge, type(exc).__name__))
                raise
            self.attempts.append((attempt.member.name, attempt.order, attempt.hedge, None))
            return result

        return invoke

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def attach(self, facade: object) -> None:
        self.attached.append(facade)


def storage_with(instrument: object) -> tuple[ChaosProvider, FailoverStorage]:
    clock = FakeClock()
    primary = ChaosProvider(MemoryObjectStore(clock=clock), clock=clock)
    backup = MemoryObjectStore(clock=clock)
    backup.put("k", b"v")  # so that a read fails over to an answer
    storage = FailoverStorage(
        [Target("memory:a", primary), Target("memory:b", backup, priority=1)], clock=clock, instruments=[instrument]
    )
    return primary, storage


def test_an_instrument_wraps_the_calls_it_asks_for_and_hears_the_attempts_and_events() -> None:
    instrument = Everything()
    primary, storage = storage_with(instrument)
    assert instrument.attached == [storage]
    storage.put("k", b"v")
    primary.down()
    assert storage.get("k") == b"v"
    assert [(f, op) for f, op, _ in instrument.calls] == [("storage", "put"), ("storage", "get")]
    assert instrument.calls[1][2] == ("k",)
    assert instrument.attempts[-2:] == [("memory:a", 0, False, "Unavailable"), ("memory:b", 1, False, None)]
    assert [type(e) for e in instrument.events if isinstance(e, Retried)] == [Retried]
    storage.head("k")  # not wrapped: the instrument returned None for it
    assert len(instrument.calls) == 2


def test_a_facade_without_instruments_runs_its_own_methods() -> None:
    storage = FailoverStorage([Target("memory:a", MemoryObjectStore())])
    assert "get" not in vars(storage) and storage.instruments == ()


def test_an_instrument_with_no_hook_is_refused_by_position() -> None:
    with pytest.raises(ConfigError, match=r"instruments\[1\] has none of wrap, wrap_call, on_event, attach"):
        FailoverStorage([Target("memory:a", MemoryObjectStore())], instruments=[Everything(), object()])
    with pytest.raises(ConfigError, match="instruments must be a sequence"):
        FailoverStorage([Target("memory:a", MemoryObjectStore())], instruments="metrics")


def test_a_hedge_is_marked_and_sees_the_callers_context_variables() -> None:
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")
    seen: list[tuple[str, bool, str]] = []

    class Spy:
        def wrap(self, member: Member, inner: Invoke) -> Invoke:
            def invoke(attempt: Attempt) -> Any:
                seen.append((attempt.member.name, attempt.hedge, request_id.get()))
                return inner(attempt)

            return invoke

    slow, fast = Gate(), MemoryObjectStore()
    for store in (slow, fast):
        store.put("k", b"v")
    storage = FailoverStorage(
        [Target("memory:slow", slow), Target("memory:fast", fast, priority=1)],
        execution=ExecutionConfig(hedge_after=0.01, attempt_timeout=3.0),
        instruments=[Spy()],
    )
    token = request_id.set("req-42")
    try:
        assert storage.get("k") == b"v"
    finally:
        request_id.reset(token)
        slow.gate.set()
        storage.close()
    assert sorted(seen) == [("memory:fast", True, "req-42"), ("memory:slow", False, "req-42")]
