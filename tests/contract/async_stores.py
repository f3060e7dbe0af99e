"""The async object stores the async contract suite runs against, and how a test runs one.

To hold a new async provider to the contract, add a `ProviderFactory` to
`ASYNC_OBJECT_STORE_FACTORIES`: it returns a fresh, empty store, not yet opened (the
adapters open their client on the first call, inside the test's loop).  A test gets an
`AsyncCase` (a fixture over `ASYNC_PARAMS`, built by `make_case`) and hands it a
scenario (``async def scenario(store)``): the case runs it on
a new event loop in asyncio debug mode and closes the store on that loop afterwards, as an
application does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextlib import closing
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from failover.aio.capabilities import AsyncObjectStore
from failover.providers.memory.aio import AsyncMemoryObjectStore
from failover.testing.servers import azurite_connection_string, raw_blob_service, raw_gcs_client, raw_s3_client
from tests.contract.conftest import ProviderFactory
from tests.integration.servers import alive, unique

R = TypeVar("R")
Scenario = Callable[[Any], Coroutine[Any, Any, R]]


async def close(store: object) -> None:
    """Close ``store`` if it has anything to close (the memory store has not)."""
    closing = getattr(store, "close", None)
    if closing is not None:
        await closing()


@dataclass
class AsyncCase:
    """One async store, and the way a test runs a scenario on it."""

    store: AsyncObjectStore

    def __call__(self, scenario: Scenario[R]) -> R:
        async def main() -> R:
            try:
                return await scenario(self.store)
            finally:
                await close(self.store)

        return asyncio.run(main(), debug=True)


def s3_aio_factory(request: pytest.FixtureRequest) -> AsyncObjectStore:
    """A fresh, empty AsyncS3Store on the session's moto."""
    from failover.providers.aws import AsyncS3Store

    server = alive(request.getfixturevalue("moto_east"))
    bucket = unique("async")
    with closing(raw_s3_client(server)) as s3:  # closed: the suite runs with -W error::ResourceWarning
        s3.create_bucket(Bucket=bucket)
    return AsyncS3Store(bucket, region="us-east-1", endpoint_url=server.endpoint)


def blob_aio_factory(request: pytest.FixtureRequest) -> AsyncObjectStore:
    """A fresh, empty AsyncBlobStore on the session's Azurite."""
    from failover.providers.azure import AsyncBlobStore

    server = alive(request.getfixturevalue("azurite"))
    container = unique("async")
    with raw_blob_service(server) as blob:
        blob.create_container(container)
    return AsyncBlobStore(container=container, connection_string=azurite_connection_string(server))


def gcs_aio_factory(request: pytest.FixtureRequest) -> AsyncObjectStore:
    """A fresh, empty AsyncGCSStore on the session's fake-gcs-server."""
    from failover.providers.gcp import AsyncGCSStore

    server = alive(request.getfixturevalue("fake_gcs"))
    bucket = unique("async")
    with closing(raw_gcs_client(server)) as gcs:
        gcs.create_bucket(bucket)
    return AsyncGCSStore(bucket, api_root=server.endpoint)


ASYNC_OBJECT_STORE_FACTORIES: tuple[ProviderFactory[AsyncObjectStore], ...] = (
    ProviderFactory("memory-aio", lambda request: AsyncMemoryObjectStore()),
    ProviderFactory("s3-aio-moto", s3_aio_factory, marks=(pytest.mark.integration,)),
    ProviderFactory("azure-aio-azurite", blob_aio_factory, marks=(pytest.mark.integration,)),
    ProviderFactory("gcs-aio-fake", gcs_aio_factory, marks=(pytest.mark.integration,)),
)


# The parameters of the async suite's fixture, one per factory.
ASYNC_PARAMS = [pytest.param(f.make, id=f.id, marks=f.marks) for f in ASYNC_OBJECT_STORE_FACTORIES]


def make_case(request: pytest.FixtureRequest) -> AsyncCase:
    """The case for the fixture's parameter (a factory) in ``request``."""
    return AsyncCase(request.param(request))


__all__ = [
    "ASYNC_OBJECT_STORE_FACTORIES",
    "ASYNC_PARAMS",
    "AsyncCase",
    "blob_aio_factory",
    "close",
    "gcs_aio_factory",
    "make_case",
    "s3_aio_factory",
]
