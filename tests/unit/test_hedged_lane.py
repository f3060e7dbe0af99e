"""A hedged read whose lead is closed goes to a worker at once (`lead_hedged`), and sets
up the race only if no success comes back in time: it must end every call as the race
from scratch (`run_hedged`, the general path) does.

Two facades over identical targets live through the same story of faults, clock steps
and calls (the stories of tests/unit/test_fast_lane.py), both hedging; the general one
is kept off the lane by excluding a target that is not in the pool.  The chaos targets
answer at once, so the hedge delay never passes: what differs between the paths is how
a first answer, a failure and a miss are handed on.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from failover import BreakerConfig, ExecutionConfig
from failover.errors import Unavailable
from tests.unit.pools import Rig, make_rig
from tests.unit.test_fast_lane import STACKS, play, state, step

NOBODY = frozenset({"nobody:here"})  # in no pool: excluding it changes nothing but the path


def hedging(layers: Any) -> ExecutionConfig:
    return ExecutionConfig(attempt_timeout=1.0, deadline=10.0, hedge_after=0.5, layers=layers)


def off_the_lane(rig: Rig) -> Rig:
    """``rig`` with its facade's reads on the race from scratch."""
    storage = rig.storage
    run = storage.pool.executor_for_class("read").run

    def general(operation: str, call: Any, lookup: Any = None, **options: Any) -> Any:
        options["exclude"] = options.get("exclude") or NOBODY
        return run(operation, call, lookup, **options)

    storage._read = general
    return rig


def rigs(layers: Any) -> tuple[Rig, Rig]:
    config = BreakerConfig(consecutive_failures=2, open_base=5.0, jitter=0.0)
    return make_rig(breaker=config, execution=hedging(layers)), off_the_lane(
        make_rig(breaker=config, execution=hedging(layers))
    )


@STACKS
@settings(max_examples=60, deadline=None)
@given(story=st.lists(step, min_size=1, max_size=20))
def test_the_hedged_lane_ends_every_call_as_the_race_from_scratch_does(
    layers: Any, story: list[tuple[Any, ...]]
) -> None:
    lane, general = rigs(layers)
    try:
        assert play(lane, story) == play(general, story)
        assert state(lane) == state(general)
    finally:
        lane.storage.close()
        general.storage.close()


@STACKS
def test_a_lead_that_fails_hands_the_hedged_read_to_the_next_target_once(layers: Any) -> None:
    lane, _ = rigs(layers)
    with lane.storage:
        lane.chaos[0].configure(error_rate=1.0, errors=Unavailable)
        assert lane.storage.get("seed") == b"seed-data"
        assert [c.calls for c in lane.chaos] == [1, 1, 0]
        assert [t.errors for t in lane.storage.status().targets][:2] == [1, 0]
