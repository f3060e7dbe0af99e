"""HealthChecker driven by a FakeClock through run_due: no threads, no sleeping.

Only the last tests start the real worker thread, and they wait on Events, not sleeps.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time

import pytest

from failover.clock import FakeClock, SystemClock
from failover.deadline import current_deadline
from failover.errors import ConfigError, Unavailable
from failover.events import Emitter, Event, HealthChanged
from failover.health.checker import Check, HealthChecker, describe_failure
from failover.health.probes import CallableProbe, ProviderProbe
from failover.health.target_health import HealthConfig, TargetHealth


class Switch:
    """A probe whose health the test sets; counts its calls and the timeouts it was given."""

    def __init__(self, up: bool = True) -> None:
        self.up = up
        self.calls = 0
        self.timeouts: list[float] = []

    def check(self, timeout: float) -> None:
        self.calls += 1
        self.timeouts.append(timeout)
        if not self.up:
            raise Unavailable("HEAD bucket: HTTP 503")


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


def make(
    *targets: str,
    probes: dict[str, object] | None = None,
    interval: float = 5.0,
    jitter: float = 0.0,
    seed: int = 1,
) -> tuple[HealthChecker, FakeClock, Recorder, dict[str, TargetHealth], dict[str, Switch]]:
    clock, recorder = FakeClock(), Recorder()
    switches = {t: Switch() for t in targets}
    healths = {t: TargetHealth(t, HealthConfig(rise=2, fall=3), emitter=Emitter([recorder])) for t in targets}
    chosen = {**switches, **(probes or {})}
    checks = [
        Check(t, chosen[t], healths[t], interval=interval, timeout=1.0, jitter=jitter)  # type: ignore[arg-type]
        for t in targets
    ]
    checker = HealthChecker(checks, clock=clock, rng=random.Random(seed))
    return checker, clock, recorder, healths, switches


def tick(checker: HealthChecker, clock: FakeClock, seconds: float) -> float:
    clock.advance(seconds)
    return checker.run_due(clock.monotonic())


def test_first_pass_probes_every_target_at_once() -> None:
    checker, clock, _, _, switches = make("aws:us-east-1", "gcp:europe-west1")
    assert checker.next_run("aws:us-east-1") == -math.inf
    assert checker.run_due(clock.monotonic()) == clock.monotonic() + 5.0
    assert [s.calls for s in switches.values()] == [1, 1]
    assert switches["aws:us-east-1"].timeouts == [1.0]


def test_fall_and_rise_thresholds_emit_once_per_flip() -> None:
    checker, clock, recorder, healths, switches = make("aws:us-east-1")
    health, probe = healths["aws:us-east-1"], switches["aws:us-east-1"]
    checker.run_due(clock.monotonic())
    probe.up = False
    tick(checker, clock, 5)
    tick(checker, clock, 5)
    assert health.healthy and recorder.events == []  # two failures are a blip
    tick(checker, clock, 5)
    assert not health.healthy
    assert "HEAD bucket: HTTP 503" in health.probe_reason
    tick(checker, clock, 5)  # still failing: no second event
    assert recorder.events == [
        HealthChanged(
            "aws:us-east-1", False, "3 probes in a row failed, last: Unavailable: HEAD bucket: HTTP 503"
        )
    ]

    probe.up = True
    tick(checker, clock, 5)
    assert not health.healthy
    recovered_at = tick(checker, clock, 5) - 5
    assert health.healthy and health.up_since == recovered_at == clock.monotonic()
    tick(checker, clock, 5)
    assert recorder.events[1:] == [HealthChanged("aws:us-east-1", True, "2 probes in a row ok")]


def test_nothing_runs_before_its_interval() -> None:
    checker, clock, _, _, switches = make("memory:a", interval=10)
    checker.run_due(clock.monotonic())
    assert tick(checker, clock, 9.999) == clock.monotonic() + 0.001
    assert switches["memory:a"].calls == 1
    tick(checker, clock, 0.001)
    assert switches["memory:a"].calls == 2


def test_targets_keep_their_own_intervals() -> None:
    clock = FakeClock()
    fast, slow = Switch(), Switch()
    checker = HealthChecker(
        [
            Check("memory:fast", fast, TargetHealth("memory:fast"), interval=1.0, timeout=0.5, jitter=0),
            Check("memory:slow", slow, TargetHealth("memory:slow"), interval=3.0, timeout=0.5, jitter=0),
        ],
        clock=clock,
    )
    checker.run_due(clock.monotonic())
    for _ in range(6):
        tick(checker, clock, 1.0)
    assert (fast.calls, slow.calls) == (7, 3)


def test_jitter_is_bounded_and_deterministic_with_a_seed() -> None:
    def schedule(seed: int) -> list[float]:
        checker, clock, *_ = make("memory:a", interval=10, jitter=0.2, seed=seed)
        gaps = []
        for _ in range(200):
            now = clock.monotonic()
            next_due = checker.run_due(now)
            gaps.append(next_due - now)
            clock.advance(next_due - now)
        return gaps

    gaps = schedule(7)
    assert all(8.0 <= gap <= 12.0 for gap in gaps)
    assert len(set(gaps)) > 100  # really jittered, not a constant
    assert min(gaps) < 8.5 and max(gaps) > 11.5  # spans the range
    assert schedule(7) == gaps
    assert schedule(8) != gaps


def test_exception_in_one_probe_does_not_stop_the_others() -> None:
    def broken(timeout: float) -> None:
        raise RuntimeError("bug in a user probe")

    checker, clock, _, healths, switches = make(
        "aws:a", "azure:b", "gcp:c", probes={"azure:b": CallableProbe(broken)}
    )
    for _ in range(3):
        tick(checker, clock, 5)
    assert switches["aws:a"].calls == switches["gcp:c"].calls == 3
    assert healths["aws:a"].healthy and healths["gcp:c"].healthy
    assert not healths["azure:b"].healthy
    assert healths["azure:b"].probe_reason == "RuntimeError: bug in a user probe"


def test_probe_that_overruns_its_timeout_counts_as_failed() -> None:
    clock = FakeClock()
    health = TargetHealth("memory:slow", HealthConfig(fall=1))
    checker = HealthChecker(
        [Check("memory:slow", CallableProbe(lambda: clock.advance(1.5)), health, timeout=1.0)], clock=clock
    )
    result = checker.check_now("memory:slow")
    assert not result.ok and result.changed is False
    assert result.reason == "probe took 1.500s, over its 1s timeout"
    assert not health.healthy


def test_check_now_runs_immediately_and_restarts_the_interval() -> None:
    checker, clock, _, _, switches = make("aws:us-east-1")
    checker.run_due(clock.monotonic())
    clock.advance(2)
    result = checker.check_now("aws:us-east-1")
    assert result.ok and result.target == "aws:us-east-1" and result.changed is None
    assert result.reason.startswith("probe ok in")
    assert switches["aws:us-east-1"].calls == 2
    assert checker.next_run("aws:us-east-1") == clock.monotonic() + 5
    with pytest.raises(ConfigError, match="no health check for target 'nope'"):
        checker.check_now("nope")


def test_reasons_are_bounded_and_hide_credentials() -> None:
    reason = describe_failure(ConnectionError("cannot reach https://admin:hunter2@db.internal:5432/x\nmore"))
    assert (
        "hunter2" not in reason and reason == "ConnectionError: cannot reach https://***@db.internal:5432/x"
    )
    assert len(describe_failure(ValueError("x" * 5000))) == 300
    assert describe_failure(TimeoutError()) == "TimeoutError"


# ---------------------------------------------------------------- validation


def _check(**overrides: object) -> Check:
    fields: dict[str, object] = {"target": "memory:a", "probe": Switch(), "health": TargetHealth("memory:a")}
    fields.update(overrides)
    return Check(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "overrides",
    [
        {"interval": 0},
        {"interval": -1},
        {"interval": math.inf},
        {"timeout": 0},
        {"timeout": 6.0},  # longer than the 5 s interval
        {"timeout": math.nan},
        {"jitter": -0.1},
        {"jitter": 1.0},
        {"jitter": True},
        {"target": ""},
        {"probe": object()},
        {"health": TargetHealth("memory:other")},
    ],
)
def test_bad_check_configuration_is_rejected(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        _check(**overrides)


def test_checker_rejects_empty_duplicate_or_foreign_checks() -> None:
    with pytest.raises(ConfigError):
        HealthChecker([])
    with pytest.raises(ConfigError, match="two checks"):
        HealthChecker([_check(), _check()])
    with pytest.raises(ConfigError):
        HealthChecker([object()])  # type: ignore[list-item]


# ---------------------------------------------------------------- background worker


def test_worker_probes_on_a_short_interval_and_stops_promptly() -> None:
    probed = threading.Event()
    calls: list[float] = []

    def probe(timeout: float) -> None:
        calls.append(timeout)
        if len(calls) >= 3:
            probed.set()

    health = TargetHealth("memory:a")
    check = Check("memory:a", CallableProbe(probe), health, interval=0.01, timeout=0.01, jitter=0.1)
    with HealthChecker([check], clock=SystemClock()) as checker:
        assert checker.running
        assert probed.wait(5.0), "the worker never probed three times"
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    assert not checker.running  # the thread has exited: nothing probes after stop()


def test_stop_interrupts_a_long_wait_between_probes() -> None:
    probed = threading.Event()
    check = Check("memory:a", CallableProbe(probed.set), TargetHealth("memory:a"), interval=60, timeout=1)
    checker = HealthChecker([check])
    checker.start()
    checker.start()  # idempotent
    assert probed.wait(5.0)
    started = time.monotonic()
    assert checker.stop() is True
    assert time.monotonic() - started < 1.0  # an Event wait, not a 60 s sleep
    assert checker.stop() is True  # stopping twice is harmless


def test_worker_survives_a_raising_probe() -> None:
    good = threading.Event()
    bad_calls: list[int] = []

    def bad() -> None:
        bad_calls.append(1)
        raise RuntimeError("boom")

    def ok() -> None:
        if len(bad_calls) >= 3:
            good.set()

    checks = [
        Check("memory:bad", CallableProbe(bad), TargetHealth("memory:bad"), interval=0.01, timeout=0.01),
        Check("memory:ok", CallableProbe(ok), TargetHealth("memory:ok"), interval=0.01, timeout=0.01),
    ]
    with HealthChecker(checks):
        assert good.wait(5.0)


def test_worker_with_a_fake_clock_replays_simulated_time() -> None:
    clock = FakeClock()
    calls: list[float] = []
    enough = threading.Event()

    def probe() -> None:
        calls.append(clock.monotonic())
        if len(calls) >= 5:
            enough.set()

    check = Check("memory:a", CallableProbe(probe), TargetHealth("memory:a"), interval=5, timeout=1, jitter=0)
    checker = HealthChecker([check], clock=clock)
    checker.start()
    assert enough.wait(5.0)  # no real waiting: FakeClock.sleep advances simulated time
    assert checker.stop() is True
    assert [b - a for a, b in itertools.pairwise(calls)][:4] == [5.0, 5.0, 5.0, 5.0]


def test_probe_runs_under_an_attempt_deadline_on_the_checker_clock() -> None:
    clock = FakeClock(start=100.0)
    seen: list[float | None] = []
    check = Check(
        "memory:a", CallableProbe(lambda: seen.append(current_deadline())), TargetHealth("memory:a")
    )
    HealthChecker([check], clock=clock).run_due(clock.monotonic())
    assert seen == [102.0]  # now + the check's 2 s timeout
    assert current_deadline() is None  # restored afterwards


def test_blackholed_provider_probe_gives_up_at_the_check_timeout() -> None:
    # The chaos provider's blackhole hangs until the attempt deadline the checker sets,
    # so a provider probe() without a timeout argument still fails after `timeout`.
    from failover.providers.chaos import ChaosProvider
    from failover.providers.memory import MemoryObjectStore

    clock = FakeClock()
    chaos = ChaosProvider(MemoryObjectStore(), clock=clock)
    chaos.schedule_outage(clock.monotonic(), clock.monotonic() + 100, "blackhole")
    health = TargetHealth("memory:a", HealthConfig(fall=1))
    checker = HealthChecker([Check("memory:a", ProviderProbe(chaos), health, timeout=2.0)], clock=clock)
    result = checker.check_now("memory:a")
    assert not result.ok and result.elapsed == 2.0 and not health.healthy
    assert "blackholed probe" in result.reason
