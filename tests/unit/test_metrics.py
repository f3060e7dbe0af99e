"""Prometheus metrics as an instrument: what each counter and gauge says, on memory providers
and a fake clock, read back through the registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from failover import FailoverStorage, FakeClock, HealthConfig, Target, replication
from failover.controllers.dns_controller import DnsController, Endpoint
from failover.errors import ConfigError
from failover.events import FailedBack, Hedged, HedgeWon, PanicMode, RepairQuarantined, RetryRefused
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryDnsZone, MemoryObjectStore
from failover.replication.versioning import timestamp_of
from failover.telemetry.metrics import MetricsUnavailable, PrometheusMetrics
from tests.unit.replicas import NAMES, build
from tests.unit.test_extras import python

KEY = "invoices/2024/customer-4711.pdf"
ALLOWED_LABELS = {"facade", "target", "operation", "outcome", "from_target", "error", "state", "breaker", "role", "le"}


class Broken(MemoryObjectStore):
    """A provider with a bug: an exception the library does not recognise."""

    def head(self, key: str) -> object:  # type: ignore[override]
        raise KeyError(key)


def pair(registry: CollectorRegistry, facade: str = "orders") -> tuple[ChaosProvider, FailoverStorage]:
    clock = FakeClock()
    primary = ChaosProvider(MemoryObjectStore(clock=clock), clock=clock)
    backup = MemoryObjectStore(clock=clock)
    for store in (primary, backup):
        store.put(KEY, b"v")
    metrics = PrometheusMetrics(registry, facade=facade)
    storage = FailoverStorage(
        [Target("memory:a", primary), Target("memory:b", backup, priority=1)], clock=clock, instruments=[metrics]
    )
    return primary, storage


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_a_failover_counts_once_and_each_attempt_has_its_outcome() -> None:
    registry = CollectorRegistry()
    primary, storage = pair(registry)
    primary.down()
    for _ in range(10):  # the breaker opens after 5 failures: traffic moves once, for good
        assert storage.get(KEY) == b"v"
    failovers = dict(facade="orders", from_target="memory:a", target="memory:b")
    assert value(registry, "failover_failovers_total", **failovers) == 1.0
    attempts = dict(facade="orders", operation="get")
    assert value(registry, "failover_attempts_total", target="memory:a", outcome="unavailable", **attempts) >= 1.0
    assert value(registry, "failover_attempts_total", target="memory:b", outcome="ok", **attempts) == 10.0
    assert value(registry, "failover_attempt_duration_seconds_count", target="memory:b", outcome="ok", **attempts) == 10
    assert value(
        registry, "failover_breaker_transitions_total", facade="orders", target="memory:a", breaker="all", state="open"
    ) == 1
    retried = dict(facade="orders", target="memory:b", operation="get", error="unavailable")
    assert value(registry, "failover_retries_total", **retried) >= 1.0


def test_a_permanent_answer_is_its_kind_and_an_unknown_exception_is_error() -> None:
    registry = CollectorRegistry()
    storage = FailoverStorage(
        [Target("memory:a", Broken())], instruments=[PrometheusMetrics(registry, facade="orders")]
    )
    with pytest.raises(KeyError):
        storage.head(KEY)
    with pytest.raises(FileNotFoundError):
        storage.get(KEY)
    labels = dict(facade="orders", target="memory:a")
    assert value(registry, "failover_attempts_total", operation="head", outcome="error", **labels) == 1.0
    assert value(registry, "failover_attempts_total", operation="get", outcome="not_found", **labels) == 1.0


def test_the_breaker_gauge_follows_a_breaker_forced_open() -> None:
    registry = CollectorRegistry()
    _, storage = pair(registry)
    labels = dict(facade="orders", target="memory:a", breaker="all")
    assert value(registry, "failover_breaker_state", state="closed", **labels) == 1.0
    storage.pool.member("memory:a").breaker.force_open("maintenance")
    assert value(registry, "failover_breaker_state", state="forced_open", **labels) == 1.0
    assert value(registry, "failover_breaker_state", state="closed", **labels) == 0.0
    assert value(registry, "failover_target_role", facade="orders", target="memory:b", role="preferred") == 1.0
    assert value(registry, "failover_target_healthy", facade="orders", target="memory:a") == 1.0
    assert value(registry, "failover_panic", facade="orders") == 0.0


def test_the_backlog_follows_a_down_replica(tmp_path: Path) -> None:
    clock = FakeClock()
    chaos = [ChaosProvider(MemoryObjectStore(clock=clock), seed=i, clock=clock) for i in range(3)]
    wall = [0]
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry, facade="replicated", time_ns=lambda: wall[0])
    mode = replication.Quorum(2, journal=tmp_path / "journal.sqlite", repair_workers=1)
    storage = build(chaos, clock, mode, instruments=[metrics])
    try:
        labels = dict(facade="replicated", target=NAMES[2])
        assert value(registry, "failover_replication_backlog_rows", **labels) == 0.0
        chaos[2].down()
        storage.put(KEY, b"x" * 100)
        storage.put("other", b"y" * 20)
        owed = storage.replication.journal.backlog()[NAMES[2]]  # type: ignore[union-attr]
        wall[0] = timestamp_of(owed.oldest) + 90 * 10**9
        assert value(registry, "failover_replication_backlog_rows", **labels) == 2.0
        assert value(registry, "failover_replication_backlog_bytes", **labels) == 120.0
        assert value(registry, "failover_replication_backlog_age_seconds", **labels) == pytest.approx(90.0)
        assert value(registry, "failover_replication_quarantined_rows", **labels) == 0.0
        assert value(registry, "failover_replication_backlog_rows", facade="replicated", target=NAMES[0]) == 0.0
    finally:
        storage.close()


def test_no_label_holds_a_key_and_only_bounded_label_names_are_used() -> None:
    registry = CollectorRegistry()
    primary, storage = pair(registry)
    primary.down()
    storage.get(KEY)
    metrics = storage.instruments[0]
    metrics.on_event(RepairQuarantined("memory:b", KEY, "1-w", "put", f"refused {KEY}"))
    text = generate_latest(registry).decode()
    # Label values only: a sample's value or timestamp may hold the digits 4711 by chance.
    values = re.findall(r'="([^"]*)"', text)
    assert values and not [v for v in values if "invoices" in v or "4711" in v]
    names = set(re.findall(r"[{,]([a-z_]+)=", text))
    assert names <= ALLOWED_LABELS, names - ALLOWED_LABELS
    assert value(registry, "failover_repairs_quarantined_total", facade="orders", target="memory:b") == 1.0


def test_events_count_panics_failbacks_hedges_and_refused_retries() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry, facade="orders")
    for event in (
        PanicMode(True),
        FailedBack("memory:a", 12.0),
        Hedged("memory:b", "get", "memory:a", 0.05),
        HedgeWon("memory:b", "get"),
        RetryRefused("memory:a", "put"),
    ):
        metrics.on_event(event)
    assert value(registry, "failover_panics_total", facade="orders") == 1.0
    assert value(registry, "failover_panic", facade="orders") == 1.0  # not attached: from the event
    assert value(registry, "failover_failbacks_total", facade="orders", target="memory:a") == 1.0
    hedge = dict(facade="orders", target="memory:b", operation="get")
    assert value(registry, "failover_hedges_total", **hedge) == 1.0
    assert value(registry, "failover_hedges_won_total", **hedge) == 1.0
    refused = dict(facade="orders", target="memory:a", operation="put")
    assert value(registry, "failover_retries_refused_total", **refused) == 1.0
    metrics.on_event(PanicMode(False))
    assert value(registry, "failover_panic", facade="orders") == 0.0


def test_two_facades_share_a_registry_each_under_its_own_label() -> None:
    registry = CollectorRegistry()
    first, orders = pair(registry, "orders")
    _, images = pair(registry, "images")
    first.down()
    for _ in range(10):
        orders.get(KEY)
        images.get(KEY)
    assert value(registry, "failover_failovers_total", facade="orders", from_target="memory:a", target="memory:b") == 1
    assert value(registry, "failover_failovers_total", facade="images", from_target="memory:a", target="memory:b") == 0
    for facade in ("orders", "images"):
        closed = dict(facade=facade, target="memory:b", breaker="all", state="closed")
        assert value(registry, "failover_breaker_state", **closed) == 1.0
    with pytest.raises(ConfigError, match="facade='orders' is already used"):
        PrometheusMetrics(registry, facade="orders")


def test_an_unlabelled_instrument_takes_the_facades_kind_and_serves_one_facade_only() -> None:
    metrics = PrometheusMetrics()
    storage = FailoverStorage([Target("memory:a", MemoryObjectStore())], instruments=[metrics])
    storage.put("k", b"v")
    assert metrics.facade == "storage"
    put = dict(facade="storage", target="memory:a", operation="put", outcome="ok")
    assert value(metrics.registry, "failover_attempts_total", **put) == 1.0
    with pytest.raises(ConfigError, match="already attached to another facade"):
        FailoverStorage([Target("memory:b", MemoryObjectStore())], instruments=[metrics])


def test_a_dns_controller_reports_publishes_health_and_provider_breakers() -> None:
    clock = FakeClock()
    zone = MemoryDnsZone("example.com.")
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry, facade="dns-controller")

    class Up:
        def check(self, timeout: float) -> None:
            return None

    controller = DnsController(
        "api.example.com.",
        "A",
        [Endpoint("192.0.2.1", Up())],
        [Target("memory:zone", zone)],
        health=HealthConfig(rise=1, fall=1),
        clock=clock,
        listeners=[metrics],
    )
    controller.run_until_decided()
    assert value(registry, "failover_dns_publishes_total", facade="dns-controller", target="memory:zone") == 1.0
    assert value(registry, "failover_target_healthy", facade="dns-controller", target="192.0.2.1") == 1.0
    controller.breakers["memory:zone"].force_open("maintenance")
    labels = dict(facade="dns-controller", target="memory:zone", breaker="all")
    assert value(registry, "failover_breaker_state", state="forced_open", **labels) == 1.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"registry": "default"}, "registry must be a prometheus_client CollectorRegistry"),
        ({"facade": "my facade"}, "facade must be 1-64"),
        ({"facade": ""}, "facade must be 1-64"),
        ({"time_ns": 5}, "time_ns must be a callable"),
    ],
)
def test_bad_arguments_are_config_errors_naming_them(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PrometheusMetrics(**options)  # type: ignore[arg-type]


def test_without_the_client_the_error_names_the_metrics_extra() -> None:
    done = python(
        """
        try:
            import failover.telemetry.metrics
        except ImportError as exc:
            from failover.errors import ConfigError
            print(type(exc).__name__, isinstance(exc, ConfigError), exc)
        """,
        blocked=("prometheus_client",),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("MetricsUnavailable True")
    assert "multicloud-failover[metrics]" in done.stdout
    assert issubclass(MetricsUnavailable, ConfigError) and issubclass(MetricsUnavailable, ImportError)


def test_importing_the_telemetry_package_loads_no_client() -> None:
    done = python("import failover.telemetry; print('prometheus_client' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_dns_controller_refuses_a_bad_metrics_port_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from failover.cli import main
    from tests.unit.test_dns_config import MEMORY_ONLY

    config = tmp_path / "dns.toml"
    config.write_text(MEMORY_ONLY)
    assert main(["dns-controller", "--config", str(config), "--once", "--metrics-port", "70000"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "failover dns-controller: error: --metrics-port: port must be an integer from 0 to 65535, not 70000"
    ]


def test_split_breakers_are_labelled_by_target_and_class_as_the_gauges_are() -> None:
    registry = CollectorRegistry()
    storage = FailoverStorage(
        [Target("memory:a", MemoryObjectStore()), Target("memory:b", MemoryObjectStore(), priority=1)],
        breaker_per="operation_class",
        instruments=[PrometheusMetrics(registry, facade="split")],
    )
    storage.force_open("memory:a", "maintenance")
    for kind in ("read", "write"):
        labels = {"facade": "split", "target": "memory:a", "breaker": kind}
        assert value(registry, "failover_breaker_transitions_total", **labels, state="forced_open") == 1
        assert value(registry, "failover_breaker_state", **labels, state="forced_open") == 1
