"""The set-up file's [telemetry] section: metrics on one registry and traces, on every facade."""

from __future__ import annotations

import pytest

from failover.config import parse
from failover.errors import ConfigError
from failover.telemetry.metrics import PrometheusMetrics
from failover.telemetry.tracing import OpenTelemetryTracing
from tests.unit.setups import STORAGE_AND_DNS

FILE = STORAGE_AND_DNS + """
[telemetry]
metrics = true
tracing = true
"""


def test_every_facade_gets_metrics_on_one_registry_and_tracing() -> None:
    with parse(FILE, environ={}) as setup:
        assert setup.storage is not None and setup.dns is not None
        kinds = {name: {type(i) for i in f.instruments} for name, f in setup.facades.items()}
        assert kinds == {"storage": {PrometheusMetrics, OpenTelemetryTracing}, "dns": kinds["storage"]}
        setup.storage.put("k", b"v")
        setup.storage.force_open("mem:a", "drill")
        assert setup.metrics.get_sample_value(
            "failover_attempts_total", {"facade": "storage", "target": "mem:a", "operation": "put", "outcome": "ok"}
        ) == 1.0
        labels = {"facade": "storage", "target": "mem:a", "breaker": "all", "state": "forced_open"}
        assert setup.metrics.get_sample_value("failover_breaker_state", labels) == 1.0
        assert setup.metrics.get_sample_value("failover_target_healthy", {"facade": "dns", "target": "mem:dns"}) == 1.0


def test_no_telemetry_section_no_instruments() -> None:
    with parse(FILE.split("[telemetry]")[0], environ={}) as setup:
        assert setup.metrics is None
        assert all(f.instruments == () for f in setup.facades.values())


def test_a_telemetry_switch_must_be_true_or_false() -> None:
    with pytest.raises(ConfigError, match=r"it.toml: telemetry.metrics"):
        parse(FILE.replace("metrics = true", 'metrics = "yes"'), source="it.toml", environ={})


def test_an_unknown_telemetry_key_lists_the_known_ones() -> None:
    known = "the keys here are metrics, record_keys, tracing"
    with pytest.raises(ConfigError, match=rf"telemetry.exporter: unknown key; {known}"):
        parse(FILE + 'exporter = "otlp"\n', source="it.toml", environ={})
