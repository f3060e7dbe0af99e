"""A real redis-server (`failover.testing.redis`) for the fleet-shared state tests,
started by the test suite itself.  `redis_server` is a session fixture (re-exported from
tests/conftest.py); a test that kills Redis starts its own with `redis_local_server()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest

from failover.testing.redis import RedisServer, redis_local_server
from tests.integration.servers import ServerError, started


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session (tests use their own key prefixes on it)."""
    yield from cast("Iterator[RedisServer]", started(redis_local_server))


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, free to be killed and restarted."""
    server = redis_local_server("redis-dedicated")
    try:
        server.start()
    except ServerError as exc:
        server.close()
        pytest.fail(f"could not start a dedicated redis-server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.close()


__all__ = ["RedisServer", "own_redis", "redis_local_server", "redis_server"]
