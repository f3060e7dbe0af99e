"""One set-up file for S3 (moto), Azure Blob (Azurite) and GCS (fake-gcs-server), loaded with
`failover.config.load`: replicated writes land on all three and read back through each.

Credentials are by reference as in production: AWS keys from the environment, the
Azurite connection string from a variable, anonymous access for fake-gcs-server."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.config import load
from failover.testing.servers import LocalServer, azurite_connection_string, raw_blob_service, raw_gcs_client
from tests.integration.servers import alive, raw_s3_client, unique

SETUP = """
[storage]
failback_after = 0

[storage.execution]
attempt_timeout = 5
deadline = 20

[storage.replication]
mode = "all"
journal = "journal.sqlite"

[[storage.targets]]
name = "aws:us-east-1"
provider = "s3"
region = "us-east-1"
bucket = "{bucket}"
endpoint = "{moto}"

[storage.targets.credentials]
kind = "aws_keys"
access_key_id_env = "AWS_ACCESS_KEY_ID"
secret_access_key_env = "AWS_SECRET_ACCESS_KEY"

[[storage.targets]]
name = "azure:local"
provider = "azure_blob"
priority = 1
container = "{bucket}"
credentials = {{ kind = "connection_string", connection_string_env = "TEST_AZURITE_CONNECTION" }}

[[storage.targets]]
name = "gcp:local"
provider = "gcs"
priority = 2
bucket = "{bucket}"
endpoint = "{gcs}"
credentials = {{ kind = "anonymous" }}
"""


def test_one_file_for_three_local_clouds_replicates_and_reads_back_through_each(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    moto_east: LocalServer,
    azurite: LocalServer,
    fake_gcs: LocalServer,
) -> None:
    bucket = unique("cfg")
    raw_s3_client(alive(moto_east)).create_bucket(Bucket=bucket)
    raw_blob_service(alive(azurite)).create_container(bucket)
    raw_gcs_client(alive(fake_gcs)).create_bucket(bucket)
    monkeypatch.setenv("TEST_AZURITE_CONNECTION", azurite_connection_string(azurite))
    path = tmp_path / "failover.toml"
    path.write_text(SETUP.format(bucket=bucket, moto=moto_east.endpoint, gcs=fake_gcs.endpoint))

    with load(path) as setup:
        storage = setup.storage
        assert storage is not None and setup.dns is None and setup.compute is None
        storage.put("reports/q3.csv", b"region,revenue\n")
        providers = {t.name: t.provider for t in storage.pool.targets}
        assert {name: p.get("reports/q3.csv") for name, p in providers.items()} == dict.fromkeys(
            providers, b"region,revenue\n"
        )
        # Through the facade too: each target in turn serves the read once those before it are open.
        for opened in ("aws:us-east-1", "azure:local"):
            assert storage.get("reports/q3.csv") == b"region,revenue\n"
            storage.pool.member(opened).breaker.force_open("drill")
        assert storage.get("reports/q3.csv") == b"region,revenue\n"
        status = storage.status()
        assert [row.name for row in status.targets] == ["aws:us-east-1", "azure:local", "gcp:local"]
        assert all(row.errors == 0 and row.calls >= 1 for row in status.targets)
    assert (tmp_path / "journal.sqlite").exists()
