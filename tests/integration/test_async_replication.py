"""Replicated async writes on the real local servers: `failover.aio.FailoverStorage(writes=All())`
over the native async adapters on moto, Azurite and fake-gcs-server.  A write lands on all
three with one version; with S3 blackholed, a write is acknowledged by the other two,
journaled for S3, and repaired there once S3 answers again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from failover import BreakerConfig, ExecutionConfig, Target
from failover.aio import FailoverStorage
from failover.providers.aws import AsyncS3Store
from failover.providers.azure import AsyncBlobStore
from failover.providers.gcp import AsyncGCSStore
from failover.replication import All
from failover.replication.versioning import version_of
from failover.testing.proxy import TcpProxy
from failover.testing.servers import azurite_connection_string
from tests.integration.servers import LocalServer, alive
from tests.integration.test_async_adapters import create_home

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("loopback_env")]

ATTEMPT = 1.0  # a loaded machine's first S3 call must fit in it
GRACE = 0.5  # how long a cut-short upload may still land: the repair waits that long


def test_an_all_write_lands_on_the_three_clouds_and_a_blackholed_one_is_repaired(
    tmp_path: Path, moto_east: LocalServer, azurite: LocalServer, fake_gcs: LocalServer
) -> None:
    bucket, container = create_home("s3", alive(moto_east)), create_home("azure", alive(azurite))
    gcs_bucket = create_home("gcs", alive(fake_gcs))
    with TcpProxy(moto_east.port) as proxy:
        stores: dict[str, Any] = {
            "aws:us-east-1": AsyncS3Store(
                bucket, region="us-east-1", endpoint_url=proxy.endpoint, read_timeout=ATTEMPT
            ),
            "azure:westeurope": AsyncBlobStore(
                container=container, connection_string=azurite_connection_string(azurite)
            ),
            "gcp:europe-west1": AsyncGCSStore(gcs_bucket, api_root=fake_gcs.endpoint),
        }
        storage = FailoverStorage(
            [Target(name, store, priority=i) for i, (name, store) in enumerate(stores.items())],
            writes=All(journal=tmp_path / "journal.sqlite", restore_check=None, unconfirmed_grace=GRACE),
            execution=ExecutionConfig(attempt_timeout=ATTEMPT, deadline=5.0),
            breaker=BreakerConfig(consecutive_failures=5),
        )

        async def versions(key: str) -> dict[str, str]:
            return {name: version_of(await store.head(key)) for name, store in stores.items()}

        async def scenario() -> None:
            try:
                for store in stores.values():  # each client is made (and its pool filled) before timing anything
                    assert [info async for info in store.list("warm-up/")] == []
                info = await storage.put("report", b"every cloud")
                for store in stores.values():
                    assert await store.get("report") == b"every cloud"
                assert set((await versions("report")).values()) == {info.version}
                assert await storage.pending() == {}

                proxy.blackhole()
                began = time.monotonic()
                during = await storage.put("during", b"written while S3 hangs")
                assert time.monotonic() - began < ATTEMPT + 1.0  # acked without waiting for S3
                assert await storage.pending() == {"aws:us-east-1": 1}
                assert await storage.get("during") == b"written while S3 hangs"  # not from S3

                proxy.pass_through()
                await asyncio.sleep(GRACE + 0.1)  # past the cut-short upload's grace
                for _ in range(20):
                    await storage.repair()
                    if not await storage.pending():
                        break
                    await asyncio.sleep(0.2)
                assert await storage.pending() == {}
                assert await stores["aws:us-east-1"].get("during") == b"written while S3 hangs"
                assert set((await versions("during")).values()) == {during.version}
            finally:
                await storage.aclose()
                for store in stores.values():
                    await store.close()

        asyncio.run(scenario(), debug=True)
    assert proxy.stats.blackholed_chunks >= 1  # the S3 upload really met the blackhole
