"""The example service works: put, get, failover through a chaos outage, status."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from examples.object_service import build, handler_for


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, dict]]:  # type: ignore[type-arg]
    storage, clouds = build(tmp_path / "journal.sqlite")
    storage.start()  # health checks and the replication drainer, as main() does
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(storage, clouds))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", {"clouds": clouds, "storage": storage}
    server.shutdown()
    server.server_close()
    storage.close()


def call(method: str, url: str, data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_objects_survive_the_primary_going_down(service: tuple[str, dict]) -> None:  # type: ignore[type-arg]
    base, parts = service
    assert call("PUT", f"{base}/objects/reports/q3.pdf", b"quarterly")[0] == 200
    # The drainer copies the object to the other regions within a pass or two.
    drained = threading.Event()
    for _ in range(100):
        if not parts["storage"].pending():
            drained.set()
            break
        drained.wait(0.05)
    assert drained.is_set(), "replication did not drain"
    assert call("POST", f"{base}/chaos/memory:us-east-1/down")[0] == 200
    for _ in range(5):
        assert call("GET", f"{base}/objects/reports/q3.pdf") == (200, b"quarterly")
    assert call("PUT", f"{base}/objects/during-outage", b"still works")[0] == 200
    status, body = call("GET", f"{base}/status")
    rows = {row["target"]: row for row in json.loads(body)}
    assert status == 200 and rows["memory:us-east-1"]["role"] != "preferred"
    # us-east-1, which may hold it, is down: not a 404, which would be a lie.
    assert call("GET", f"{base}/objects/missing") == (503, b"not_found_unconfirmed\n")
