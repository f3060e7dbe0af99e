"""Fixtures: real local servers (session-scoped) and a fresh bucket/container per test.

Nothing needs to run beforehand: each server is started here on a free loopback port and
stopped at the end of the session.  A server that cannot start FAILS the tests that need
it, with its log: a skipped integration test would hide a broken install.
"""

from __future__ import annotations

from typing import Any

import pytest

from failover.providers.dns import Rfc2136Zone
from tests.integration import dns_factories, servers
from tests.integration.bind import BindServer, alive
from tests.integration.servers import LocalServer

# The session fixtures (moto_east, moto_west, azurite, fake_gcs, loopback_env) live in
# tests/conftest.py, so the contract suite shares the same server processes.


_alive = servers.alive
unique = servers.unique


# ---------------------------------------------------------------- AWS


@pytest.fixture
def s3_raw(moto_east: LocalServer) -> Any:
    """A plain boto3 client on the same server, for going behind the adapter's back."""
    return servers.raw_s3_client(_alive(moto_east), "us-east-1")


@pytest.fixture
def s3_bucket(s3_raw: Any) -> str:
    name = unique("bkt")
    s3_raw.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_store(moto_east: LocalServer, s3_bucket: str) -> Any:
    from failover.providers.aws import S3Store

    return S3Store(s3_bucket, region="us-east-1", endpoint_url=moto_east.endpoint)


# ---------------------------------------------------------------- Azure


@pytest.fixture
def blob_raw(azurite: LocalServer) -> Any:
    return servers.raw_blob_service(_alive(azurite))


@pytest.fixture
def blob_container(blob_raw: Any) -> str:
    name = unique("ctr")
    blob_raw.create_container(name)
    return name


@pytest.fixture
def blob_store(azurite: LocalServer, blob_container: str) -> Any:
    from failover.providers.azure import BlobStore

    return BlobStore(container=blob_container, connection_string=servers.azurite_connection_string(azurite))


# ---------------------------------------------------------------- GCP


@pytest.fixture
def gcs_raw(fake_gcs: LocalServer) -> Any:
    return servers.raw_gcs_client(_alive(fake_gcs))


@pytest.fixture
def gcs_bucket(gcs_raw: Any) -> str:
    name = unique("bkt")
    gcs_raw.create_bucket(name)
    return name


@pytest.fixture
def gcs_store(fake_gcs: LocalServer, gcs_bucket: str) -> Any:
    from failover.providers.gcp import GCSStore

    return GCSStore(gcs_bucket, client=servers.raw_gcs_client(fake_gcs))


# ---------------------------------------------------------------- BIND (the DNS test modules)


@pytest.fixture
def server(bind: BindServer) -> BindServer:
    """The session's BIND server, its zone emptied."""
    alive(bind).clear_zone()
    return bind


@pytest.fixture
def zone(server: BindServer) -> Rfc2136Zone:
    """An `Rfc2136Zone` on the emptied BIND zone."""
    made: Rfc2136Zone = dns_factories.rfc2136_zone(server)
    return made
