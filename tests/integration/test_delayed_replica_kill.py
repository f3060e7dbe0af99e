"""A writer dies with a write still on its way to a slow replica: the process that takes
over its journal must not repair that replica before the old write has landed.

Real S3 (moto) sits behind a loopback proxy that holds every byte for ``DELAY``
seconds; Azure Blob (Azurite) and GCS (fake-gcs-server) answer at once.  The writer
sends ``v1`` of a key: S3's attempt is abandoned (its bytes wait in the proxy), S3's
breaker opens, Azure and GCS acknowledge.  ``v2`` is acknowledged by Azure and GCS, and
S3 owes it.  The writer is SIGKILLed, the network heals, and a second process opens the
same journal and drains it.  The dead writer's ``v1`` then reaches S3.  S3 must end on
``v2``, checked with boto3 after every delayed byte has landed, and the journal must be
empty.  Other keys written while S3 was out must be on every cloud too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from failover.testing.proxy import TcpProxy
from tests.integration import servers
from tests.integration.servers import LocalServer

pytestmark = pytest.mark.integration

DELAY = 6.0  # how long the proxy holds the dead writer's bytes
GRACE = 9.0  # unconfirmed_grace: longer than any delay the network is allowed
OTHER_KEYS = 5

PROCESS = r"""
import json, sys, time
from failover import BreakerConfig, ExecutionConfig, FailoverStorage, Target, replication
from failover.providers.aws import S3Store
from failover.providers.azure import BlobStore
from failover.providers.gcp import GCSStore, emulator_client

cfg = json.loads(sys.argv[1])
phase = sys.argv[2]
targets = [
    Target("aws:us-east-1", S3Store(cfg["bucket"], region="us-east-1", endpoint_url=cfg["s3"]), priority=0),
    Target("azure:westeurope", BlobStore(container=cfg["container"], connection_string=cfg["azure"]), priority=1),
    Target("gcp:europe-west1", GCSStore(cfg["bucket"], client=emulator_client(cfg["gcs"])), priority=2),
]
storage = FailoverStorage(
    targets,
    writes=replication.Quorum(
        2, journal=cfg["journal"], restore_check=None, unconfirmed_grace=cfg["grace"], drain_interval=0.05
    ),
    execution=ExecutionConfig(attempt_timeout=1.0, deadline=5.0, enforce_timeouts=True),
    breaker=BreakerConfig(consecutive_failures=1, open_base=120.0, open_max=120.0, jitter=0.0),
    failback_after=0.0,
)
storage.start()
if phase == "write":
    storage.put("hot", b"v1")  # S3's attempt is abandoned on the slow network; its breaker opens
    print("acked hot v1", flush=True)
    storage.put("hot", b"v2")  # S3 is skipped: it owes v2
    print("acked hot v2", flush=True)
    for i in range(cfg["others"]):
        storage.put(f"other/{i}", f"other {i}".encode())
        print(f"acked other/{i}", flush=True)
    # Stay alive a moment, so that every byte of the abandoned S3 attempt has left this
    # process (into the slow network) before it is killed: v1 is on the wire, not lost.
    time.sleep(2.0)
    print("done", flush=True)
    time.sleep(600)  # wait for the kill
else:
    give_up = time.monotonic() + 60  # bounded: a stuck drain fails the test, it never hangs
    while storage.pending() and time.monotonic() < give_up:
        storage.repair()
        time.sleep(0.05)
    print("pending", json.dumps(storage.pending()), flush=True)
    storage.close()
"""


def test_a_restarted_writer_never_lets_a_dead_writers_late_write_roll_a_replica_back(
    tmp_path: Path, moto_east: LocalServer, azurite: LocalServer, fake_gcs: LocalServer
) -> None:
    bucket = servers.unique("late")
    container = servers.unique("late")
    s3 = servers.raw_s3_client(servers.alive(moto_east))
    s3.create_bucket(Bucket=bucket)
    # Versioning keeps every write S3 applied, so the test can tell the late v1 did land.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    servers.raw_blob_service(servers.alive(azurite)).create_container(container)
    servers.raw_gcs_client(servers.alive(fake_gcs)).create_bucket(bucket)
    script = tmp_path / "process.py"
    script.write_text(PROCESS)
    env = {**os.environ, "PYTHONPATH": str(servers.REPO)}

    with TcpProxy(moto_east.port) as proxy:
        config = json.dumps(
            {
                "bucket": bucket,
                "container": container,
                "s3": proxy.endpoint,
                "azure": servers.azurite_connection_string(azurite),
                "gcs": fake_gcs.endpoint,
                "journal": str(tmp_path / "journal.sqlite"),
                "grace": GRACE,
                "others": OTHER_KEYS,
            }
        )
        proxy.delay(DELAY)
        acked, v1_acked_at = _write_then_kill(script, config, env)
        proxy.pass_through()  # the network heals; the dead writer's v1 is still held
        assert "acked hot v2" in acked, acked

        recovered = subprocess.run(
            [sys.executable, str(script), config, "recover"], capture_output=True, text=True, env=env, timeout=120
        )
        assert recovered.returncode == 0, recovered.stderr[-3000:]
        pending = json.loads(recovered.stdout.splitlines()[-1].removeprefix("pending "))
        assert pending == {}, recovered.stdout

        # v1 was sent to S3 before it was acknowledged: every byte the proxy held has been
        # forwarded by now (plus a margin for moto to apply it).
        time.sleep(max(0.0, v1_acked_at + DELAY + 2.0 - time.monotonic()))
        assert proxy.stats.by_mode.get("delay", 0) >= 1, "the writer's S3 attempt never reached the slow network"

    body = s3.get_object(Bucket=bucket, Key="hot")["Body"].read()
    assert body == b"v2", "the dead writer's late v1 rolled the S3 replica back"
    versions = s3.list_object_versions(Bucket=bucket, Prefix="hot")["Versions"]
    applied = [s3.get_object(Bucket=bucket, Key="hot", VersionId=v["VersionId"])["Body"].read() for v in versions]
    assert b"v1" in applied, f"the dead writer's v1 never reached S3: nothing was tested ({applied})"
    for i in range(OTHER_KEYS):
        assert s3.get_object(Bucket=bucket, Key=f"other/{i}")["Body"].read() == f"other {i}".encode()
    _assert_on_azure_and_gcs(bucket, container, azurite, fake_gcs)


def _write_then_kill(script: Path, config: str, env: dict[str, str]) -> tuple[list[str], float]:
    """Run the writer until it has acknowledged everything, then SIGKILL it.  Returns the
    lines it printed and when it acknowledged ``v1`` (after sending it to S3)."""
    v1_acked_at = 0.0
    writer = subprocess.Popen(
        [sys.executable, str(script), config, "write"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    acked: list[str] = []
    try:
        assert writer.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = writer.stdout.readline()
            if not line or line.strip() == "done":
                break
            acked.append(line.strip())
            if line.strip() == "acked hot v1":
                v1_acked_at = time.monotonic()
    finally:
        writer.send_signal(signal.SIGKILL)
        _, err = writer.communicate(timeout=30)
    assert writer.returncode == -signal.SIGKILL, err[-3000:]
    assert len(acked) == 2 + OTHER_KEYS, f"the writer stopped early:\n{err[-3000:]}"
    return acked, v1_acked_at


def _assert_on_azure_and_gcs(bucket: str, container: str, azurite: LocalServer, fake_gcs: LocalServer) -> None:
    blobs: Any = servers.raw_blob_service(azurite).get_container_client(container)
    gcs: Any = servers.raw_gcs_client(fake_gcs).bucket(bucket)
    expected = {"hot": b"v2", **{f"other/{i}": f"other {i}".encode() for i in range(OTHER_KEYS)}}
    for key, data in expected.items():
        assert blobs.download_blob(key).readall() == data, ("azure", key)
        assert gcs.blob(key).download_as_bytes() == data, ("gcs", key)
