"""/metrics over real HTTP on loopback: the standalone exporter and the WSGI app under
wsgiref, scraped with urllib and parsed as Prometheus does."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from failover import FailoverStorage, FakeClock, Target
from failover.errors import ConfigError
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from failover.telemetry.exposition import serve, wsgi_app
from failover.telemetry.metrics import PrometheusMetrics

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

FAILOVER = {"facade": "orders", "from_target": "memory:a", "target": "memory:b"}


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Sample name -> labels -> value, as a scraper reads the page."""
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def failovers(samples: dict[str, dict[tuple[tuple[str, str], ...], float]]) -> float:
    return samples.get("failover_failovers_total", {}).get(tuple(sorted(FAILOVER.items())), 0.0)


def storage_on(registry: CollectorRegistry) -> tuple[ChaosProvider, FailoverStorage]:
    clock = FakeClock()
    primary = ChaosProvider(MemoryObjectStore(clock=clock), clock=clock)
    backup = MemoryObjectStore(clock=clock)
    storage = FailoverStorage(
        [Target("memory:a", primary), Target("memory:b", backup, priority=1)],
        clock=clock,
        instruments=[PrometheusMetrics(registry, facade="orders")],
    )
    storage.put("k", b"v")
    backup.put("k", b"v")
    return primary, storage


def fail_over(primary: ChaosProvider, storage: FailoverStorage) -> None:
    primary.down()
    for _ in range(10):  # past the breaker's five failures
        assert storage.get("k") == b"v"


def test_the_exporter_serves_the_families_and_a_failover_as_a_counter_increase() -> None:
    registry = CollectorRegistry()
    primary, storage = storage_on(registry)
    with serve(registry, 0) as exporter:
        assert exporter.address == "127.0.0.1" and exporter.port > 0
        before = scrape(exporter.url)
        assert failovers(before) == 0.0
        fail_over(primary, storage)
        after = scrape(exporter.url)
    assert failovers(after) == 1.0
    assert {
        "failover_attempts_total",
        "failover_attempt_duration_seconds_bucket",
        "failover_breaker_state",
        "failover_target_healthy",
        "failover_panic",
    } <= set(after)
    open_a = (("breaker", "all"), ("facade", "orders"), ("state", "open"), ("target", "memory:a"))
    assert after["failover_breaker_state"][open_a] == 1.0
    with pytest.raises(OSError):
        urllib.request.urlopen(exporter.url, timeout=2)  # stopped: the port is closed


def test_a_port_in_use_is_a_config_error_naming_it() -> None:
    with serve(CollectorRegistry(), 0) as exporter, pytest.raises(ConfigError, match=f"port {exporter.port}"):
        serve(CollectorRegistry(), exporter.port)


class Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def wsgi_server() -> Iterator[tuple[str, CollectorRegistry]]:
    registry = CollectorRegistry()
    server = make_server("127.0.0.1", 0, wsgi_app(PrometheusMetrics(registry, facade="web")), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics", registry
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_wsgi_app_under_wsgiref_serves_the_same_registry(wsgi_server: tuple[str, CollectorRegistry]) -> None:
    url, registry = wsgi_server
    primary, storage = storage_on(registry)
    assert failovers(scrape(url)) == 0.0
    fail_over(primary, storage)
    samples = scrape(url)
    assert failovers(samples) == 1.0
    ok = (("facade", "orders"), ("operation", "get"), ("outcome", "ok"), ("target", "memory:b"))
    assert samples["failover_attempts_total"][ok] == 10.0
    # The app's own instrument (facade "web") is attached to nothing and has heard nothing:
    # it adds no gauge series of its own beside the facade's.
    assert samples["failover_panic"] == {(("facade", "orders"),): 0.0}


CONTROLLER = """
[record]
name = "api.example.com."
type = "A"

[health]
interval = 0.2
timeout = 0.1

[[endpoints]]
value = "192.0.2.10"
tcp = "127.0.0.1:{port}"

[[providers]]
name = "memory:zone"
kind = "memory"
zone = "example.com."
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_dns_controller_metrics_port_serves_its_publishes(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "dns.toml"
    config.write_text(CONTROLLER.format(port=port))  # the endpoint probed is the exporter itself
    command = [sys.executable, "-m", "failover", "dns-controller", "--config", str(config), "--metrics-port", str(port)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        published = dict(facade="dns-controller", target="memory:zone")
        deadline = time.monotonic() + 30
        samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        while time.monotonic() < deadline and process.poll() is None:
            try:
                samples = scrape(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                samples = {}  # not listening yet
            if samples.get("failover_dns_publishes_total", {}).get(tuple(sorted(published.items()))):
                break
            time.sleep(0.1)
        assert process.poll() is None, process.communicate()
        assert samples["failover_dns_publishes_total"][tuple(sorted(published.items()))] == 1.0
        healthy = (("facade", "dns-controller"), ("target", "192.0.2.10"))
        assert samples["failover_target_healthy"][healthy] == 1.0
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
