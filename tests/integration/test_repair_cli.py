"""`failover repair --config FILE` after an outage: a later process catches the clouds up from
the journal, with each cloud's own SDK checking the result (moto, Azurite, fake-gcs-server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from failover.config import load
from failover.testing.servers import LocalServer, azurite_connection_string, free_port, raw_blob_service, raw_gcs_client
from tests.integration.servers import alive, raw_s3_client, unique
from tests.integration.test_config_local_servers import SETUP

KEYS = [f"orders/{i}.json" for i in range(3)]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "failover", *args], capture_output=True, text=True, timeout=120, check=False
    )


def outage_file(tmp_path: Path, text: str) -> Path:
    """The set-up with replication in quorum (2 of 3) and a short grace for a dead writer's requests."""
    text = text.replace('mode = "all"', 'mode = "quorum"\nquorum = 2\nunconfirmed_grace = 0.5')
    path = tmp_path / "failover.toml"
    path.write_text(text)
    return path


def test_repair_catches_a_cloud_up_after_it_was_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_east: LocalServer, azurite: LocalServer, fake_gcs: LocalServer
) -> None:
    bucket = unique("repair")
    raw_s3_client(alive(moto_east)).create_bucket(Bucket=bucket)
    raw_blob_service(alive(azurite)).create_container(bucket)
    gcs = raw_gcs_client(alive(fake_gcs))
    gcs.create_bucket(bucket)
    monkeypatch.setenv("TEST_AZURITE_CONNECTION", azurite_connection_string(azurite))
    path = outage_file(tmp_path, SETUP.format(bucket=bucket, moto=moto_east.endpoint, gcs=fake_gcs.endpoint))
    with load(path) as setup:  # a writer during the outage of GCS
        assert setup.storage is not None
        setup.storage.force_open("gcp:local", "region outage")
        for key in KEYS:
            setup.storage.put(key, key.encode())
        assert setup.storage.pending() == {"gcp:local": 3}
    assert [b.name for b in gcs.list_blobs(bucket, prefix="orders/")] == []

    done = run("repair", "--config", str(path), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    outcome = json.loads(done.stdout)
    assert (outcome["repaired"], outcome["owed"], outcome["quarantined"]) == (3, {}, 0)
    on_gcs = {b.name: b.download_as_bytes() for b in gcs.list_blobs(bucket, prefix="orders/")}
    assert on_gcs == {k: k.encode() for k in KEYS}


def test_repair_exits_one_and_says_what_is_owed_while_the_cloud_is_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_east: LocalServer, azurite: LocalServer, fake_gcs: LocalServer
) -> None:
    bucket = unique("repair")
    raw_s3_client(alive(moto_east)).create_bucket(Bucket=bucket)
    raw_blob_service(alive(azurite)).create_container(bucket)
    raw_gcs_client(alive(fake_gcs)).create_bucket(bucket)
    monkeypatch.setenv("TEST_AZURITE_CONNECTION", azurite_connection_string(azurite))
    dead = f"http://127.0.0.1:{free_port()}"  # GCS gone: connection refused
    path = outage_file(tmp_path, SETUP.format(bucket=bucket, moto=moto_east.endpoint, gcs=dead))
    with load(path) as setup:
        assert setup.storage is not None
        setup.storage.put(KEYS[0], b"x")
        assert setup.storage.pending() == {"gcp:local": 1}
    done = run("repair", "--config", str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "gcp:local: 1 owed" in done.stdout
