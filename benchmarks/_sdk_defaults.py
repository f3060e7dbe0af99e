"""The failover latency benchmark's part (c): the plain SDK clients (boto3,
azure-storage-blob, google-cloud-storage) with their default configuration, one read each
against a refused port and against a blackhole, each in a child process of its own that
the parent kills at its cap.  It is a file of its own because it is the children's
program: a child runs this file and nothing else of the benchmark, and the parent
(``failover_latency.py``) needs of it only the starting of the children and their figures.

    python benchmarks/_sdk_defaults.py --sdk-child boto3 --endpoint http://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from failover.testing import servers

REPO = Path(__file__).resolve().parents[1]

SDKS = ("boto3", "azure-storage-blob", "google-cloud-storage")
CHILD_READY = "ready"

# What the SDK children and our own clients need: dummy credentials, nothing from the
# machine's AWS config, no metadata-service lookups, no proxies for loopback.
LOOPBACK_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
DROP_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "STORAGE_EMULATOR_HOST")


def sdk_child(sdk: str, endpoint: str) -> int:
    """In a child process: one read with the SDK's default configuration; print the seconds."""
    if sdk == "boto3":
        import boto3

        client = boto3.session.Session(region_name="us-east-1").client("s3", endpoint_url=endpoint)

        def read() -> object:
            return client.get_object(Bucket="bench", Key="k")["Body"].read()

    elif sdk == "azure-storage-blob":
        from azure.storage.blob import BlobServiceClient

        conn = (
            f"DefaultEndpointsProtocol=http;AccountName={servers.AZURITE_ACCOUNT};AccountKey={servers.AZURITE_KEY};"
            f"BlobEndpoint={endpoint}/{servers.AZURITE_ACCOUNT};"
        )
        blob = BlobServiceClient.from_connection_string(conn).get_blob_client("bench", "k")

        def read() -> object:
            return blob.download_blob().readall()

    else:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        gcs = storage.Client(
            project="bench",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": endpoint},
        )

        def read() -> object:
            return gcs.bucket("bench").blob("k").download_as_bytes()

    print(CHILD_READY, flush=True)
    began = time.monotonic()
    try:
        read()
        error = None
    except Exception as exc:  # the point is to see what the SDK raises, and when
        error = f"{type(exc).__name__}: {str(exc)[:160]}"
    print(json.dumps({"seconds": time.monotonic() - began, "error": error}), flush=True)
    return 0


class SdkCase:
    """One child process: SDK x endpoint, killed at the cap."""

    def __init__(self, sdk: str, fault: str, endpoint: str, env: dict[str, str]) -> None:
        self.sdk, self.fault = sdk, fault
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--sdk-child", sdk, "--endpoint", endpoint],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=REPO,
        )

    def wait_ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != CHILD_READY:
            raise RuntimeError(f"{self.sdk} child did not start: {line!r}")

    def result(self, until: float, cap: float) -> dict[str, Any]:
        try:
            out, _ = self.proc.communicate(timeout=max(0.0, until - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate(timeout=10)
            return {"sdk": self.sdk, "fault": self.fault, "seconds": None, "capped_at": cap, "error": None}
        figures = json.loads(out.strip().splitlines()[-1])
        return {"sdk": self.sdk, "fault": self.fault, "capped_at": cap, **figures}


def start_sdk_cases(blackhole: str) -> list[SdkCase]:
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV} | LOOPBACK_ENV
    refused = f"http://127.0.0.1:{servers.closed_port()}"
    faults = (("refused", refused), ("blackhole", blackhole))
    cases = [SdkCase(sdk, fault, url, env) for fault, url in faults for sdk in SDKS]
    for case in cases:
        case.wait_ready()
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one plain SDK read, for benchmarks/failover_latency.py")
    parser.add_argument("--sdk-child", choices=SDKS, required=True)
    parser.add_argument("--endpoint", required=True)
    args = parser.parse_args(argv)
    return sdk_child(args.sdk_child, args.endpoint)


if __name__ == "__main__":
    raise SystemExit(main())
