"""failover.config: a set-up file to ready facades, on in-memory providers (no servers, no sleeping).

Every rule of the file is checked by the message it gives: the file, the field path, the
problem and the bad value, and never a secret's value."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from failover import BreakerConfig, ExecutionConfig, FakeClock, HealthConfig, ProbeConfig
from failover.config import Setup, load, parse
from failover.errors import ConfigError
from failover.replication.modes import Quorum
from failover.routing.policies import LowestLatency, Weighted

GOOD = """
[storage]
policy = "priority"
failback_after = 0
breaker_per = "operation_class"

[storage.breaker]
consecutive_failures = 2
failure_rate = false

[storage.health]
rise = 1
fall = 2

[storage.execution]
attempt_timeout = 1.5
deadline = 4
hedge_after = false

[storage.replication]
mode = "quorum"
quorum = 2
journal = "journal.sqlite"
restore_check = false

[[storage.targets]]
name = "mem:a"
provider = "memory"

[[storage.targets]]
name = "mem:b"
provider = "memory"
priority = 1

[[storage.targets]]
name = "mem:c"
provider = "memory"
priority = 2
weight = 0
"""

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="


def problem_of(text: str, tmp_path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text, source="it.toml", base=tmp_path, environ=environ or {}).close()
    return caught.value.message


def test_a_good_file_builds_a_replicated_storage_with_the_libraries_config_objects(tmp_path: Path) -> None:
    with parse(GOOD, source="it.toml", base=tmp_path, environ={}) as setup:
        assert setup.dns is None and setup.compute is None and setup.storage is not None
        pool = setup.storage.pool
        assert [t.name for t in pool.targets] == ["mem:a", "mem:b", "mem:c"]
        assert [t.priority for t in pool.targets] == [0, 1, 2] and pool.targets[2].weight == 0
        member = pool.member("mem:a", "read")
        assert member.breaker.config == BreakerConfig(consecutive_failures=2, failure_rate=None)
        assert member.health.config == HealthConfig(rise=1, fall=2)
        executor = pool.executor_for("get")
        assert executor.config == ExecutionConfig(attempt_timeout=1.5, deadline=4)
        replication = setup.storage.replication
        assert replication is not None and isinstance(replication.mode, Quorum) and replication.mode.w == 2
        assert Path(replication.mode.journal) == tmp_path / "journal.sqlite"


def test_a_built_setup_routes_a_put_and_get_and_fails_over_when_the_primary_is_forced_open(tmp_path: Path) -> None:
    with parse(GOOD, source="it.toml", base=tmp_path, environ={}, clock=FakeClock()) as setup:
        storage = setup.storage
        assert storage is not None
        storage.put("reports/q3.pdf", b"numbers")
        assert storage.get("reports/q3.pdf") == b"numbers"
        assert storage.status()["mem:a"].calls >= 1
        for member in (storage.pool.member("mem:a", "read"), storage.pool.member("mem:a", "write")):
            member.breaker.force_open("drill")
        assert storage.get("reports/q3.pdf") == b"numbers"  # served by mem:b, which the quorum wrote
        assert storage.status()["mem:b"].calls >= 2


def test_load_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "failover.toml"
    path.write_text(GOOD)
    with load(path, environ={}) as setup:
        assert isinstance(setup, Setup) and setup.storage is not None and "failover.toml" in repr(setup)
    path.write_text(GOOD.replace("weight = 0", "weight = -3"))
    with pytest.raises(ConfigError, match=r"failover\.toml: storage\.targets\[2\]\.weight: must be >= 0, got -3$"):
        load(path, environ={})


def test_the_other_facades_and_policies_and_health_checks(tmp_path: Path) -> None:
    text = """
    [dns]
    policy = { kind = "lowest_latency", tolerance = 0.5 }
    [dns.health_checks]
    interval = 2
    [[dns.targets]]
    name = "mem:dns"
    provider = "memory_dns"
    zone = "example.com."

    [compute]
    policy = "weighted"
    [[compute.targets]]
    name = "mem:vm"
    provider = "memory_compute"
    region = "memory-b"
    """
    with parse(text, environ={}) as setup:
        assert setup.storage is None and setup.dns is not None and setup.compute is not None
        policy = setup.dns.pool.executor_for("list_records").router.policy
        assert isinstance(policy, LowestLatency) and policy.tolerance == 0.5
        checker = setup.dns.pool.checker
        assert checker is not None and checker._checks["mem:dns"].interval == ProbeConfig(interval=2).interval == 2
        assert isinstance(setup.compute.pool.executor_for("list_instances").router.policy, Weighted)
        assert set(setup.facades) == {"dns", "compute"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("weight = 0", "weight = -3"), "it.toml: storage.targets[2].weight: must be >= 0, got -3"),
        (
            lambda t: t.replace("failure_rate = false", "failure_rate = 3"),
            "it.toml: storage.breaker.failure_rate: must be in (0, 1], got 3",
        ),
        (lambda t: t.replace("rise = 1", "rise = 0"), "storage.health.rise: must be >= 1, got 0"),
        (lambda t: t.replace("deadline = 4", "deadline = true"), "storage.execution.deadline: must be a number"),
        (
            lambda t: t.replace("priority = 1", "priority = 1.5"),
            "storage.targets[1].priority: must be a whole number, got 1.5",
        ),
        (lambda t: t.replace('"priority"', '"fastest"'), "storage.policy.kind: must be 'priority', 'weighted' or"),
        (lambda t: t.replace("quorum = 2\n", ""), "storage.replication: mode quorum needs quorum"),
        (
            lambda t: t.replace("quorum = 2", "quorum = 4"),
            "storage.replication.quorum: must be <= the number of targets (3), got 4",
        ),
        (
            lambda t: t.replace('"operation_class"', '"region"'),
            "storage.breaker_per: must be 'target' or 'operation_class', got \"region\"",
        ),
        (
            lambda t: t.replace('name = "mem:b"', 'name = "mem:a"'),
            "storage.targets: Value error, targets[1] repeats the name",
        ),
        (
            lambda t: t.replace('name = "mem:b"', 'name = "not a name"'),
            "storage.targets[1]: invalid target name 'not a name'",
        ),
        (lambda t: "[storage]\ntargets = []\n", "storage.targets: "),
        (lambda t: "", "nothing configured: add a [storage], [dns] or [compute] section"),
        (lambda t: "not toml [", "it.toml is not valid TOML"),
    ],
)
def test_each_problem_names_the_file_the_field_and_the_value(
    tmp_path: Path, change: Callable[[str], str], message: str
) -> None:
    assert message.replace("Value error, ", "") in problem_of(change(GOOD), tmp_path)


def test_constructor_errors_of_the_librarys_config_classes_name_the_file_and_table(tmp_path: Path) -> None:
    text = GOOD.replace("failure_rate = false", "open_base = 10\nopen_max = 5")
    message = problem_of(text, tmp_path)  # the rule and its wording are BreakerConfig's own
    assert message.startswith("it.toml: storage.breaker: BreakerConfig: ") and "open_max" in message


def test_an_unknown_key_is_named_with_the_keys_that_are_allowed_there(tmp_path: Path) -> None:
    message = problem_of(GOOD.replace("rise = 1", "rise = 1\nrize = 2"), tmp_path)
    assert "it.toml: storage.health.rize: unknown key; the keys here are error_alpha, fall, latency_alpha" in message
    assert "unknown key" in problem_of(GOOD + "\n[telemetri]\nmetrics = true\n", tmp_path)


def test_an_unknown_provider_lists_the_known_ones(tmp_path: Path) -> None:
    message = problem_of(GOOD.replace('provider = "memory"', 'provider = "dropbox"', 1), tmp_path)
    assert (
        "storage.targets[0].provider: unknown provider 'dropbox'; storage providers: azure_blob, gcs, memory, s3"
        in message
    )
    message = problem_of(GOOD.replace('provider = "memory"', 'provider = "route53"', 1), tmp_path)
    assert "'route53' is a dns provider; storage providers: azure_blob, gcs, memory, s3" in message


def test_location_keys_are_checked_per_provider(tmp_path: Path) -> None:
    target = '[storage]\n[[storage.targets]]\nname = "aws:us-east-1"\nprovider = "s3"\n'
    assert "storage.targets[0]: provider s3 needs bucket" in problem_of(target, tmp_path)
    assert "provider s3 does not take container" in problem_of(target + 'bucket = "b"\ncontainer = "c"\n', tmp_path)
    assert "credentials.kind: provider s3 does not take azure_key; it takes aws_keys, aws_profile, default" in (
        problem_of(target + 'bucket = "b"\ncredentials = { kind = "azure_key", account_key_env = "K" }\n', tmp_path)
    )
    assert "credentials: kind aws_keys needs secret_access_key_env" in problem_of(
        target + 'bucket = "b"\ncredentials = { kind = "aws_keys", access_key_id_env = "K" }\n', tmp_path
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (f'credentials = {{ kind = "aws_keys", secret_access_key = "{SECRET}" }}', "credentials.secret_access_key"),
        (f'credentials = {{ connection_string = "AccountKey={SECRET}" }}', "credentials.connection_string"),
        (f'password = "{SECRET}"', "password"),
        (f'access_key = "{SECRET}"', "access_key"),
        (f'credentials = {{ secret = "{SECRET}" }}', "credentials.secret"),
    ],
)
def test_an_inline_secret_is_refused_pointing_at_the_env_form_and_never_echoed(
    tmp_path: Path, line: str, key: str
) -> None:
    text = GOOD.replace('name = "mem:b"', f'name = "mem:b"\n{line}')
    message = problem_of(text, tmp_path)
    parent, _, name = f"storage.targets[1].{key}".rpartition(".")
    assert f"it.toml: {parent}: the key 'storage.targets[1].{key}' would put a secret in the file" in message
    assert f'{name}_env = "VARIABLE"' in message
    assert SECRET not in message and "AccountKey" not in message


def test_a_redis_url_with_a_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    text = GOOD + f'\n[storage.fleet]\nbreaker_store = "redis://:{SECRET}@127.0.0.1:6379/0"\n'
    message = problem_of(text, tmp_path)
    assert "storage.fleet.breaker_store: this value holds a credential" in message and "_env form" in message
    assert SECRET not in message


def test_a_fleet_breaker_store_is_built_from_the_url_in_an_environment_variable(tmp_path: Path) -> None:
    text = GOOD + '\n[storage.fleet]\nbreaker_store_env = "FAILOVER_REDIS"\n'
    assert "environment variable FAILOVER_REDIS is not set" in problem_of(text, tmp_path)
    environ = {"FAILOVER_REDIS": f"redis://:{SECRET}@127.0.0.1:1/0"}
    with parse(text, base=tmp_path, environ=environ) as setup:  # redis-py connects on first use only
        assert setup.storage is not None
        store = setup.storage.pool.member("mem:a", "read").breaker._store
        assert (
            type(store).__name__ == "RedisBreakerStore"
            and getattr(store, "prefix", None) == "failover:breaker:storage:"
        )


AZURE = """
[storage]
[[storage.targets]]
name = "azure:westeurope"
provider = "azure_blob"
container = "reports"
credentials = { kind = "connection_string", connection_string_env = "TEST_AZURE_CONNECTION" }
"""


def test_an_unset_environment_variable_is_named_and_nothing_else(tmp_path: Path) -> None:
    message = problem_of(AZURE, tmp_path)
    assert message == (
        "it.toml: storage.targets[0].credentials.connection_string_env: "
        "environment variable TEST_AZURE_CONNECTION is not set"
    )


def test_credentials_by_reference_build_the_adapters_and_keep_the_secret_out_of_reprs(tmp_path: Path) -> None:
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={SECRET};"
        "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    )
    text = (
        AZURE
        + """
    [[storage.targets]]
    name = "aws:us-east-1"
    provider = "s3"
    bucket = "reports"
    region = "us-east-1"
    credentials = { kind = "aws_keys", access_key_id_env = "TEST_AWS_ID", secret_access_key_env = "TEST_AWS_SECRET" }
    """
    )
    environ = {"TEST_AZURE_CONNECTION": connection, "TEST_AWS_ID": "AKIDEXAMPLE", "TEST_AWS_SECRET": SECRET}
    with parse(text, source="it.toml", base=tmp_path, environ=environ) as setup:
        assert setup.storage is not None
        providers = [t.provider for t in setup.storage.pool.targets]
        assert [type(p).__name__ for p in providers] == ["BlobStore", "S3Store"]
        assert SECRET not in repr(setup) + repr(setup.storage) + "".join(map(repr, providers))


def test_an_azure_emulator_endpoint_without_a_key_says_what_to_pass(tmp_path: Path) -> None:
    text = AZURE.replace(
        'credentials = { kind = "connection_string", connection_string_env = "TEST_AZURE_CONNECTION" }',
        'endpoint = "http://127.0.0.1:10000/devstoreaccount1"',
    )
    message = problem_of(text, tmp_path)
    assert message.startswith("it.toml: storage.targets[0]: the credential argument does not work with an http://")


def test_importing_failover_config_loads_no_cloud_sdk() -> None:
    code = "import sys, failover.config; print(sorted(m for m in ('boto3', 'azure', 'google') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('endpoint = "https://acct.blob.core.windows.net/?sv=2022&sig=SASSECRET"', "SASSECRET"),
        ('endpoint = "http://127.0.0.1:9000/?password=PWSECRET"', "PWSECRET"),
    ],
)
def test_a_credential_inside_a_value_is_refused_without_repeating_it(
    tmp_path: Path, line: str, secret: str
) -> None:
    text = f'[[storage.targets]]\nname = "mem:a"\nprovider = "memory"\n{line}\n'
    message = problem_of(text, tmp_path)
    assert "storage.targets[0].endpoint" in message and "holds a credential" in message
    assert secret not in message


def test_a_redis_url_with_a_password_in_its_query_is_refused(tmp_path: Path) -> None:
    text = (
        '[[storage.targets]]\nname = "mem:a"\nprovider = "memory"\n'
        '[storage.fleet]\nbreaker_store = "redis://cache:6379/0?password=REDISSECRET"\n'
    )
    message = problem_of(text, tmp_path)
    assert "storage.fleet.breaker_store" in message and "REDISSECRET" not in message


def test_closing_a_setup_closes_its_journal(tmp_path: Path) -> None:
    import sqlite3

    with parse(GOOD, base=tmp_path, environ={}) as setup:
        assert setup.storage is not None and setup.storage.replication is not None
        journal = setup.storage.replication.journal
        assert journal.counts() == {}
    with pytest.raises(sqlite3.ProgrammingError):
        journal.counts()  # closed: no handle left behind by a loaded file
