"""Repair throughput: draining the journal against a plain copy loop, same SDKs, same local servers.

    python -m benchmarks.repair [--objects 400] [--size 65536] [--out benchmarks/results/repair.json]

Source: S3 on moto.  Destination: GCS on fake-gcs-server.  Both started here on
loopback ports, in this one run, side by side:

* plain copy loop: for each key, boto3 ``get_object`` then google-cloud-storage
  ``upload_from_string`` (the least a hand-written repair script would do);
* repair, journal payload: the destination was down while ``--objects`` writes went
  through ``replication.Primary``; it comes back and ``repair()`` runs.  Each repair
  heads the destination (never overwrite a newer version) and puts the bytes kept
  in the journal.  With 1 worker (like the loop) and with the default 4;
* repair, copied from a replica (``inline_limit=0``): the journal keeps no bytes, so
  each repair also heads and reads the source;
* converge: the same outage with the background drainer running; seconds from the
  moment the destination heals until nothing is owed (includes waiting for the
  drainer's next pass and the breaker's trial call).

Goal (issue 4): repair >= 0.5x the plain copy loop.  Figures go to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from failover import BreakerConfig, FailoverStorage, Target, replication
from failover.providers.aws import S3Store
from failover.providers.chaos import ChaosProvider
from failover.providers.gcp import GCSStore, emulator_client
from tests.integration import servers


def loopback_env() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )


def payload(i: int, size: int) -> bytes:
    return (f"{i:08d}".encode() * (size // 8 + 1))[:size]


def plain_copy(moto: servers.LocalServer, gcs: servers.LocalServer, objects: int, size: int) -> float:
    s3 = servers.raw_s3_client(moto)
    source = servers.unique("plain")
    s3.create_bucket(Bucket=source)
    for i in range(objects):
        s3.put_object(Bucket=source, Key=f"obj/{i:06d}", Body=payload(i, size))
    client = servers.raw_gcs_client(gcs)
    dest = client.create_bucket(servers.unique("plain"))
    began = time.perf_counter()
    for i in range(objects):
        key = f"obj/{i:06d}"
        data = s3.get_object(Bucket=source, Key=key)["Body"].read()
        dest.blob(key).upload_from_string(data)
    return time.perf_counter() - began


def outage(
    moto: servers.LocalServer, gcs: servers.LocalServer, objects: int, size: int, mode: replication.WriteMode
) -> tuple[FailoverStorage, ChaosProvider]:
    """A replicated facade whose GCS target missed ``objects`` writes."""
    bucket = servers.unique("repair")
    servers.raw_s3_client(moto).create_bucket(Bucket=bucket)
    servers.raw_gcs_client(gcs).create_bucket(bucket)
    down = ChaosProvider(GCSStore(bucket, client=emulator_client(gcs.endpoint)))
    storage = FailoverStorage(
        [
            Target("aws:us-east-1", S3Store(bucket, region="us-east-1", endpoint_url=moto.endpoint), priority=0),
            Target("gcp:europe-west1", down, priority=1),
        ],
        writes=mode,
        breaker=BreakerConfig(consecutive_failures=5, open_base=0.5, jitter=0.0),
        failback_after=0.0,
    )
    down.down()
    for i in range(objects):
        storage.put(f"obj/{i:06d}", payload(i, size))
    assert storage.pending() == {"gcp:europe-west1": objects}
    down.heal()
    return storage, down


def repair(moto: Any, gcs: Any, objects: int, size: int, tmp: Path, name: str, **options: Any) -> float:
    mode = replication.Primary(journal=tmp / f"{name}.sqlite", sync="normal", **options)
    storage, _ = outage(moto, gcs, objects, size, mode)
    time.sleep(0.6)  # past the breaker's open time: the drain starts on a trial call, as in production
    began = time.perf_counter()
    while storage.pending():
        storage.repair()
    elapsed = time.perf_counter() - began
    storage.close()
    return elapsed


def converge(moto: Any, gcs: Any, objects: int, size: int, tmp: Path) -> float:
    mode = replication.Primary(journal=tmp / "converge.sqlite", sync="normal", drain_interval=1.0)
    storage, down = outage(moto, gcs, objects, size, mode)
    down.down()
    storage.start()  # the drainer runs, fails, and the breaker opens
    time.sleep(1.5)
    down.heal()
    began = time.perf_counter()
    while storage.pending():
        time.sleep(0.01)
    elapsed = time.perf_counter() - began
    storage.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=400)
    parser.add_argument("--size", type=int, default=64 * 1024)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/repair.json"))
    args = parser.parse_args()
    loopback_env()
    moto, gcs = servers.moto("bench-moto"), servers.fake_gcs_server("bench-gcs")
    megabytes = args.objects * args.size / 1e6
    try:
        moto.start()
        gcs.start()
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            seconds = {
                "plain copy loop": plain_copy(moto, gcs, args.objects, args.size),
                "repair, journal payload, 1 worker": repair(
                    moto, gcs, args.objects, args.size, tmp, "w1", repair_workers=1
                ),
                "repair, journal payload, 4 workers": repair(
                    moto, gcs, args.objects, args.size, tmp, "w4", repair_workers=4
                ),
                "repair, copied from replica, 1 worker": repair(
                    moto, gcs, args.objects, args.size, tmp, "src1", repair_workers=1, inline_limit=0
                ),
                "repair, copied from replica, 4 workers": repair(
                    moto, gcs, args.objects, args.size, tmp, "src4", repair_workers=4, inline_limit=0
                ),
            }
            converged = converge(moto, gcs, args.objects, args.size, tmp)
    finally:
        moto.close()
        gcs.close()
    base = seconds["plain copy loop"]
    rows = {
        name: {
            "seconds": round(s, 3),
            "objects_per_s": round(args.objects / s, 1),
            "mb_per_s": round(megabytes / s, 2),
            "vs_plain_copy": round(base / s, 2),
        }
        for name, s in seconds.items()
    }
    report = {
        "objects": args.objects,
        "object_bytes": args.size,
        "source": "S3 on moto_server",
        "destination": "GCS on fake-gcs-server",
        "python": platform.python_version(),
        "variants": rows,
        "converge_after_outage_seconds": round(converged, 3),
    }
    print(f"{args.objects} objects of {args.size} bytes, S3 (moto) -> GCS (fake-gcs-server)")
    print(f"{'variant':42} {'s':>7} {'obj/s':>8} {'MB/s':>7} {'x plain':>8}")
    for name, row in rows.items():
        print(
            f"{name:42} {row['seconds']:7.2f} {row['objects_per_s']:8.1f} "
            f"{row['mb_per_s']:7.2f} {row['vs_plain_copy']:8.2f}"
        )
    print(f"converge after an outage of {args.objects} writes: {converged:.2f} s (drainer running)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
