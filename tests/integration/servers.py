"""The local servers as pytest fixtures: started once per session, a server that cannot
start FAILS the tests that need it (with its log), never skips them.  The servers
themselves are `failover.testing.servers`, which the drill uses too."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from failover.testing.servers import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    START_TIMEOUT,
    LocalServer,
    ServerError,
    azurite_binary,
    azurite_connection_string,
    azurite_server,
    closed_port,
    fake_gcs_binary,
    fake_gcs_server,
    free_port,
    moto,
    raw_blob_service,
    raw_gcs_client,
    raw_s3_client,
)

REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- pytest fixtures and factories
# Session fixtures live here (not in a conftest) so that any conftest can re-export them:
# tests/integration/conftest.py does, and so can the contract suite's.


def started(factory: Callable[[], LocalServer]) -> Iterator[LocalServer]:
    """Start a server for a fixture and close it after; a server that cannot start fails the test."""
    server: LocalServer | None = None
    try:
        server = factory()
        server.start()
    except ServerError as exc:
        if server is not None:
            server.close()
        pytest.fail(f"could not start a local server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def loopback_env() -> Iterator[None]:
    """Environment that keeps every SDK on 127.0.0.1 and away from real credentials.

    Dummy AWS keys; no shared config/credentials files; no EC2 metadata lookups (they
    would go to 169.254.169.254); proxies bypassed for loopback.  Restored afterwards.
    """
    with pytest.MonkeyPatch.context() as mp:
        for name in (
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "STORAGE_EMULATOR_HOST",
            "AZURE_STORAGE_CONNECTION_STRING",
        ):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        mp.setenv("no_proxy", "127.0.0.1,localhost")
        yield


@pytest.fixture(scope="session")
def moto_east(loopback_env: None) -> Iterator[LocalServer]:
    """moto for region us-east-1 (its own process: separate state from moto_west)."""
    yield from started(lambda: moto("moto-us-east-1"))


@pytest.fixture(scope="session")
def moto_west(loopback_env: None) -> Iterator[LocalServer]:
    yield from started(lambda: moto("moto-us-west-2"))


@pytest.fixture(scope="session")
def azurite(loopback_env: None) -> Iterator[LocalServer]:
    yield from started(azurite_server)


@pytest.fixture(scope="session")
def fake_gcs(loopback_env: None) -> Iterator[LocalServer]:
    yield from started(fake_gcs_server)


def alive(server: LocalServer) -> LocalServer:
    """The server, restarted if a failover test killed it and failed before restarting it."""
    if not server.running():
        try:
            server.start()
        except ServerError as exc:
            pytest.fail(str(exc), pytrace=False)
    return server


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def s3_store_factory(request: pytest.FixtureRequest) -> Any:
    """A fresh, empty S3Store on the session's moto (contract-suite factory)."""
    from failover.providers.aws import S3Store

    server = alive(request.getfixturevalue("moto_east"))
    bucket = unique("contract")
    raw_s3_client(server).create_bucket(Bucket=bucket)
    return S3Store(bucket, region="us-east-1", endpoint_url=server.endpoint)


def blob_store_factory(request: pytest.FixtureRequest) -> Any:
    """A fresh, empty BlobStore on the session's Azurite (contract-suite factory)."""
    from failover.providers.azure import BlobStore

    server = alive(request.getfixturevalue("azurite"))
    container = unique("contract")
    raw_blob_service(server).create_container(container)
    return BlobStore(container=container, connection_string=azurite_connection_string(server))


def gcs_store_factory(request: pytest.FixtureRequest) -> Any:
    """A fresh, empty GCSStore on the session's fake-gcs-server (contract-suite factory)."""
    from failover.providers.gcp import GCSStore, emulator_client

    server = alive(request.getfixturevalue("fake_gcs"))
    bucket = unique("contract")
    raw_gcs_client(server).create_bucket(bucket)
    return GCSStore(bucket, client=emulator_client(server.endpoint))


# Re-exported: tests reach the harness through this module.
__all__ = [
    "AZURITE_ACCOUNT",
    "AZURITE_KEY",
    "REPO",
    "START_TIMEOUT",
    "LocalServer",
    "ServerError",
    "alive",
    "azurite",
    "azurite_binary",
    "azurite_connection_string",
    "azurite_server",
    "blob_store_factory",
    "closed_port",
    "fake_gcs",
    "fake_gcs_binary",
    "fake_gcs_server",
    "free_port",
    "gcs_store_factory",
    "loopback_env",
    "moto",
    "moto_east",
    "moto_west",
    "raw_blob_service",
    "raw_gcs_client",
    "raw_s3_client",
    "s3_store_factory",
    "started",
    "unique",
]
