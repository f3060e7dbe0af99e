"""The ``failover`` command line: exit codes, messages, the JSON summary, ``python -m failover``."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from failover.cli import drill_run
from failover.cli.main import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["demo", "--duration", "20", "--rate", "20"]


def test_demo_passes_with_exit_code_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(SMALL) == EXIT_OK
    out = capsys.readouterr().out
    assert "PASS zero client-visible errors" in out
    assert "FAIL " not in out and "drill FAILED" not in out


def test_blackholed_drill_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SMALL, "--scenario", "blackholed"]) == EXIT_OK
    assert "us-east-1 blackholed" in capsys.readouterr().out


def test_scenarios_combine_with_commas_and_repeated_flags(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["drill", "--duration", "45", "--rate", "20", "--scenario", "blackholed,throttled", "--scenario", "partial"]
    assert main(argv) == EXIT_OK
    out = capsys.readouterr().out
    for n, name in enumerate(("blackholed", "throttled", "partial"), 1):
        assert f"PASS #{n} {name}: failed over" in out


def test_two_targets_down_passes_by_default_with_writes_to_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    # A quorum of 2 cannot be met while one target of three is up: the default is then "all".
    assert main([*SMALL, "--scenario", "two-down"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "writes=all" in out and "PASS zero client-visible errors" in out


def test_two_targets_down_with_an_explicit_quorum_says_why_its_writes_fail(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SMALL, "--scenario", "two-down", "--writes", "quorum"]) == EXIT_FAILED
    out = " ".join(capsys.readouterr().out.split())
    assert "a quorum of 2 cannot be met then, so those writes are refused" in out
    assert "FAIL zero client-visible errors" in out and "PASS zero acknowledged writes lost" in out


def test_the_drill_options_are_stated_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "--help"]) == EXIT_OK
    out = capsys.readouterr().out
    for text in ("--scenario", "--writes", "--ops", "--real", "--report", "primary-killed", "per scenario", "Exit"):
        assert text in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["reboot-the-cloud"], "invalid choice"),
        (["demo", "--rate", "0"], "argument --rate: must be > 0"),
        (["demo", "--rate", "fast"], "argument --rate: expected a whole number"),
        (["demo", "--duration", "-3"], "argument --duration: must be a finite number > 0"),
        (["demo", "--duration", "nan"], "argument --duration: must be a finite number > 0"),
        (["demo", "--scenario", "fire"], "--scenario: unknown fire"),
        (["demo", "--writes", "some"], "argument --writes: invalid choice: 'some'"),
        (["demo", "--ops", "0"], "argument --ops: must be > 0"),
        (["demo", "--duration", "2"], "--duration must be between 5"),
        (["demo", "--duration", "8", "--scenario", "blackholed,throttled"], "5 per scenario"),
        (["demo", "--report", "/no/such/dir/r.html"], "does not exist"),
        (["demo", "--json", "/no/such/dir/out.json"], "does not exist"),
        (["demo", "--unknown"], "unrecognized arguments: --unknown"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err
    assert "usage: failover" in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--help"]) == EXIT_OK
    out = capsys.readouterr().out
    for option in ("--duration", "--rate", "--seed", "--scenario", "--realtime", "--json"):
        assert option in out


def test_failed_criteria_exit_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = drill_run.summarize
    monkeypatch.setattr(drill_run, "summarize", lambda result: dataclasses.replace(real(result), client_errors=4))
    assert main(SMALL) == EXIT_FAILED
    assert "drill FAILED: zero client-visible errors" in capsys.readouterr().out


def test_json_summary_has_the_expected_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "summary.json"
    assert main([*SMALL, "--seed", "5", "--json", str(path)]) == EXIT_OK
    data = json.loads(path.read_text(encoding="utf-8"))
    assert {
        "passed",
        "config",
        "criteria",
        "ops",
        "reads",
        "writes",
        "client_errors",
        "retried_attempts",
        "time_to_failover_s",
        "breaker_opened_after_s",
        "time_to_failback_s",
        "hysteresis_s",
        "traffic_share",
        "lost_writes",
        "write_check",
        "latency_ms",
        "episodes",
        "status",
        "timeline",
        "wall_seconds",
    } <= set(data)
    assert data["passed"] is True
    assert data["config"]["seed"] == 5
    assert data["ops"] == 400 and data["client_errors"] == 0
    assert all(c["ok"] for c in data["criteria"])
    assert data["hysteresis_s"] >= data["config"]["failback_after"] - 1e-6
    assert data["lost_writes"] == 0 and data["write_check"]["acknowledged"] == data["writes"]
    assert set(data["timeline"][0]) == {
        "second", "served", "took", "retried", "errors", "p50_ms", "p99_ms", "p999_ms",
        "max_latency_ms", "breakers", "backlog", "events",
    }  # fmt: skip


def test_json_to_stdout_alone(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SMALL, "--json"]) == EXIT_OK
    captured = capsys.readouterr()
    data = json.loads(captured.out)  # the whole of stdout is the document
    assert data["passed"] is True and data["lost_writes"] == 0
    assert "Summary" not in captured.out


def test_python_dash_m_failover_runs_the_demo(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "failover", "demo", "--duration", "10", "--rate", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "failed back after" in proc.stdout and "PASS zero acknowledged writes lost" in proc.stdout


def test_on_the_wall_clock_ops_without_a_duration_keeps_the_calls_pace() -> None:
    from failover.cli.main import _drill_duration, build_parser

    def duration(*argv: str) -> float:
        return _drill_duration(build_parser().parse_args(["drill", *argv]))

    assert duration("--real", "--ops", "10000") == 200.0  # 10,000 calls at the default 50/s
    assert duration("--real", "--ops", "10000", "--rate", "100") == 100.0
    assert duration("--real", "--ops", "100") == duration("--real")  # never shorter than the default
    assert duration("--ops", "10000") == duration()  # simulated: the clock keeps any pace
    assert duration("--real", "--ops", "10000", "--duration", "60") == 60.0
