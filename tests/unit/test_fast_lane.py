"""The executor's fast lane (`Executor.run_lead_first`) answers exactly as `Executor.run`.

Two facades over identical targets live through the same story of faults, clock steps
and calls: one on the fast lane (the facades' default), one on the general path.  Every
call must end the same way, and the breakers, health counts and events must agree.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from failover import BreakerConfig, ExecutionConfig
from failover.errors import FailoverError, InvalidRequest, Throttled, Unavailable
from failover.execution.lookup import PREFERRED
from failover.layers.base import Skip
from failover.layers.builtin import AttemptTimeout
from tests.unit.pools import NAMES, Rig, make_rig

FAULTS = {
    "none": None,
    "unavailable": Unavailable,
    "throttled": Throttled,
    "invalid": InvalidRequest,
    "bug": ValueError,
}
CALLS = ("get seed", "get missing", "head seed", "put seed", "delete gone", "get seed, not a", "list")

step = st.one_of(
    st.tuples(st.just("fault"), st.integers(0, 2), st.sampled_from(sorted(FAULTS))),
    st.tuples(st.just("wait"), st.sampled_from([0.5, 6.0, 31.0])),
    st.tuples(st.just("call"), st.sampled_from(CALLS)),
)


def general_path(rig: Rig) -> Rig:
    """``rig`` with its facade's reads and writes on `Executor.run`, not the fast lane."""
    storage = rig.storage
    storage._read = storage.pool.executor_for_class("read").run
    storage._write = storage.pool.executor_for_class("write").run
    return rig


def rigs(**options: Any) -> tuple[Rig, Rig]:
    config = BreakerConfig(consecutive_failures=2, open_base=5.0, jitter=0.0)
    lane = make_rig(breaker=config, **options)
    general = general_path(make_rig(breaker=config, **options))
    assert lane.storage._read != general.storage._read, "the two facades must take different paths"
    return lane, general


# With the default layers each chaos target's stack publishes the attempt's deadline;
# with none, the lane calls the provider itself.
STACKS = pytest.mark.parametrize("layers", [ExecutionConfig().layers, ()], ids=["deadline layer", "no layer"])


def execution(layers: Any) -> ExecutionConfig:
    return ExecutionConfig(attempt_timeout=1.0, deadline=10.0, layers=layers)


def call(rig: Rig, what: str) -> object:
    storage = rig.storage
    try:
        if what == "get seed":
            return storage.get("seed")
        if what == "get missing":
            return storage.get("missing")
        if what == "head seed":
            return storage.head("seed").size
        if what == "put seed":
            return storage.put("seed", b"seed-data").etag
        if what == "delete gone":
            storage.delete("gone")
            return "deleted"
        if what == "get seed, not a":
            return storage._read("get", lambda m: m.provider.get("seed"), exclude=frozenset({NAMES[0]}))
        return [info.key for info in storage.list()]
    except (FailoverError, ValueError) as exc:
        return (type(exc).__name__, str(exc), getattr(exc, "target", None))


def play(rig: Rig, story: list[tuple[Any, ...]]) -> list[object]:
    outcomes: list[object] = []
    for action, *args in story:
        if action == "fault":
            index, fault = args
            error = FAULTS[fault]
            rig.chaos[index].configure(error_rate=0.0 if error is None else 1.0, errors=error or Unavailable)
        elif action == "wait":
            rig.clock.advance(args[0])
        else:
            outcomes.append(call(rig, args[0]))
    return outcomes


def state(rig: Rig) -> object:
    status = rig.storage.status()
    targets = [(t.name, t.role, dict(t.breakers), t.calls, t.errors, t.error_rate) for t in status.targets]
    events = [(type(e).__name__, *sorted(vars(e).items())) for e in rig.recorder.events if hasattr(e, "__dict__")]
    executor = rig.storage.pool.executor_for_class("read")
    return targets, events, executor.budget.spent, executor.budget.refused, executor.budget._calls.value


@STACKS
@settings(max_examples=100, deadline=None)
@given(story=st.lists(step, min_size=1, max_size=25))
def test_the_fast_lane_ends_every_call_as_the_general_path_does(layers: Any, story: list[tuple[Any, ...]]) -> None:
    lane, general = rigs(execution=execution(layers))
    assert play(lane, story) == play(general, story)
    assert state(lane) == state(general)


@STACKS
@settings(max_examples=30, deadline=None)
@given(story=st.lists(step, min_size=1, max_size=15))
def test_the_fast_lane_agrees_when_reads_and_writes_have_their_own_breakers(
    layers: Any, story: list[tuple[Any, ...]]
) -> None:
    lane, general = rigs(breaker_per="operation_class", execution=execution(layers))
    assert play(lane, story) == play(general, story)
    assert state(lane) == state(general)


def test_a_read_on_the_fast_lane_reaches_the_lead_only() -> None:
    lane, _ = rigs()
    assert lane.storage.get("seed") == b"seed-data"
    assert [c.calls for c in lane.chaos] == [1, 0, 0]
    status = lane.storage.status()
    assert status.targets[0].calls == 1 and status.targets[0].latency_ms is not None


def test_a_lead_that_fails_hands_the_call_to_the_next_target_with_its_error_recorded() -> None:
    lane, _ = rigs()
    lane.chaos[0].configure(error_rate=1.0, errors=Unavailable)
    assert lane.storage.get("seed") == b"seed-data"
    assert [c.calls for c in lane.chaos] == [1, 1, 0]
    assert lane.storage.status().targets[0].errors == 1


def test_a_write_that_is_not_idempotent_is_not_retried_after_the_lead_fails() -> None:
    lane, _ = rigs()
    lane.chaos[0].configure(error_rate=1.0, errors=Unavailable)
    with pytest.raises(Unavailable):
        lane.storage._write("put", lambda m: m.provider.put("k", b"v"), idempotent=False)
    assert [c.calls for c in lane.chaos] == [1, 0, 0]


def test_an_interrupt_during_the_lead_call_gives_its_permit_back() -> None:
    lane, _ = rigs()

    def interrupted(member: object) -> bytes:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lane.storage._read("get", interrupted, lookup=PREFERRED)
    assert lane.storage.status().targets[0].breakers == {"all": "closed"}
    assert lane.storage.get("seed") == b"seed-data"


def test_a_layer_in_the_leads_stack_sees_the_call_the_lane_makes() -> None:
    seen: list[str] = []

    class Noting(AttemptTimeout):
        def wrap(self, member: Any, inner: Any) -> Any:
            def invoke(attempt: Any) -> Any:
                seen.append(attempt.member.name)
                return inner(attempt)

            return invoke

    lane = make_rig(execution=ExecutionConfig(layers=(Noting(),)))
    assert lane.storage.get("seed") == b"seed-data"
    assert seen == [NAMES[0]], "the layer must see the call: the lane cannot skip it"


def test_a_lead_a_layer_passes_by_hands_the_call_on_untried() -> None:
    class Passing(AttemptTimeout):
        def wrap(self, member: Any, inner: Any) -> Any:
            if member.name != NAMES[0]:
                return inner

            def invoke(attempt: Any) -> Any:
                raise Skip

            return invoke

    lane = make_rig(execution=ExecutionConfig(layers=(Passing(),)))
    assert lane.storage.get("seed") == b"seed-data"
    assert [c.calls for c in lane.chaos] == [0, 1, 0]
    assert lane.storage.status().targets[0].errors == 0


def test_a_success_on_the_lead_ends_its_failure_streak() -> None:
    lane, _ = rigs()  # two failures in a row open a breaker
    down, up = (1.0, 0.0)
    for error_rate in (down, up, down):
        lane.chaos[0].configure(error_rate=error_rate, errors=Unavailable)
        assert lane.storage.get("seed") == b"seed-data"
    assert lane.storage.status().targets[0].breakers == {"all": "closed"}


@STACKS
def test_a_call_by_name_is_the_provider_method_named_like_the_operation_on_every_path(layers: Any) -> None:
    lane, general = rigs(execution=execution(layers))
    for rig in (lane, general):
        assert rig.storage._read("get_range", ("seed", 0, 4), PREFERRED) == b"seed"
        rig.chaos[0].configure(error_rate=1.0, errors=Unavailable)  # the lead fails: the next target answers
        assert rig.storage._read("get_range", ("seed", 5, 9), PREFERRED) == b"data"
        assert [c.calls for c in rig.chaos] == [2, 1, 0]
