"""Hedged async reads on the native adapters leave nothing behind: the losing attempt on a
blackholed primary is cancelled, its connection closed, and no task outlives the read.

The primary reaches its server through a `TcpProxy` that swallows every byte once the
reads begin; the secondary is the same bucket, reached directly.  Each read is won by the
hedge; the proxy then counts the primary's connections, which must all be closed."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from failover import ExecutionConfig, Target
from failover.aio import FailoverStorage
from failover.providers.aws import AsyncS3Store
from failover.providers.azure import AsyncBlobStore
from failover.providers.gcp import AsyncGCSStore
from failover.testing.proxy import TcpProxy
from failover.testing.servers import AZURITE_ACCOUNT, AZURITE_KEY
from tests.integration.servers import alive
from tests.integration.test_async_adapters import ADAPTERS, SERVERS, create_home

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("loopback_env")]

READS = 12
# Far beyond the test: only the hedge's cancellation can end a blackholed attempt in time.
PATIENT = 60.0


def patient(name: str, endpoint: str, home: str) -> Any:
    """The ``name`` adapter on ``endpoint``, waiting ``PATIENT`` seconds for an answer."""
    if name == "s3":
        return AsyncS3Store(home, region="us-east-1", endpoint_url=endpoint, read_timeout=PATIENT)
    if name == "azure":
        credential = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
        url = f"{endpoint}/{AZURITE_ACCOUNT}"
        return AsyncBlobStore(url, container=home, credential=credential, read_timeout=PATIENT)
    return AsyncGCSStore(home, api_root=endpoint, timeout=(2.0, PATIENT))


async def settle(done: Any, within: float = 5.0) -> bool:
    """Wait (on the loop, polling) until ``done()`` holds; False if it never does."""
    deadline = time.monotonic() + within
    while not done():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_a_hedge_that_wins_cancels_the_slow_attempt_and_closes_its_connection(
    request: pytest.FixtureRequest, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = alive(request.getfixturevalue(SERVERS[name]))
    home = create_home(name, server)
    with TcpProxy(server.port) as proxy:
        slow, fast = patient(name, proxy.endpoint, home), ADAPTERS[name](server.endpoint, home)
        storage = FailoverStorage(
            [Target(f"{name}:primary", slow, priority=0), Target(f"{name}:secondary", fast, priority=1)],
            execution=ExecutionConfig(hedge_after=0.05, attempt_timeout=PATIENT, deadline=PATIENT),
        )

        async def scenario() -> tuple[list[bytes], int, list[asyncio.Task[Any]]]:
            try:
                await slow.put("report", b"the same bytes")  # a pooled connection through the proxy
                proxy.blackhole()
                answers = [await storage.get("report") for _ in range(READS)]
                closed = await settle(lambda: proxy.open_connections == 0)
                await asyncio.sleep(0)  # cancelled losers finish their last step
                others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                return answers, (0 if closed else proxy.open_connections), others
            finally:
                await slow.close()
                await fast.close()

        with caplog.at_level(logging.WARNING, logger="asyncio"):
            answers, still_open, tasks = asyncio.run(scenario(), debug=True)
        swallowed = proxy.stats.blackholed_chunks
    assert answers == [b"the same bytes"] * READS
    assert swallowed >= READS, "every read must have tried the blackholed primary first"
    assert still_open == 0, f"{still_open} connection(s) of cancelled attempts left open"
    assert tasks == [], f"tasks outlived the reads: {tasks}"
    problems = [r.getMessage() for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]
    assert problems == []
