"""The example service works: put, get, failover through a chaos outage, status."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from examples.object_service import REGIONS, build, handler_for


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def service(tmp_path: Path, spans: InMemorySpanExporter) -> Iterator[tuple[str, dict]]:  # type: ignore[type-arg]
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    storage, clouds = build(tmp_path / "journal.sqlite", tracer_provider=provider)
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


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, body = call("GET", f"{base}/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def test_a_failover_is_a_counter_increase_and_a_trace_with_two_attempts(
    service: tuple[str, dict],  # type: ignore[type-arg]
    spans: InMemorySpanExporter,
) -> None:
    base, parts = service
    labels = (("facade", "objects"), ("from_target", REGIONS[0]), ("target", REGIONS[1]))
    failovers = ("failover_failovers_total", labels)
    assert call("PUT", f"{base}/objects/a.txt", b"a")[0] == 200
    for _ in range(100):  # the drainer copies it to the other regions
        if not parts["storage"].pending():
            break
        threading.Event().wait(0.05)
    assert scrape(base).get(failovers, 0.0) == 0.0
    spans.clear()
    parts["clouds"][REGIONS[0]].down()
    for _ in range(6):  # five failures in a row open the primary's breaker: traffic moves
        assert call("GET", f"{base}/objects/a.txt") == (200, b"a")
    assert scrape(base)[failovers] == 1.0
    span = next(s for s in spans.get_finished_spans() if s.name == "failover.storage get")
    attempts = [e.attributes for e in span.events if e.name == "failover.attempt"]
    assert [(a["failover.target"], a["failover.outcome"]) for a in attempts] == [  # type: ignore[index]
        (REGIONS[0], "unavailable"),
        (REGIONS[1], "ok"),
    ]
    assert span.attributes is not None and span.attributes["failover.failed_over"] is True
