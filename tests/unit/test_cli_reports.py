"""The reporting commands: `status` and `check` probe a set-up file's targets once; every report
takes `--json [PATH]` (stdout alone with no PATH); reconcile reads its targets from a set-up file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from failover import FailoverStorage, FakeClock, Target
from failover.cli.main import main
from failover.cli.status import probe_setup
from failover.config import parse
from failover.config.setup import Setup
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from tests.unit.setups import STORAGE_AND_DNS

FILE = STORAGE_AND_DNS


def setup_with(chaos: ChaosProvider, clock: FakeClock) -> Setup:
    storage = FailoverStorage(
        [Target("mem:a", chaos), Target("mem:b", MemoryObjectStore(clock=clock), priority=1)], clock=clock
    )
    return Setup(parse(FILE, environ={}).config, source="it.toml", storage=storage)


def test_status_lists_every_target_of_every_facade_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "it.toml"
    path.write_text(FILE)
    assert main(["status", "--config", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(t["facade"], t["target"], t["role"], t["probe"]) for t in document["targets"]] == [
        ("storage", "mem:a", "preferred", "ok"),
        ("storage", "mem:b", "standby", "ok"),
        ("dns", "mem:dns", "preferred", "ok"),
    ]
    assert document["down"] == [] and document["file"] == str(path)


def test_status_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "it.toml"
    path.write_text(FILE)
    assert main(["status", "--config", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the title wraps at the terminal's width
    assert "0 of 3 target(s) down" in out and "mem:dns" in out and "preferred" in out


def test_check_exits_zero_when_every_target_is_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "it.toml"
    path.write_text(FILE)
    assert main(["check", "--config", str(path)]) == 0
    assert "all 3 target(s) up" in capsys.readouterr().out


def test_a_bad_file_exits_two_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "it.toml"
    path.write_text(FILE.replace("priority = 1", "priority = -1.5"))
    assert main(["check", "--config", str(path)]) == 2
    assert "storage.targets[1].priority" in capsys.readouterr().err


def test_a_failed_probe_marks_the_target_down_with_the_reason() -> None:
    clock = FakeClock()
    chaos = ChaosProvider(MemoryObjectStore(clock=clock), clock=clock)
    chaos.down()
    rows = probe_setup(setup_with(chaos, clock), timeout=1.0)
    down = {r.target: r for r in rows if r.down}
    assert set(down) == {"mem:a"}
    assert down["mem:a"].role == "down" and "Unavailable" in down["mem:a"].probe


def test_a_forced_open_breaker_is_down_though_the_probe_answers() -> None:
    clock = FakeClock()
    setup = setup_with(ChaosProvider(MemoryObjectStore(clock=clock), clock=clock), clock)
    assert setup.storage is not None
    setup.storage.force_open("mem:a", "maintenance")
    [row] = [r for r in probe_setup(setup, timeout=1.0) if r.target == "mem:a"]
    assert row.down and row.probe == "ok" and row.breaker == "forced_open"


@pytest.mark.parametrize("timeout", ["0", "-1", "soon", "7200"])
def test_a_bad_timeout_is_a_usage_error(timeout: str, tmp_path: Path) -> None:
    path = tmp_path / "it.toml"
    path.write_text(FILE)
    assert main(["status", "--config", str(path), "--timeout", timeout]) == 2


def test_drill_is_the_command_and_demo_its_alias() -> None:
    from failover.cli.main import build_parser

    parser = build_parser()
    for name in ("drill", "demo"):
        args = parser.parse_args([name, "--duration", "5"])
        assert isinstance(args, argparse.Namespace) and args.run.__name__ == "_run_demo"


def test_json_to_stdout_is_the_document_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "it.toml"
    path.write_text(FILE)
    for command in ("status", "check"):
        assert main([command, "--config", str(path), "--json", "-"]) == 0
        assert len(json.loads(capsys.readouterr().out)["targets"]) == 3


def test_json_to_a_file_keeps_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, out = tmp_path / "it.toml", tmp_path / "status.json"
    path.write_text(FILE)
    assert main(["status", "--config", str(path), "--json", str(out)]) == 0
    assert "mem:dns" in capsys.readouterr().out
    assert json.loads(out.read_text())["down"] == []


def test_the_drill_writes_its_summary_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "--duration", "40", "--rate", "20", "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["passed"] is True and summary["ops"] > 0


def test_reconcile_takes_its_targets_and_journal_from_a_set_up_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "it.toml"
    path.write_text(FILE + '\n[storage.replication]\nmode = "all"\njournal = "journal.sqlite"\n')
    assert main(["reconcile", "--config", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scanned"] == 0 and report["dry_run"] is True
    assert (tmp_path / "journal.sqlite").exists()


def test_reconcile_needs_a_storage_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "it.toml"
    path.write_text(FILE.split("[[dns.targets]]")[1].join(["[[dns.targets]]", ""]))
    assert main(["reconcile", "--config", str(path)]) == 2
    assert "needs a [storage] section" in capsys.readouterr().err
