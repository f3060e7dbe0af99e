"""The dns-controller config file: validation, secrets from the environment only."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.config.dns import load
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


def once(config: Path) -> int:
    """``failover dns-controller --config CONFIG --once``, on a fake clock."""
    import argparse

    from failover import FakeClock
    from failover.cli.dns_controller import run_dns_controller

    return run_dns_controller(argparse.Namespace(config=config, once=True, passes=0), clock=FakeClock())


MEMORY_ONLY = GOOD.split('[[providers]]\nname = "bind:local"')[0]


def test_once_probes_until_decided_and_reports_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from failover.cli.main import main

    assert once(write(tmp_path, MEMORY_ONLY)) == 0
    assert "api.example.com. A -> (nothing: no endpoint has been healthy) (leader)" in capsys.readouterr().out
    assert main(["dns-controller", "--config", str(tmp_path / "missing.toml"), "--once"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_once_on_a_standby_says_so_and_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from failover.fleet.leader import FileLeaderLock

    lock = tmp_path / "leader.lock"
    holder = FileLeaderLock(lock)
    assert holder.try_acquire()
    assert once(write(tmp_path, f'lock = "{lock}"\n' + MEMORY_ONLY)) == 3
    assert "standby, another controller holds the leader lock; nothing written" in capsys.readouterr().out
    holder.release()


def test_once_as_leader_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert once(write(tmp_path, f'lock = "{tmp_path / "leader.lock"}"\n' + MEMORY_ONLY)) == 0
    assert "(leader)" in capsys.readouterr().out


def test_an_empty_lock_is_an_error_not_a_disabled_election(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lock: must be a file path or a redis:// URL"):
        load(write(tmp_path, 'lock = ""\n' + GOOD))


def _endpoint(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


BAD_FILES: list[tuple[str, bytes, str]] = [
    ("not UTF-8", GOOD.encode() + b"\n# caf\xe9\n", f"line {GOOD.count(chr(10)) + 2}: not UTF-8 text"),
    (
        "invalid IPv6 endpoint",
        _endpoint(GOOD, 'type = "A"', 'type = "AAAA"').replace('"192.0.2.10"', '"2001:db8::zz"').encode(),
        "endpoints[0].value: '2001:db8::zz' is not an IPv6 address",
    ),
    ("invalid IPv4 endpoint", GOOD.replace('"192.0.2.10"', '"192.0.2.300"').encode(), "endpoints[0].value"),
    ("non-numeric port", GOOD.replace('tcp = "127.0.0.1:9"', 'tcp = "127.0.0.1:\u00b2"').encode(), "endpoints[1].tcp"),
    ("port out of range", GOOD.replace('tcp = "127.0.0.1:9"', 'tcp = "127.0.0.1:70000"').encode(), "endpoints[1].tcp"),
    ("bad url port", GOOD.replace("127.0.0.1:9/healthz", "127.0.0.1:x/healthz").encode(), "endpoints[0].http"),
    (
        "bad zone label",
        GOOD.replace('zone = "example.com."', 'zone = "exa mple.com."', 1).encode(),
        "providers[0].zone",
    ),
    ("record outside the zone", GOOD.replace('"api.example.com."', '"api.example.org."').encode(), "not in zone"),
    ("deeply nested", GOOD.encode() + b"\nx = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
    (
        "a field of another kind",
        GOOD.replace('kind = "memory"', 'kind = "memory"\nserver = "x"').encode(),
        "providers[0]",
    ),
    ("an empty lock", b'lock = ""\n' + GOOD.encode(), "lock: "),
]


@pytest.mark.parametrize(("label", "data", "field"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_config_file_is_one_line_naming_the_field_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], label: str, data: bytes, field: str
) -> None:
    from failover.cli.main import main

    path = tmp_path / "dns.toml"
    path.write_bytes(data)
    assert main(["dns-controller", "--config", str(path), "--once"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and field in err, err
    assert "Traceback" not in err


def test_azure_dns_and_cloud_dns_providers_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adc = tmp_path / "adc.json"
    adc.write_text('{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}')
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    text = MEMORY_ONLY + CLOUD_PROVIDERS
    controller = load(write(tmp_path, text)).build({})
    kinds = [type(t.provider).__name__ for t in controller.providers]
    assert kinds == ["MemoryDnsZone", "AzureDnsZone", "CloudDnsZone"]


def test_a_cloud_provider_missing_its_fields_is_named(tmp_path: Path) -> None:
    text = MEMORY_ONLY + CLOUD_PROVIDERS.replace('resource_group = "dns"\n', "")
    with pytest.raises(ConfigError, match=r"providers\[1\]: provider azure:dns: kind azure_dns needs resource_group"):
        load(write(tmp_path, text))


CLOUD_PROVIDERS = """
[[providers]]
name = "azure:dns"
kind = "azure_dns"
zone = "example.com."
subscription_id = "00000000-0000-0000-0000-000000000000"
resource_group = "dns"

[[providers]]
name = "gcp:dns"
kind = "cloud_dns"
zone = "example.com."
project = "my-project"
managed_zone = "example-com"
"""
