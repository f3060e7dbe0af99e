"""A real redis-server on loopback, for the fleet's shared state in tests and benchmarks.

``redis-server --port PORT --bind 127.0.0.1 --save '' --appendonly no``: loopback only,
nothing written to disk, so ``restart()`` comes back empty like every other local
server (`failover.testing.servers`).  Ready when it answers ``PING``.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

from failover.testing.servers import LocalServer, ServerError


def redis_server_binary() -> str:
    """The redis-server program; `ServerError` naming the Debian package if it is missing."""
    # Debian installs it in /usr/bin; look in the sbin folders too, as for named.
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin:/usr/local/sbin:/sbin")
    if found is None:
        raise ServerError("redis-server is not installed (Debian redis-server): run .ci/install")
    return found


class RedisServer(LocalServer):
    """A `LocalServer` whose readiness check is a RESP ``PING`` instead of HTTP."""

    ready_reply = b"+PONG"  # how the server answers PING once it serves (a subclass may differ)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(self.ready_reply)
        except OSError:
            return False

    def client(self, **options: Any) -> Any:
        """A fail-fast redis-py client (`failover.fleet.redis_client.connect`) on this server."""
        from failover.fleet.redis_client import connect

        return connect(self.url, **options)


def redis_local_server(name: str = "redis") -> RedisServer:
    """A `RedisServer`, not started yet: ``start()`` it, ``close()`` it after."""
    binary = redis_server_binary()

    def argv(port: int, workdir: Path) -> list[str]:
        loopback = ["--port", str(port), "--bind", "127.0.0.1"]
        return [binary, *loopback, "--save", "", "--appendonly", "no", "--dir", str(workdir)]

    return RedisServer(name, argv)


__all__ = ["RedisServer", "redis_local_server", "redis_server_binary"]
