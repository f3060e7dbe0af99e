"""`failover status` and `failover check` as an operator runs them: the real command, one set-up
file for S3 (moto), Azure Blob (Azurite) and GCS (fake-gcs-server), and a target that is down."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from failover.testing.servers import LocalServer, azurite_connection_string, free_port, raw_blob_service, raw_gcs_client
from tests.integration.servers import alive, raw_s3_client, unique
from tests.integration.test_config_local_servers import SETUP


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "failover", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def setup_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_east: LocalServer, azurite: LocalServer, fake_gcs: LocalServer
) -> tuple[Path, str]:
    bucket = unique("status")
    raw_s3_client(alive(moto_east)).create_bucket(Bucket=bucket)
    raw_blob_service(alive(azurite)).create_container(bucket)
    raw_gcs_client(alive(fake_gcs)).create_bucket(bucket)
    monkeypatch.setenv("TEST_AZURITE_CONNECTION", azurite_connection_string(azurite))  # the command inherits it
    text = SETUP.format(bucket=bucket, moto=moto_east.endpoint, gcs=fake_gcs.endpoint)
    path = tmp_path / "failover.toml"
    path.write_text(text)
    return path, text


def test_status_shows_the_three_clouds_up(setup_file: tuple[Path, str]) -> None:
    path, _ = setup_file
    done = run("status", "--config", str(path), "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["targets"]
    assert [(r["target"], r["role"], r["probe"]) for r in rows] == [
        ("aws:us-east-1", "preferred", "ok"),
        ("azure:local", "standby", "ok"),
        ("gcp:local", "standby", "ok"),
    ]
    table = run("status", "--config", str(path))
    assert table.returncode == 0 and "0 of 3" in table.stdout and "azure:local" in table.stdout


def test_check_exits_one_naming_the_cloud_that_is_down(setup_file: tuple[Path, str], tmp_path: Path) -> None:
    path, text = setup_file
    assert run("check", "--config", str(path)).returncode == 0
    # Nothing listens on this port: connection refused, as when the region is gone.
    dead = f"http://127.0.0.1:{free_port()}"
    broken = tmp_path / "broken.toml"
    gcs_endpoint = text.split('endpoint = "')[2].split('"')[0]
    broken.write_text(text.replace(gcs_endpoint, dead))
    done = run("check", "--config", str(broken), "--timeout", "3", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert document["down"] == ["storage:gcp:local"]
    [gcs] = [r for r in document["targets"] if r["target"] == "gcp:local"]
    assert gcs["role"] == "down" and gcs["probe"] != "ok"
    assert "secret" not in done.stdout.lower() and "AccountKey" not in done.stdout
