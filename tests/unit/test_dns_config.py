"""The dns-controller config file: validation, secrets from the environment only."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.dns_config import load
from failover.errors import ConfigError

GOOD = """
[record]
name = "api.example.com."
type = "A"
failback_after = 30

[health]
interval = 1
timeout = 0.5

[[endpoints]]
value = "192.0.2.10"
http = "http://127.0.0.1:9/healthz"

[[endpoints]]
value = "192.0.2.11"
priority = 1
tcp = "127.0.0.1:9"

[[providers]]
name = "memory:a"
kind = "memory"
zone = "example.com."

[[providers]]
name = "bind:local"
kind = "rfc2136"
zone = "example.com."
server = "127.0.0.1"
tsig_key_name = "k"
tsig_secret_env = "TEST_TSIG_SECRET"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dns.toml"
    path.write_text(text)
    return path


def test_a_good_config_builds_a_controller(tmp_path: Path) -> None:
    config = load(write(tmp_path, GOOD))
    controller = config.build({"TEST_TSIG_SECRET": "c2VjcmV0LXNlY3JldC1zZWNyZXQ="})
    assert controller.name == "api.example.com." and controller.failback_after == 30
    assert [e.value for e in controller.endpoints] == ["192.0.2.10", "192.0.2.11"]
    assert [t.name for t in controller.providers] == ["memory:a", "bind:local"]
    assert "c2VjcmV0" not in repr(controller) + repr(controller.providers[1].provider)


def test_a_missing_secret_variable_is_named_and_nothing_else(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TEST_TSIG_SECRET is not set"):
        load(write(tmp_path, GOOD)).build({})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('type = "A"', 'type = "MX"'), "record.type"),
        (lambda t: t.replace('http = "http://127.0.0.1:9/healthz"', ""), "exactly one of http or tcp"),
        (lambda t: t.replace("interval = 1", "interval = -1"), "health.interval"),
        (lambda t: t + "\nunknown = 1\n", "unknown"),
        (lambda t: t.replace("[[providers]]", "[[provider]]", 1), "provider: Extra inputs"),
        (lambda t: "not toml [", "not valid TOML"),
    ],
)
def test_bad_configs_are_config_errors_naming_the_problem(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message):
        load(write(tmp_path, change(GOOD)))


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.toml")


def test_the_cli_runs_one_pass_and_reports_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from failover.cli import main

    config = write(tmp_path, GOOD.split("[[providers]]\nname = \"bind:local\"")[0])
    assert main(["dns-controller", "--config", str(config), "--once"]) == 0
    assert "api.example.com. A" in capsys.readouterr().out
    assert main(["dns-controller", "--config", str(tmp_path / "missing.toml"), "--once"]) == 2
    assert "cannot read" in capsys.readouterr().err
