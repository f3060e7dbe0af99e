"""The BIND 9 primary as a pytest fixture; the server itself is `failover.testing.bind`.

Re-exported here because the DNS tests, the contract suite and the benchmarks reach the
harness through this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest

from failover.testing.bind import BROKEN_ZONE, DEFAULT_ZONE, KEY_NAME, READONLY_KEY_NAME, BindServer
from failover.testing.servers import ServerError
from tests.integration.servers import started


def alive(server: BindServer) -> BindServer:
    """The server, restarted if a test killed it and failed before restarting it."""
    if not server.running():
        try:
            server.start()
        except ServerError as exc:
            pytest.fail(str(exc), pytrace=False)
    return server


@pytest.fixture(scope="session")
def bind() -> Iterator[BindServer]:
    """One BIND primary for the session; never skipped: a server that cannot start fails."""
    yield from cast("Iterator[BindServer]", started(BindServer))


__all__ = ["BROKEN_ZONE", "DEFAULT_ZONE", "KEY_NAME", "READONLY_KEY_NAME", "BindServer", "alive", "bind"]
