"""The game day (`failover demo`), run in simulated time: nothing here sleeps."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from failover.cli import demo
from failover.cli.demo import PRIMARY, SECONDARY, TARGETS, DrillConfig, DrillResult, Summary, run_drill, summarize
from failover.cli.report import rows_of, to_json
from failover.cli.timeline import Row
from failover.clock import FakeClock, SystemClock
from failover.errors import ConfigError
from failover.events import BreakerTransition, FailedBack

SMALL = DrillConfig(duration=20, rate=20, seed=3)


def drill(**changes: object) -> tuple[DrillResult, Summary, list[Row]]:
    result = run_drill(dataclasses.replace(SMALL, **changes))  # type: ignore[arg-type]
    return result, summarize(result), rows_of(result)


def quiet_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=160, color_system=None), out


@pytest.mark.parametrize("fault", demo.FAULTS)
def test_every_fault_ends_with_zero_client_visible_errors(fault: str) -> None:
    result, summary, _ = drill(fault=fault)
    assert summary.ops == len(result.ops) == 400
    assert summary.client_errors == 0
    assert summary.retried > 0  # the primary did fail: the client just never saw it
    assert summary.passed, summary.criteria


def test_traffic_moves_to_the_secondary_once_the_breaker_opens() -> None:
    _, summary, rows = drill(fault="errors")
    assert summary.breaker_opened_at is not None
    opened = int(summary.breaker_opened_at)
    assert opened == int(SMALL.outage_at)
    for row in rows[opened + 1 : int(SMALL.recovery_at)]:
        assert row.served[PRIMARY] == 0, row
        assert row.served[SECONDARY] == SMALL.rate, row
        assert row.breakers[PRIMARY] == "open"
        assert row.errors == 0
    assert all(row.served[TARGETS[2]] == 0 for row in rows)  # the tertiary was never needed


def test_errors_fail_over_within_the_failing_call() -> None:
    _, summary, _ = drill(fault="errors")
    # The executor retries on the next target inside the same call: no time passes.
    assert summary.time_to_failover == 0
    assert summary.first_failure_at == pytest.approx(SMALL.outage_at)


def test_blackhole_costs_one_attempt_timeout_per_hung_call() -> None:
    _, summary, rows = drill(fault="blackhole")
    assert summary.time_to_failover == pytest.approx(SMALL.attempt_timeout)
    # Five consecutive timeouts open the breaker.
    assert summary.breaker_opened_after == pytest.approx(5 * SMALL.attempt_timeout)
    assert max(row.max_latency for row in rows) == pytest.approx(SMALL.attempt_timeout)


def test_failback_waits_for_the_hysteresis_after_the_breaker_closes() -> None:
    result, summary, rows = drill(fault="errors")
    assert summary.breaker_closed_at is not None and summary.failback_at is not None
    assert summary.breaker_closed_at >= SMALL.recovery_at
    assert summary.hysteresis == pytest.approx(SMALL.failback_after)
    # Healthy but settling: the primary takes nothing until the hysteresis has passed.
    settling = rows[int(summary.breaker_closed_at) + 1 : int(summary.failback_at)]
    assert settling and all(row.served[PRIMARY] == 0 for row in settling)
    assert all(row.served == {PRIMARY: SMALL.rate, SECONDARY: 0, TARGETS[2]: 0} for row in rows[-3:])
    # Strictly after: the router also emits a FailedBack when it routes the trial call.
    failbacks = [e.at for e in result.events if isinstance(e.event, FailedBack) and e.at > summary.breaker_closed_at]
    assert failbacks == [pytest.approx(summary.failback_at)]


def test_timeline_has_one_row_per_second_with_the_events() -> None:
    result, _, rows = drill(fault="errors")
    assert [row.second for row in rows] == list(range(20))
    texts = [text for row in rows for text, _ in row.events]
    assert any("outage (errors)" in t for t in texts)
    assert any("breaker OPEN" in t for t in texts)
    assert any(t.startswith("FAILOVER us-east-1→eu-west-1") for t in texts)
    assert any(t.startswith("FAILBACK →us-east-1") for t in texts)
    assert any(isinstance(e.event, BreakerTransition) and e.event.new == "open" for e in result.events)


def test_same_seed_same_drill() -> None:
    first, _, _ = drill(fault="blackhole", seed=11)
    again, _, _ = drill(fault="blackhole", seed=11)
    assert first.ops == again.ops
    assert first.events == again.events


def test_summary_reports_which_criteria_failed() -> None:
    _, summary, _ = drill()
    broken = dataclasses.replace(summary, client_errors=2, failback_at=summary.breaker_closed_at)
    assert not broken.passed
    failed = [c.name for c in broken.criteria if not c.ok]
    assert failed == ["zero client-visible errors", f"failed back after the {SMALL.failback_after:g}s hysteresis"]


def test_game_day_prints_the_summary_and_writes_json(tmp_path: Path) -> None:
    console, out = quiet_console()
    path = tmp_path / "drill.json"
    assert demo.game_day(SMALL, console, path) == 0
    text = out.getvalue()
    for expected in ("Summary", "time to failover", "store.status()", "PASS zero client-visible errors", "replication"):
        assert expected in text
    data = json.loads(path.read_text())
    assert data["passed"] is True
    assert data["client_errors"] == 0
    assert len(data["timeline"]) == 20


def test_game_day_returns_1_and_names_the_failed_criterion(monkeypatch: pytest.MonkeyPatch) -> None:
    real = demo.summarize
    monkeypatch.setattr(demo, "summarize", lambda result: dataclasses.replace(real(result), failover_at=None))
    console, out = quiet_console()
    assert demo.game_day(SMALL, console) == 1
    assert "drill FAILED: failed over to eu-west-1" in out.getvalue()


def test_json_summary_is_plain_data() -> None:
    result, summary, _ = drill()
    data = json.loads(json.dumps(to_json(result, summary)))
    assert data["config"]["failback_after"] == SMALL.failback_after
    assert set(data["traffic_share"]) == set(TARGETS)
    assert [t["name"] for t in data["status"]["targets"]] == list(TARGETS)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duration": 1}, "duration"),
        ({"rate": 0}, "rate"),
        ({"fault": "fire"}, "fault"),
        ({"duration": 3600, "rate": 10_000}, "limit"),
    ],
)
def test_config_is_validated(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        dataclasses.replace(SMALL, **changes)  # type: ignore[arg-type]


def test_realtime_uses_the_system_clock_and_simulation_a_fake_one() -> None:
    assert isinstance(demo.Drill(dataclasses.replace(SMALL, realtime=True)).clock, SystemClock)
    assert isinstance(demo.Drill(SMALL).clock, FakeClock)
