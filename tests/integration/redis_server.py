"""A real redis-server for the fleet-shared state tests, started by the test suite itself.

``redis-server --port PORT --bind 127.0.0.1 --save '' --appendonly no``: loopback only,
nothing written to disk, so ``restart()`` comes back empty like every other server here.
Ready when it answers PING.  `redis_server` is a session fixture (re-exported from
tests/conftest.py); a test that kills Redis starts its own with `redis_local_server()`.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from tests.integration.servers import LocalServer, ServerError, started


def _redis_server_binary() -> str:
    # Debian installs it in /usr/bin; look in the sbin folders too, as for named.
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin:/usr/local/sbin:/sbin")
    if found is None:
        raise ServerError("redis-server is not installed (Debian redis-server): run .ci/install")
    return found


class RedisServer(LocalServer):
    """A `LocalServer` whose readiness check is a RESP ``PING`` instead of HTTP."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def client(self, **options: Any) -> Any:
        """A fail-fast redis-py client (`failover.fleet.redis_store.connect`) on this server."""
        from failover.fleet.redis_store import connect

        return connect(self.url, **options)


def redis_local_server(name: str = "redis") -> RedisServer:
    binary = _redis_server_binary()

    def argv(port: int, workdir: Path) -> list[str]:
        return [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ]

    return RedisServer(name, argv)


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
