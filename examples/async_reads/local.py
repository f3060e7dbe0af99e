"""The three async adapters on the local clouds, and the async facade over them.

`local_stores` points `AsyncS3Store`, `AsyncBlobStore` and `AsyncGCSStore` at the moto,
Azurite and fake-gcs-server of a started `LocalClouds` (or at another address per target,
a proxy in front of a server, say); `local_storage` puts one async `FailoverStorage`
with replicated writes over them.  Nothing is opened here: each adapter opens its client
on its first call, inside the loop that serves the app.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from failover import ExecutionConfig, Target, replication
from failover.aio import FailoverStorage
from failover.providers.aws import AsyncS3Store
from failover.providers.azure import AsyncBlobStore
from failover.providers.gcp import AsyncGCSStore
from failover.testing.clouds import LocalClouds
from failover.testing.servers import AZURITE_ACCOUNT, AZURITE_KEY, LocalServer

AWS, AZURE, GCP = "aws:us-east-1", "azure:local", "gcp:local"  # the names LocalClouds' set-up file uses
TARGETS = (AWS, AZURE, GCP)  # in priority order: AWS is the preferred cloud
# The local clouds answer in milliseconds.  A read that has no answer from a cloud after
# 50 ms is also sent to the next one (hedge_after; not streams, see README.md), a try on one
# cloud is cut off after 1 s, and a call gives up after 4 s in all.
EXECUTION = ExecutionConfig(attempt_timeout=1.0, deadline=4.0, hedge_after=0.05)

Store = AsyncS3Store | AsyncBlobStore | AsyncGCSStore


def local_stores(clouds: LocalClouds, endpoints: Mapping[str, str] | None = None) -> dict[str, Store]:
    """One async adapter per target name, on ``clouds``' bucket; ``endpoints`` maps a
    target name to the address to reach its server at instead of the server's own."""
    unknown = set(endpoints or {}) - set(TARGETS)
    if unknown:
        raise ValueError(f"endpoints: no target {', '.join(sorted(unknown))}; the targets are {', '.join(TARGETS)}")
    servers: dict[str, LocalServer | None] = {AWS: clouds.s3, AZURE: clouds.azure, GCP: clouds.gcs}
    address: dict[str, str] = {}
    for name, server in servers.items():
        if server is None:
            raise ValueError(f"LocalClouds: the {name} server is not running; start the clouds first")
        address[name] = (endpoints or {}).get(name, server.endpoint)
    bucket = clouds.bucket
    # Azurite's well-known account, by key: the account URL can then be any address.
    azurite = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    return {
        AWS: AsyncS3Store(bucket, region="us-east-1", endpoint_url=address[AWS]),
        AZURE: AsyncBlobStore(f"{address[AZURE]}/{AZURITE_ACCOUNT}", container=bucket, credential=azurite),
        GCP: AsyncGCSStore(bucket, api_root=address[GCP]),
    }


def local_storage(
    stores: Mapping[str, Store], journal: Path, *, execution: ExecutionConfig = EXECUTION
) -> FailoverStorage:
    """The async facade over ``stores`` (in their order of priority): every write goes to
    all of them at once (`replication.All`), with its repair journal at ``journal``."""
    targets = [Target(name, store, priority=rank) for rank, (name, store) in enumerate(stores.items())]
    return FailoverStorage(targets, writes=replication.All(journal=journal), execution=execution)


__all__ = ["AWS", "AZURE", "EXECUTION", "GCP", "TARGETS", "Store", "local_storage", "local_stores"]
