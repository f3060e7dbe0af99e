"""DnsController start-up, leadership, one-decision runs and loop timing, on a fake clock."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from failover import Record
from failover.events import DnsPublished
from failover.fleet.leader import FileLeaderLock
from tests.unit.test_dns_failover import NAME, Rig, make, settle

P, S, T = "192.0.2.1", "192.0.2.2", "192.0.2.3"


class LateFirst:
    """An rng for the checker's jitter: the first check scheduled is late, every later one early.

    The primary is probed first, so its second probe comes after the others' second probes.
    """

    def __init__(self) -> None:
        self.calls = 0

    def uniform(self, low: float, high: float) -> float:
        self.calls += 1
        return high if self.calls == 1 else low


def holding(rig: Rig, *values: str) -> Rig:
    """The zones already hold ``values``, as a previous controller left them."""
    for zone in rig.zones:
        zone.inner.upsert_record(Record(NAME, "A", 60, values))  # type: ignore[attr-defined]
    return rig


def test_a_restart_keeps_a_correct_record_while_a_lesser_endpoint_turns_healthy_first() -> None:
    rig = holding(make(jitter=0.1, rng=LateFirst()), P)
    rig.controller.run_once()  # t=0: every endpoint probed once
    rig.tick()  # t=1: the secondaries' second probes are in; the primary's is due at 1.1
    assert rig.answers() == [(P,), (P,)], "an endpoint not yet judged must not lose the record"
    for _ in range(20):
        rig.tick()
    assert rig.answers() == [(P,), (P,)]


def test_a_restart_keeps_a_healthy_secondary_until_failback_after() -> None:
    rig = holding(make(), S)
    settle(rig)
    assert rig.answers() == [(S,), (S,)], "the record's endpoint is healthy: adopted"
    for _ in range(10):  # failback_after=10 s of the primary's health
        rig.tick()
    assert rig.answers() == [(P,), (P,)]


def test_a_restart_moves_a_record_whose_endpoint_is_dead_once_it_is_judged() -> None:
    rig = holding(make(), P)
    rig.switches[P].up = False
    first = rig.controller.run_once()
    assert first.deciding and not first.written
    rig.tick()  # fall=2 failures: the primary is judged down
    assert rig.answers() == [(S,), (S,)]


def test_a_record_holding_no_endpoint_is_replaced_by_the_best_once_judged() -> None:
    rig = holding(make(), "203.0.113.9")
    settle(rig)
    assert rig.answers() == [(P,), (P,)]


def test_a_first_start_publishes_the_best_endpoint_not_the_first_healthy_one() -> None:
    rig = make(jitter=0.1, rng=LateFirst())
    for _ in range(4):
        rig.tick()
        assert rig.answers()[0] in (None, (P,))
    assert rig.answers() == [(P,), (P,)]


def test_multivalue_restart_keeps_an_endpoint_still_being_judged() -> None:
    rig = holding(make(mode="multivalue", jitter=0.1, rng=LateFirst()), P, S, T)
    rig.controller.run_once()
    rig.tick()
    assert rig.answers()[0] == (P, S, T)


def test_a_flapping_endpoint_does_not_hold_start_up_forever() -> None:
    rig = make()

    class Flapping:
        runs = 0

        def check(self, timeout: float) -> None:
            self.runs += 1
            if self.runs % 2:
                raise ConnectionResetError("flap")

    rig.controller.checker.checks[0].probe.probe = Flapping()  # type: ignore[attr-defined]
    for _ in range(4):  # rise + fall probes without a verdict count as one: down
        rig.tick()
    assert rig.answers() == [(S,), (S,)]


def test_run_until_decided_publishes_in_one_call() -> None:
    rig = make()
    started = rig.clock.monotonic()
    report = rig.controller.run_until_decided()
    assert report.leader and not report.deciding
    assert report.values == (P,) and report.written == ("route53:global", "bind:primary")
    assert rig.answers() == [(P,), (P,)]
    assert rig.clock.monotonic() >= started + 1.0, "rise=2 needs a second probe one interval later"


def test_run_until_decided_on_a_standby_returns_at_once(tmp_path: Path) -> None:
    path = tmp_path / "leader.lock"
    holder = FileLeaderLock(path)
    assert holder.try_acquire()
    rig = make(lock=FileLeaderLock(path))
    started = rig.clock.monotonic()
    report = rig.controller.run_until_decided()
    assert not report.leader and not report.written
    assert rig.clock.monotonic() == started
    holder.release()


def test_logs_leader_and_standby_and_emits_every_publish(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="failover.controllers.dns_controller")
    path = tmp_path / "leader.lock"
    leader, follower = make(lock=FileLeaderLock(path)), make(lock=FileLeaderLock(path))
    settle(leader)
    follower.tick()
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.endswith(": leader") for m in messages)
    assert any("standby" in m for m in messages)
    published = [e for e in leader.recorder.events if isinstance(e, DnsPublished)]
    assert sorted(e.target for e in published) == ["bind:primary", "route53:global"], "one per provider written"
    assert {e.values for e in published} == {(P,)} and {e.record for e in published} == {f"{NAME} A"}
    assert not any(isinstance(e, DnsPublished) for e in follower.recorder.events)


def test_serve_runs_the_next_pass_when_the_next_probe_is_due() -> None:
    rig = make()
    waits: list[float] = []

    class Stop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(timeout or 0.0)
            rig.clock.advance(timeout or 0.0)
            return False

    rig.controller.serve(Stop(), passes=4)
    assert waits == [1.0, 1.0, 1.0, 1.0], "no half-interval lag on top of the probes"
    assert rig.answers() == [(P,), (P,)]
