"""Bad arguments to the facades and their config classes: a ConfigError naming the argument,
raised at construction, never an AttributeError from deep inside on first use."""

from __future__ import annotations

import random

import pytest

from failover import BreakerConfig, FailoverStorage, HealthConfig, ProbeConfig, Target
from failover.errors import ConfigError
from failover.layers import Observe
from failover.providers.memory import MemoryObjectStore


def build(**options: object) -> FailoverStorage:
    return FailoverStorage([Target("memory:a", MemoryObjectStore())], **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("keyword", "value", "says"),
    [
        ("health_checks", True, "health_checks must be a ProbeConfig"),
        ("execution", {"attempt_timeout": 1}, "execution must be an ExecutionConfig"),
        ("breaker", {"failure_rate": 0.5}, "breaker must be a BreakerConfig"),
        ("health", 3, "health must be a HealthConfig"),
        ("policy", "priority", "policy must be a routing policy"),
        ("clock", 3, "clock must be a Clock"),
        ("rng", 3, "rng must be a random.Random"),
        ("breaker_store", "redis://localhost", "breaker_store must be a BreakerStore"),
        ("listeners", 3, "listeners must be a sequence"),
        ("listeners", [print], r"listeners\[0\] has no on_event"),
    ],
)
def test_a_keyword_of_the_wrong_type_is_a_config_error_naming_it(keyword: str, value: object, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        build(**{keyword: value})


def test_right_types_are_accepted() -> None:
    build(health=HealthConfig(), breaker=BreakerConfig(), rng=random.Random(1), health_checks=ProbeConfig())


def test_a_probe_interval_shorter_than_the_default_timeout_shortens_the_timeout() -> None:
    assert ProbeConfig(interval=1.0).timeout == 1.0
    assert ProbeConfig().timeout == 2.0


def test_a_probe_timeout_longer_than_the_interval_names_timeout_at_construction() -> None:
    with pytest.raises(ConfigError, match=r"ProbeConfig: timeout must be > 0 and <= interval \(1.0 s\), got 2.0"):
        ProbeConfig(interval=1.0, timeout=2.0)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"interval": "5"}, "ProbeConfig: interval must be a number of seconds, got '5'"),
        ({"interval": 0}, "ProbeConfig: interval must be > 0 seconds, got 0"),
        ({"jitter": 1.5}, r"ProbeConfig: jitter must be in \[0, 1\), got 1.5"),
        ({"probes": {"memory:a": "http://x"}}, r"ProbeConfig: probes\['memory:a'\] has no check"),
    ],
)
def test_probe_config_names_the_bad_field(options: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        ProbeConfig(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"failure_rate": 3}, r"BreakerConfig: failure_rate must be in \(0, 1\] or None, got 3"),
        ({"consecutive_failures": "5"}, "BreakerConfig: consecutive_failures must be >= 0, got '5'"),
        ({"open_base": 10.0, "open_max": 5.0}, r"BreakerConfig: open_max must be >= open_base \(10.0\), got 5.0"),
        ({"jitter": True}, r"BreakerConfig: jitter must be in \[0, 1\), got True"),
        ({"window": "sliding"}, "BreakerConfig: window must be 'count' or 'time', got 'sliding'"),
    ],
)
def test_breaker_config_names_the_field_and_the_value(options: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        BreakerConfig(**options)  # type: ignore[arg-type]


def test_an_observe_hook_that_is_not_callable_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Observe\\(hook\\): hook must be callable"):
        Observe("metrics")  # type: ignore[arg-type]
