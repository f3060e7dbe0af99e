"""The game day (`failover drill`), run in simulated time: nothing here sleeps."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from failover.cli import demo
from failover.cli.demo import PRIMARY, SECONDARY, TARGETS, DrillConfig, DrillResult, run_drill
from failover.cli.drill_run import game_day
from failover.cli.drill_scenarios import SCENARIOS, parse_scenarios
from failover.cli.drill_verdict import Summary, summarize
from failover.cli.report import rows_of, to_json
from failover.cli.timeline import Row
from failover.clock import FakeClock, SystemClock
from failover.errors import ConfigError
from failover.events import FailedBack

SMALL = DrillConfig(duration=20, rate=20, seed=3)


def drill(**changes: object) -> tuple[DrillResult, Summary, list[Row]]:
    result = run_drill(dataclasses.replace(SMALL, **changes))  # type: ignore[arg-type]
    return result, summarize(result), rows_of(result)


def console(width: int = 160) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, color_system=None), out


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "two-down"])
def test_every_scenario_ends_with_zero_client_visible_errors(scenario: str) -> None:
    result, summary, _ = drill(scenarios=(scenario,))
    assert summary.ops == len(result.ops) == 400
    assert summary.client_errors == 0
    assert summary.passed, summary.criteria


def test_two_down_passes_when_one_target_may_acknowledge_a_write() -> None:
    for writes in ("all", "primary"):
        _, summary, _ = drill(scenarios=("two-down",), writes=writes)
        assert summary.passed, (writes, summary.criteria)


def test_two_down_with_a_quorum_of_two_fails_the_writes_and_says_so() -> None:
    _, summary, _ = drill(scenarios=("two-down",), writes="quorum")
    assert summary.client_errors > 0 and summary.stale_reads == 0
    assert summary.check.lost == 0  # refused writes were never acknowledged
    assert not summary.passed


def test_reads_every_written_key() -> None:
    result, summary, _ = drill(scenarios=("primary-killed",))
    written = {f"drill/write-{i:07d}" for i, op in enumerate(result.ops) if op.kind == "write"}
    assert summary.check.keys > 0
    # Every acknowledged write was queued for a read during the drill, and read back at the end.
    assert summary.written_keys_read == summary.check.acknowledged
    assert summary.check.read_back == summary.check.keys
    assert summary.check.keys <= len(written)


def test_no_lost_write_with_the_count_checked() -> None:
    _, summary, _ = drill(scenarios=("blackholed",), writes="quorum")
    check = summary.check
    assert check.acknowledged == summary.writes > 50
    assert check.lost == 0 and check.missing_copies == 0 and check.still_owed == 0
    assert check.copies_checked == 3 * check.keys
    assert check.ok


def test_a_target_restored_empty_is_refilled_before_the_check() -> None:
    _, summary, _ = drill(scenarios=("restored-empty",))
    assert summary.check.missing_copies == 0 and summary.passed


def test_a_lost_write_fails_the_drill(monkeypatch: pytest.MonkeyPatch) -> None:
    from failover.cli import drill_env

    real = drill_env.MemoryEnvironment.copy_of

    def forgetful(self: drill_env.MemoryEnvironment, target: int, key: str) -> bytes | None:
        return None if key.startswith("drill/") else real(self, target, key)

    monkeypatch.setattr(drill_env.MemoryEnvironment, "copy_of", forgetful)
    _, summary, _ = drill()
    assert summary.check.lost == summary.check.keys > 0
    assert "zero acknowledged writes lost" in [c.name for c in summary.criteria if not c.ok]


def test_failover_time_in_the_summary_equals_the_timeline_row() -> None:
    for scenario in ("primary-killed", "blackholed", "throttled"):
        _, summary, rows = drill(scenarios=(scenario,))
        assert summary.failover_at is not None
        [row] = [r for r in rows if any(text.startswith("FAILOVER") for text, _ in r.events)]
        assert row.second == int(summary.failover_at)
        assert summary.time_to_failover == pytest.approx(summary.failover_at - summary.first.first_failure_at)


def test_blackhole_costs_one_attempt_timeout_per_hung_call() -> None:
    _, summary, rows = drill(scenarios=("blackholed",))
    assert summary.first.rerouted_at == pytest.approx(summary.first.first_failure_at + SMALL.attempt_timeout)
    # Five consecutive timeouts open the breaker; a write's send to the primary runs beside
    # the others, so the fifth may overlap the fourth.
    opened = summary.first.breaker_opened_after
    assert opened is not None and 4 * SMALL.attempt_timeout - 1e-6 <= opened <= 5 * SMALL.attempt_timeout + 1e-6
    assert max(row.percentile(100) for row in rows) == pytest.approx(SMALL.attempt_timeout)
    assert summary.latency.max == pytest.approx(SMALL.attempt_timeout)


def test_per_second_latency_percentiles_are_in_the_timeline() -> None:
    result, _, rows = drill(scenarios=("brownout",))
    slow = [r for r in rows if r.percentile(50) > 0]
    assert slow and all(SMALL.outage_at <= r.second < SMALL.recovery_at for r in slow)
    data = to_json(result, summarize(result))
    assert {"p50_ms", "p99_ms", "p999_ms", "backlog"} <= set(data["timeline"][0])
    assert data["latency_ms"]["p999"] >= data["latency_ms"]["p99"] >= data["latency_ms"]["p50"]


def test_failback_waits_for_the_hysteresis_after_the_breaker_closes() -> None:
    result, summary, rows = drill()
    first = summary.first
    assert first.breaker_closed_at is not None and first.failback_at is not None
    assert first.breaker_closed_at >= SMALL.recovery_at
    assert summary.hysteresis == pytest.approx(SMALL.failback_after, abs=0.1)
    assert all(row.served[PRIMARY] == row.served[PRIMARY] + row.served[SECONDARY] for row in rows[-3:])
    failbacks = [e.at for e in result.events if isinstance(e.event, FailedBack) and e.at > first.breaker_closed_at]
    assert failbacks


def test_scenarios_combine_as_episodes_in_order() -> None:
    _, summary, _ = drill(duration=40, scenarios=("blackholed", "throttled"))
    assert [e.scenario for e in summary.episodes] == ["blackholed", "throttled"]
    assert summary.episodes[0].failover_at is not None and summary.episodes[1].failover_at is not None
    assert summary.episodes[0].failover_at < 20 <= summary.episodes[1].failover_at
    assert summary.passed, summary.criteria


def test_parse_scenarios_takes_commas_and_repeats() -> None:
    assert parse_scenarios(["blackholed,throttled", "brownout"]) == ("blackholed", "throttled", "brownout")
    assert parse_scenarios(None) == ("primary-killed",)
    with pytest.raises(ConfigError, match="--scenario: unknown fire"):
        parse_scenarios(["fire"])


def test_same_seed_same_drill() -> None:
    first, _, _ = drill(scenarios=("blackholed",), seed=11)
    again, _, _ = drill(scenarios=("blackholed",), seed=11)
    assert first.ops == again.ops


def test_events_column_kept_at_80_columns() -> None:
    result, summary, rows = drill(scenarios=("blackholed",))
    con, out = console(width=80)
    demo_render(con, result, summary)
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "events" in text
    flat = re.sub(r"\s+", "", text)
    for row in rows:
        for event, _ in row.events:
            assert re.sub(r"\s+", "", event) in flat, event


def demo_render(con: Console, result: DrillResult, summary: Summary) -> None:
    from failover.cli.report import render

    render(con, result, summary)


def test_game_day_prints_the_summary_and_writes_json(tmp_path: Path) -> None:
    con, out = console()
    path = tmp_path / "drill.json"
    assert game_day(SMALL, con, path) == 0
    text = out.getvalue()
    for expected in ("Summary", "time to failover", "store.status()", "PASS zero client-visible errors", "replicated"):
        assert expected in text
    data = json.loads(path.read_text())
    assert data["passed"] is True and data["client_errors"] == 0 and data["lost_writes"] == 0
    assert data["write_check"]["copies_checked"] == 3 * data["write_check"]["keys"]
    assert len(data["timeline"]) == 20


def test_game_day_returns_1_and_names_the_failed_criterion(monkeypatch: pytest.MonkeyPatch) -> None:
    from failover.cli import drill_run

    real = drill_run.summarize
    monkeypatch.setattr(drill_run, "summarize", lambda result: dataclasses.replace(real(result), client_errors=3))
    con, out = console()
    assert game_day(SMALL, con) == 1
    assert "drill FAILED: zero client-visible errors" in out.getvalue()


def test_json_summary_is_plain_data() -> None:
    result, summary, _ = drill()
    data = json.loads(json.dumps(to_json(result, summary)))
    assert data["config"]["failback_after"] == SMALL.failback_after
    assert set(data["traffic_share"]) == set(TARGETS)
    assert [t["name"] for t in data["status"]["targets"]] == list(TARGETS)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duration": 1}, "--duration"),
        ({"duration": 8, "scenarios": ("blackholed", "throttled")}, "5 per scenario"),
        ({"rate": 0}, "--rate"),
        ({"scenarios": ("fire",)}, "--scenario"),
        ({"writes": "some"}, "--writes"),
        ({"ops": 0}, "--ops"),
        ({"duration": 3600, "rate": 10_000}, "limit"),
    ],
)
def test_config_is_validated(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        dataclasses.replace(SMALL, **changes)  # type: ignore[arg-type]


def test_ops_sets_the_number_of_calls() -> None:
    result, summary, _ = drill(ops=123)
    assert summary.ops == len(result.ops) == 123


def test_realtime_uses_the_system_clock_and_simulation_a_fake_one() -> None:
    assert isinstance(demo.Drill(dataclasses.replace(SMALL, realtime=True)).clock, SystemClock)
    assert isinstance(demo.Drill(SMALL).clock, FakeClock)


def test_on_the_wall_clock_a_failback_a_few_ms_short_of_the_hysteresis_by_the_stamps_passes() -> None:
    # The breaker's close is stamped when its event is published, after the router began
    # counting the hysteresis: on the wall clock the stamps may show a few ms less.
    result, summary, _ = drill()
    closed_at = summary.first.breaker_closed_at
    failback_at = summary.first.failback_at
    assert closed_at is not None and failback_at is not None
    late = failback_at - (SMALL.failback_after - 0.004)
    events = tuple(dataclasses.replace(e, at=late) if e.at == closed_at else e for e in result.events)
    simulated = summarize(dataclasses.replace(result, events=events))
    wall = summarize(dataclasses.replace(result, events=events, config=dataclasses.replace(result.config, real=True)))
    assert simulated.hysteresis == pytest.approx(SMALL.failback_after - 0.004)
    hysteresis_ok = {c.name: c.ok for c in wall.criteria if "hysteresis" in c.name}
    assert list(hysteresis_ok.values()) == [True]
    assert [c.ok for c in simulated.criteria if "hysteresis" in c.name] == [False]
