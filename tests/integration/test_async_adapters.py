"""The native async adapters on the real local servers: they give up fast (one attempt, short
timeouts), close what they open, and `failover.aio.FailoverStorage` over the three of them
fails over when a server is killed."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import pytest

from failover import ExecutionConfig, Target
from failover.aio import FailoverStorage
from failover.errors import ConfigError, Throttled, Timeout, Unavailable
from failover.providers.aws import AsyncS3Store
from failover.providers.azure import AsyncBlobStore
from failover.providers.gcp import AsyncGCSStore
from failover.testing.proxy import TcpProxy
from failover.testing.servers import AZURITE_ACCOUNT, AZURITE_KEY, azurite_connection_string, closed_port, moto
from tests.integration.servers import (
    LocalServer,
    alive,
    raw_blob_service,
    raw_gcs_client,
    raw_s3_client,
    started,
    unique,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("loopback_env")]

# Short timeouts, so a blackholed request gives up quickly; the defaults are 2 s and 5 s.
READ_TIMEOUT = 0.3
# A store on an endpoint: the test's own URL (a proxy, a closed port) for the named cloud.
Make = Callable[[str, str], Any]


def s3_at(endpoint: str, bucket: str) -> AsyncS3Store:
    return AsyncS3Store(bucket, region="us-east-1", endpoint_url=endpoint, read_timeout=READ_TIMEOUT)


def blob_at(endpoint: str, container: str) -> AsyncBlobStore:
    # An account key credential, so the URL is the test's own (a proxy or a closed port).
    credential = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    return AsyncBlobStore(
        f"{endpoint}/{AZURITE_ACCOUNT}", container=container, credential=credential, read_timeout=READ_TIMEOUT
    )


def gcs_at(endpoint: str, bucket: str) -> AsyncGCSStore:
    return AsyncGCSStore(bucket, api_root=endpoint, timeout=(2.0, READ_TIMEOUT))


ADAPTERS: dict[str, Make] = {"s3": s3_at, "azure": blob_at, "gcs": gcs_at}
SERVERS = {"s3": "moto_east", "azure": "azurite", "gcs": "fake_gcs"}


def create_home(name: str, server: LocalServer) -> str:
    """A fresh bucket or container on ``server`` for the ``name`` adapter."""
    home = unique("aio")
    if name == "s3":
        with closing(raw_s3_client(server)) as s3:
            s3.create_bucket(Bucket=home)
    elif name == "azure":
        with raw_blob_service(server) as blob:
            blob.create_container(home)
    else:
        with closing(raw_gcs_client(server)) as gcs:
            gcs.create_bucket(home)
    return home


async def timed_failure(store: Any, call: Callable[[Any], Any]) -> tuple[BaseException, float]:
    began = time.monotonic()
    try:
        await call(store)
    except Exception as exc:
        return exc, time.monotonic() - began
    finally:
        await store.close()
    raise AssertionError("the call succeeded")


# ---------------------------------------------------------------- giving up fast


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_a_refused_port_is_unavailable_at_once(name: str) -> None:
    store = ADAPTERS[name](f"http://127.0.0.1:{closed_port()}", "no-such-home")
    error, took = asyncio.run(timed_failure(store, lambda s: s.get("k")))
    assert isinstance(error, Unavailable), repr(error)
    assert error.temporary
    # Azure's default retry alone would wait 15 s, gcloud's resumable retry seconds.
    assert took < 1.0, f"{name} took {took:.2f} s to report a refused port"


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_a_503_is_answered_once_no_sdk_retries(request: pytest.FixtureRequest, name: str) -> None:
    server = alive(request.getfixturevalue(SERVERS[name]))
    with TcpProxy(server.port) as proxy:
        proxy.http_503()
        store = ADAPTERS[name](proxy.endpoint, "home")
        error, took = asyncio.run(timed_failure(store, lambda s: s.get("k")))
        answered = proxy.stats.answered_503
    assert isinstance(error, Throttled), repr(error)  # 503 is "back off" on every cloud
    assert answered == 1, f"{name} sent the request {answered} times"
    assert took < 1.0


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_a_blackholed_endpoint_times_out_at_the_read_timeout(request: pytest.FixtureRequest, name: str) -> None:
    server = alive(request.getfixturevalue(SERVERS[name]))
    home = create_home(name, server)
    with TcpProxy(server.port) as proxy:
        store = ADAPTERS[name](proxy.endpoint, home)

        async def scenario() -> tuple[BaseException, float]:
            await store.put("warm", b"x")  # a pooled connection, as in a service that has been running
            proxy.blackhole()
            return await timed_failure(store, lambda s: s.get("warm"))

        error, took = asyncio.run(scenario())
    assert isinstance(error, Timeout), repr(error)
    assert READ_TIMEOUT * 0.9 < took < READ_TIMEOUT + 0.7, f"{name} gave up after {took:.2f} s"


# ---------------------------------------------------------------- clients and loops


def unclosed_warnings(run: Callable[[], None]) -> list[str]:
    """The ResourceWarnings (unclosed sessions, sockets) raised once ``run``'s objects are gone."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        run()
        for _ in range(3):  # what one collection's finalizers let go, the next one collects
            gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_close_releases_every_session_and_an_unclosed_store_is_reported(
    request: pytest.FixtureRequest, name: str
) -> None:
    server = alive(request.getfixturevalue(SERVERS[name]))
    home = create_home(name, server)

    def used(close: bool) -> Callable[[], None]:
        async def main() -> None:
            store = ADAPTERS[name](server.endpoint, home)
            await store.probe()
            if close:
                await store.close()

        return lambda: asyncio.run(main())

    assert unclosed_warnings(used(close=True)) == []
    # The check can fail: the same calls without close() leave an aiohttp session behind.
    assert any("nclosed" in message for message in unclosed_warnings(used(close=False)))


def test_a_store_open_on_one_loop_is_refused_on_another_until_closed(fake_gcs: LocalServer) -> None:
    store = gcs_at(alive(fake_gcs).endpoint, create_home("gcs", fake_gcs))
    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(store.probe())
        with pytest.raises(ConfigError, match="another event loop"):
            asyncio.run(store.probe())
        with pytest.raises(ConfigError, match="another event loop"):
            asyncio.run(store.close())
        first.run_until_complete(store.close())
    finally:
        first.close()

    async def reopened() -> None:
        await store.probe()  # closed on its loop: this loop opens a new client
        await store.close()

    asyncio.run(reopened())


# ---------------------------------------------------------------- failover across the clouds


@pytest.fixture
def own_moto() -> Iterator[LocalServer]:
    """A moto of this test's own, killed by it (the session's moto serves other tests)."""
    yield from started(lambda: moto("moto-async-failover"))


def test_the_async_facade_over_the_three_adapters_fails_over_when_a_server_is_killed(
    own_moto: LocalServer, azurite: LocalServer, fake_gcs: LocalServer
) -> None:
    bucket, container = create_home("s3", own_moto), create_home("azure", alive(azurite))
    gcs_bucket = create_home("gcs", alive(fake_gcs))
    stores: dict[str, Any] = {
        "aws:us-east-1": AsyncS3Store(bucket, region="us-east-1", endpoint_url=own_moto.endpoint),
        "azure:westeurope": AsyncBlobStore(container=container, connection_string=azurite_connection_string(azurite)),
        "gcp:europe-west1": AsyncGCSStore(gcs_bucket, api_root=fake_gcs.endpoint),
    }
    storage = FailoverStorage(
        [Target(name, store, priority=i) for i, (name, store) in enumerate(stores.items())],
        execution=ExecutionConfig(attempt_timeout=2.0, deadline=6.0),
    )

    async def scenario() -> None:
        async with storage:
            try:
                for name, store in stores.items():  # each cloud's own copy, told apart by its bytes
                    await store.put("report", name.encode())
                assert await storage.get("report") == b"aws:us-east-1"
                own_moto.kill()
                began = time.monotonic()
                assert await storage.get("report") == b"azure:westeurope"
                assert time.monotonic() - began < 1.0  # a refused port: no SDK retry, no wait
                info = await storage.put("after", b"written during the outage")
                assert info.key == "after"
                assert await stores["azure:westeurope"].get("after") == b"written during the outage"
                assert [i.key async for i in storage.list()] == ["after", "report"]
            finally:
                for store in stores.values():
                    await store.close()

    asyncio.run(scenario(), debug=True)
    health = storage.pool.healths
    assert health["aws:us-east-1"].errors.value >= 1
    assert health["azure:westeurope"].errors.value == 0
