"""``failover check-config``: exit 0 with a summary for a valid file, 2 with the one-line error."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from failover.cli.check_config import add_check_config

GOOD = """
[storage]
policy = "weighted"
[storage.replication]
mode = "primary"
journal = "never-opened.sqlite"
[[storage.targets]]
name = "mem:a"
provider = "memory"
[[storage.targets]]
name = "mem:b"
provider = "memory"
weight = 0
"""


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="failover")
    add_check_config(parser.add_subparsers())
    args = parser.parse_args(["check-config", *argv])
    code: int = args.run(args)
    return code


def test_a_valid_file_prints_its_targets_policy_and_replication_and_opens_no_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "it.toml"
    path.write_text(GOOD)
    assert run(str(path)) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "mem:a" in out and "mem:b" in out and "memory" in out
    assert "policy: weighted" in out and "replication: primary" in out
    assert not (tmp_path / "never-opened.sqlite").exists()


def test_json_gives_the_same_summary_as_a_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "it.toml"
    path.write_text(GOOD)
    assert run(str(path), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    storage = report["facades"]["storage"]
    assert report["valid"] is True and [t["name"] for t in storage["targets"]] == ["mem:a", "mem:b"]
    assert storage["policy"] == {"kind": "weighted"} and storage["replication"]["mode"] == "primary"


def test_an_invalid_file_prints_the_config_error_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "it.toml"
    path.write_text(GOOD.replace("weight = 0", "weight = -3"))
    assert run(str(path), "--json") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err.strip() == f"failover check-config: error: {path}: storage.targets[1].weight: must be >= 0, got -3"
    )


def test_an_unset_credential_variable_is_an_invalid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHECK_CONFIG_AZURE", raising=False)
    path = tmp_path / "it.toml"
    path.write_text(
        '[storage]\n[[storage.targets]]\nname = "azure:x"\nprovider = "azure_blob"\ncontainer = "c"\n'
        'credentials = { kind = "connection_string", connection_string_env = "CHECK_CONFIG_AZURE" }\n'
    )
    assert run(str(path)) == 2
    assert "environment variable CHECK_CONFIG_AZURE is not set" in capsys.readouterr().err


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(str(tmp_path / "absent.toml")) == 2
    assert "cannot read" in capsys.readouterr().err
