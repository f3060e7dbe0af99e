"""Streamed reads of the native async adapters on moto, Azurite and fake-gcs-server: chunks
of at most the asked size, the checksum checked, `NotFound` on the first step, an object replaced
midway refused (Azure and GCS read it in ranged windows), and the async facade's
``get_stream`` over a target that is down."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from failover import ExecutionConfig, Target
from failover.aio import FailoverStorage
from failover.errors import NotFound, PreconditionFailed
from failover.providers.azure import blob_aio
from failover.providers.gcp import gcs_aio
from failover.testing.servers import closed_port
from tests.integration.servers import alive
from tests.integration.test_async_adapters import ADAPTERS, SERVERS, create_home

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("loopback_env"),
    pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning"),
]

WINDOW = 64 * 1024  # ranged windows this small, so a 200 KiB object takes several
CHUNK = 16 * 1024
DATA = os.urandom(200 * 1024 + 7)


@pytest.fixture(autouse=True)
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blob_aio, "STREAM_WINDOW", WINDOW)
    monkeypatch.setattr(gcs_aio, "STREAM_WINDOW", WINDOW)


def store_on(request: pytest.FixtureRequest, name: str) -> Any:
    server = alive(request.getfixturevalue(SERVERS[name]))
    return ADAPTERS[name](server.endpoint, create_home(name, server))


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_a_stream_comes_in_chunks_of_at_most_the_asked_size_and_not_found_on_its_first_step(
    request: pytest.FixtureRequest, name: str
) -> None:
    store = store_on(request, name)

    async def scenario() -> list[bytes]:
        try:
            await store.put("big", DATA)
            await store.put("empty", b"")
            assert [c async for c in store.get_stream("empty")] == []
            with pytest.raises(NotFound):
                await store.get_stream("missing").__anext__()
            return [c async for c in store.get_stream("big", chunk_size=CHUNK)]
        finally:
            await store.close()

    chunks = asyncio.run(scenario())
    assert b"".join(chunks) == DATA
    assert all(0 < len(c) <= CHUNK for c in chunks)  # at most the size asked: S3 hands out what came


@pytest.mark.parametrize("name", ["azure", "gcs"])
def test_an_object_replaced_midway_is_refused(request: pytest.FixtureRequest, name: str) -> None:
    store = store_on(request, name)

    async def scenario() -> list[bytes]:
        got: list[bytes] = []
        try:
            await store.put("big", DATA)
            with pytest.raises(PreconditionFailed):
                async for chunk in store.get_stream("big", chunk_size=CHUNK):
                    got.append(chunk)
                    if len(got) == 1:
                        await store.put("big", os.urandom(len(DATA)))  # another writer
            return got
        finally:
            await store.close()

    got = asyncio.run(scenario())
    assert len(got) * CHUNK <= WINDOW  # nothing of the new object was handed out


def test_the_async_facade_streams_from_the_next_target_when_the_first_is_down(
    request: pytest.FixtureRequest,
) -> None:
    down = ADAPTERS["s3"](f"http://127.0.0.1:{closed_port()}", "no-such-bucket")
    gcs = store_on(request, "gcs")
    storage = FailoverStorage(
        [Target("aws:us-east-1", down), Target("gcp:europe-west1", gcs, priority=1)],
        execution=ExecutionConfig(attempt_timeout=2.0, deadline=5.0),
    )

    async def scenario() -> bytes:
        try:
            await gcs.put("report", DATA)
            stream = await storage.get_stream("report", chunk_size=CHUNK)
            return b"".join([chunk async for chunk in stream])
        finally:
            await down.close()
            await gcs.close()

    assert asyncio.run(scenario()) == DATA
    assert storage.pool.healths["aws:us-east-1"].errors.value == 1
