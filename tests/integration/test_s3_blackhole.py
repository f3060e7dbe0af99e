"""An upload to a blackholed S3 region gives up at the attempt timeout, as a read does: real
moto behind the fault proxy, boto3 as configured by the adapter."""

from __future__ import annotations

import time

import pytest

from failover import ExecutionConfig, FailoverStorage, Target
from failover.providers.aws import S3Store
from failover.providers.memory import MemoryObjectStore
from failover.testing.proxy import TcpProxy
from tests.integration.servers import LocalServer, alive, raw_s3_client, unique

pytestmark = pytest.mark.integration

ATTEMPT = 0.5


def test_an_upload_to_a_blackholed_region_fails_over_within_the_attempt_timeout(moto_east: LocalServer) -> None:
    bucket = unique("hole")
    raw_s3_client(alive(moto_east)).create_bucket(Bucket=bucket)
    with TcpProxy(moto_east.port) as proxy:
        s3 = S3Store(bucket, region="us-east-1", endpoint_url=proxy.endpoint)
        backup = MemoryObjectStore()
        storage = FailoverStorage(
            [Target("aws:us-east-1", s3), Target("memory:backup", backup, priority=1)],
            execution=ExecutionConfig(attempt_timeout=ATTEMPT, deadline=10.0),
        )
        storage.put("warm", b"x")  # a pooled connection, as in a service that has been running
        proxy.blackhole()
        slowest = 0.0
        for i in range(3):
            started = time.monotonic()
            storage.put(f"during/{i}", b"y" * 1024)
            slowest = max(slowest, time.monotonic() - started)
        # botocore's wait for "100 Continue" (a fixed second) used to come on top: 1.5 s.
        assert slowest < ATTEMPT + 0.4, f"an upload held the caller {slowest:.2f}s"
        assert [i.key for i in backup.list("during/")] == [f"during/{i}" for i in range(3)]
