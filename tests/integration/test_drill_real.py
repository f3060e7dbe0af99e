"""`python -m failover drill --real` as a user runs it: the drill starts moto, Azurite and
fake-gcs-server itself, injects its scenarios, and checks every write with each cloud's SDK."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def drill(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    out = tmp_path / "drill.json"
    proc = subprocess.run(
        [sys.executable, "-m", "failover", "drill", "--real", "--json", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc, json.loads(out.read_text(encoding="utf-8"))


def test_primary_killed_on_the_local_servers_loses_no_write(tmp_path: Path) -> None:
    proc, data = drill(tmp_path, "--duration", "12", "--rate", "40", "--scenario", "primary-killed")
    assert data["passed"] is True and data["client_errors"] == 0
    check = data["write_check"]
    assert isinstance(check, dict)
    assert data["lost_writes"] == check["lost"] == 0 and check["missing_copies"] == 0
    assert check["acknowledged"] == data["writes"] and check["acknowledged"] > 50
    assert check["copies_checked"] == 3 * check["keys"]
    assert data["targets"] == ["s3:moto", "azure:azurite", "gcs:fake-gcs"]
    assert [e["scenario"] for e in data["episodes"]] == ["primary-killed"]  # type: ignore[attr-defined]
    assert "PASS zero acknowledged writes lost" in proc.stdout


def test_throttled_with_the_proxy_answering_503(tmp_path: Path) -> None:
    _, data = drill(tmp_path, "--duration", "12", "--rate", "40", "--scenario", "throttled", "--writes", "all")
    assert data["passed"] is True and data["lost_writes"] == 0


def test_a_blackholed_primary_fails_over_and_back_with_no_lost_write(tmp_path: Path) -> None:
    # Uploads to the blackhole must give up at the attempt timeout, or the breaker opens
    # late and the failover comes after the heal (botocore's 100-continue wait did that).
    _, data = drill(tmp_path, "--duration", "15", "--rate", "40", "--scenario", "blackholed")
    assert data["passed"] is True and data["lost_writes"] == 0 and data["client_errors"] == 0
