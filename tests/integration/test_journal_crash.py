"""Zero lost writes across a crash: a writer process is SIGKILLed mid-stream, restarted on the
same journal, and every write it acknowledged ends up on every cloud.

"Acknowledged" means the writer printed the key after ``put()`` returned.  While it
writes, Azure is down (every write owes it a repair) and the background drainer is
replicating to GCS, so the kill lands with repairs both queued and in flight.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration import servers
from tests.integration.servers import LocalServer

pytestmark = pytest.mark.integration

ACKED_BEFORE_KILL = 40

WRITER = r"""
import json, sys, time
from failover import BreakerConfig, FailoverStorage, Target, replication
from failover.providers.aws import S3Store
from failover.providers.azure import BlobStore
from failover.providers.chaos import ChaosProvider
from failover.providers.gcp import GCSStore, emulator_client

cfg = json.loads(sys.argv[1])
phase = sys.argv[2]
azure = ChaosProvider(BlobStore(container=cfg["container"], connection_string=cfg["azure"]))
if phase == "write":
    azure.down()
targets = [
    Target("aws:us-east-1", S3Store(cfg["bucket"], region="us-east-1", endpoint_url=cfg["s3"]), priority=0),
    Target("azure:westeurope", azure, priority=1),
    Target("gcp:europe-west1", GCSStore(cfg["bucket"], client=emulator_client(cfg["gcs"])), priority=2),
]
storage = FailoverStorage(
    targets,
    writes=replication.Primary(journal=cfg["journal"], drain_interval=0.05, unconfirmed_grace=1.0),
    breaker=BreakerConfig(consecutive_failures=1000),  # keep trying Azure: a repair must stay owed
    failback_after=0.0,
)
storage.start()
if phase == "write":
    i = 0
    while True:
        key = f"crash/{i:05d}"
        storage.put(key, (key + " ").encode() * (i % 50 + 1))
        print(key, flush=True)
        i += 1
else:
    print("owed at restart", json.dumps(storage.pending()), flush=True)
    give_up = time.monotonic() + 60  # bounded: a stuck drain fails the test, it never hangs
    while storage.pending() and time.monotonic() < give_up:
        storage.repair()
        time.sleep(0.05)
    storage.close()
    print("drained", flush=True)
"""


def payload(key: str) -> bytes:
    i = int(key.rsplit("/", 1)[1])
    return (key + " ").encode() * (i % 50 + 1)


def test_every_acknowledged_write_survives_a_sigkill(
    tmp_path: Path, moto_east: LocalServer, azurite: LocalServer, fake_gcs: LocalServer
) -> None:
    bucket = servers.unique("crash")
    container = servers.unique("crash")
    servers.raw_s3_client(servers.alive(moto_east)).create_bucket(Bucket=bucket)
    servers.raw_blob_service(servers.alive(azurite)).create_container(container)
    servers.raw_gcs_client(servers.alive(fake_gcs)).create_bucket(bucket)
    config = json.dumps(
        {
            "bucket": bucket,
            "container": container,
            "s3": moto_east.endpoint,
            "azure": servers.azurite_connection_string(azurite),
            "gcs": fake_gcs.endpoint,
            "journal": str(tmp_path / "journal.sqlite"),
        }
    )
    env = {**os.environ, "PYTHONPATH": str(servers.REPO)}
    script = tmp_path / "writer.py"
    script.write_text(WRITER)

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
        while len(acked) < ACKED_BEFORE_KILL and time.monotonic() < deadline:
            line = writer.stdout.readline()
            if not line:
                break
            acked.append(line.strip())
    finally:
        writer.send_signal(signal.SIGKILL)
        _, err = writer.communicate(timeout=30)
    assert len(acked) == ACKED_BEFORE_KILL, f"the writer died early:\n{err[-3000:]}"
    assert writer.returncode == -signal.SIGKILL

    recovered = subprocess.run(
        [sys.executable, str(script), config, "recover"], capture_output=True, text=True, env=env, timeout=120
    )
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    assert "drained" in recovered.stdout
    owed = json.loads(recovered.stdout.splitlines()[0].removeprefix("owed at restart "))
    assert owed.get("azure:westeurope", 0) >= ACKED_BEFORE_KILL  # Azure missed every write

    for name, store in _stores(bucket, container, moto_east, azurite, fake_gcs).items():
        for key in acked:
            data = payload(key)
            assert store.get(key) == data, (name, key)
            assert store.head(key).checksum == "sha256:" + hashlib.sha256(data).hexdigest(), (name, key)


def _stores(
    bucket: str, container: str, moto: LocalServer, azurite: LocalServer, gcs: LocalServer
) -> dict[str, Any]:
    from failover.providers.aws import S3Store
    from failover.providers.azure import BlobStore
    from failover.providers.gcp import GCSStore, emulator_client

    return {
        "s3": S3Store(bucket, region="us-east-1", endpoint_url=moto.endpoint),
        "azure": BlobStore(container=container, connection_string=servers.azurite_connection_string(azurite)),
        "gcs": GCSStore(bucket, client=emulator_client(gcs.endpoint)),
    }
