"""`TargetHealth`'s averages: a success only notes its latency, and reading an average
folds what was noted, in order, so the figures are those of an average updated per call."""

from __future__ import annotations

import math

import pytest

from failover import FakeClock, HealthConfig
from failover.health.target_health import TargetHealth

CONFIG = HealthConfig(latency_alpha=0.2, error_alpha=0.1)


def eager(outcomes: list[float | None]) -> tuple[float | None, float]:
    """The averages updated call by call: a float is a success's latency, None a failure."""
    latency: float | None = None
    rate = 0.0
    for outcome in outcomes:
        if outcome is None:
            rate += 0.1 * (1.0 - rate)
            continue
        latency = outcome if latency is None else latency + 0.2 * (outcome - latency)
        if rate:
            rate -= 0.1 * rate
    return latency, rate


def health() -> TargetHealth:
    return TargetHealth("memory:a", CONFIG, clock=FakeClock())


@pytest.mark.parametrize("read_every", [1, 3, 1000])
def test_the_averages_are_those_of_updating_on_every_call_however_often_they_are_read(read_every: int) -> None:
    outcomes: list[float | None] = [0.010, 0.020, None, 0.030, None, None, 0.005, 0.040, 0.015, None, 0.025]
    target = health()
    for n, outcome in enumerate(outcomes, 1):
        if outcome is None:
            target.record_failure("unavailable")
        else:
            target.record_success(outcome)
        if n % read_every == 0:
            assert (target.latency, target.error_rate) == eager(outcomes[:n])
    assert (target.latency, target.error_rate) == eager(outcomes)
    assert target.calls.value == len(outcomes)


def test_a_long_run_of_unread_successes_keeps_the_average_exact_to_a_billionth() -> None:
    target = health()
    target.record_failure("unavailable")
    outcomes: list[float | None] = [None] + [0.001 * (1 + n % 7) for n in range(5000)]
    for outcome in outcomes[1:]:
        assert outcome is not None
        target.record_success(outcome)
    expected_latency, expected_rate = eager(outcomes)
    assert expected_latency is not None and target.latency is not None
    assert math.isclose(target.latency, expected_latency, rel_tol=1e-9)
    assert target.error_rate == pytest.approx(expected_rate, abs=1e-9)
    assert len(target._pending) == 0


def test_setting_the_latency_replaces_what_was_noted_before() -> None:
    target = health()
    target.record_success(0.500)
    target.latency = 0.010
    assert target.latency == 0.010
    target.record_success(0.020)
    assert target.latency == pytest.approx(0.010 + 0.2 * (0.020 - 0.010))
