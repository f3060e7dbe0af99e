"""The local-server harness itself (tests/integration/servers.py)."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from tests.integration.servers import LocalServer

pytestmark = pytest.mark.integration


def test_a_server_started_from_a_helper_thread_outlives_the_thread() -> None:
    server = LocalServer(
        "http-server", lambda port, _: [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    )
    try:
        helper = threading.Thread(target=server.start)
        helper.start()
        helper.join()
        time.sleep(0.3)  # a parent-death signal tied to the helper thread has arrived by now
        assert server.running(), server.log_tail()
        assert server._answers()
    finally:
        server.close()
    assert not server.running()
