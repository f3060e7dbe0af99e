"""The object service over in-memory clouds behind `ChaosProvider`s: keys and bodies,
outages, the chaos control, set-up files and the command (the HTTP details are in
`tests.unit.test_object_service_http`).

No server, no thread, no sleeping: FastAPI's TestClient calls the app, the storage is never
started (no probes, no drainer), and the breakers run on a fake clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from examples.object_service import create_app
from examples.object_service.chaos import chaos_targets
from examples.object_service.cli import QUIET_LOGGERS, fresh_journal, logging_configured, main
from examples.object_service.service import DEFAULT_JOURNAL, LOCAL_PROBES, load_setup, service_tables
from failover import FailoverStorage, Target, replication
from failover.clock import FakeClock
from failover.config import Setup
from failover.config.setup import read
from failover.dashboard import Dashboard
from failover.errors import ConfigError
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from failover.telemetry.metrics import PrometheusMetrics

NAMES = ("memory:a", "memory:b", "memory:c")
TOKEN = "a-chaos-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Service:
    client: TestClient
    storage: FailoverStorage
    clouds: dict[str, ChaosProvider]

    def stored(self, name: str) -> MemoryObjectStore:
        inner = self.clouds[name].inner
        assert isinstance(inner, MemoryObjectStore)
        return inner


def build(tmp_path: Path, chaos_token: str | None = TOKEN) -> Service:
    clouds = {name: ChaosProvider(MemoryObjectStore(), seed=i) for i, name in enumerate(NAMES)}
    storage = FailoverStorage(
        [Target(name, cloud, priority=i) for i, (name, cloud) in enumerate(clouds.items())],
        writes=replication.All(journal=tmp_path / "journal.sqlite"),
        clock=FakeClock(),
        instruments=[PrometheusMetrics(CollectorRegistry(), facade="objects")],
    )
    metrics = next(i for i in storage.instruments if isinstance(i, PrometheusMetrics))
    app = create_app(storage, metrics=metrics, dashboard=Dashboard(), chaos_token=chaos_token)
    return Service(TestClient(app), storage, clouds)


def close(service: Service) -> None:
    service.storage.close()
    assert service.storage.replication is not None
    service.storage.replication.journal.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    built = build(tmp_path)
    yield built
    close(built)


# ---------------------------------------------------------------- keys and bodies


def test_a_key_is_the_percent_decoded_path_and_never_the_query(service: Service) -> None:
    assert service.client.put("/objects/a%20b.txt", content=b"spaced").status_code == 200
    assert service.client.put("/objects/dir/x.txt?version=3&y=1", content=b"x").status_code == 200
    assert service.client.put("/objects/what%3Fnot", content=b"q").status_code == 200
    for name in NAMES:  # written to every cloud, under the decoded key
        keys = {info.key for info in service.stored(name).list()}
        assert {"a b.txt", "dir/x.txt", "what?not"} <= keys
        assert not any("version" in key or "%" in key for key in keys)
    assert service.client.get("/objects/a b.txt").content == b"spaced"
    assert service.client.get("/objects/dir/x.txt?anything=else").content == b"x"


def test_put_keeps_the_content_type_and_guesses_one_only_when_none_is_sent(service: Service) -> None:
    service.client.put("/objects/pic", content=b"\x89PNG", headers={"Content-Type": "image/png"})
    service.client.put("/objects/page.html", content=b"<p>")
    service.client.put("/objects/blob", content=b"\0")
    assert service.client.get("/objects/pic").headers["content-type"] == "image/png"
    assert service.client.get("/objects/page.html").headers["content-type"].startswith("text/html")
    assert service.client.get("/objects/blob").headers["content-type"] == "application/octet-stream"
    assert service.stored("memory:c").head("pic").content_type == "image/png"


def test_a_json_body_is_stored_as_bytes_not_parsed(service: Service) -> None:
    body = b'{"not": "parsed", '  # invalid JSON: FastAPI's body parsing would refuse it
    answer = service.client.put("/objects/data.json", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    assert service.client.get("/objects/data.json").content == body


def test_bad_keys_and_bad_queries_are_400_naming_the_problem(service: Service) -> None:
    for path in ("/objects/back%5Cslash", "/objects/", "/objects/a%2F.%2Fb", "/objects/trailing."):
        answer = service.client.put(path, content=b"x")
        assert answer.status_code == 400, path
        assert answer.json()["error"] == "invalid_input"
    answer = service.client.get("/objects", params={"limit": "lots"})
    assert answer.status_code == 400
    assert "limit" in answer.json()["message"]
    assert service.client.get("/objects", params={"limit": 0}).status_code == 400


def test_delete_then_get_is_404(service: Service) -> None:
    service.client.put("/objects/gone", content=b"x")
    assert service.client.delete("/objects/gone").status_code == 204
    answer = service.client.get("/objects/gone")
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
    assert service.client.delete("/objects/gone").status_code == 204  # idempotent


# ---------------------------------------------------------------- outages


def test_a_miss_is_404_only_when_every_cloud_that_may_hold_it_answered(service: Service) -> None:
    assert service.client.get("/objects/missing").json()["error"] == "not_found"
    service.clouds["memory:a"].down()
    answer = service.client.get("/objects/missing")
    assert answer.status_code == 503
    assert answer.json()["error"] == "not_found_unconfirmed"
    assert answer.headers["retry-after"] == "1"
    assert service.client.head("/objects/missing").status_code == 503


def test_reads_and_writes_go_on_with_one_cloud_down_and_503_when_all_are(service: Service) -> None:
    service.client.put("/objects/k", content=b"before")
    service.clouds["memory:a"].down()
    for _ in range(6):  # enough failures to open memory:a's breaker
        assert service.client.get("/objects/k").content == b"before"
    assert service.client.put("/objects/during", content=b"outage").status_code == 200
    assert service.storage.pending() == {"memory:a": 1}  # journaled for the cloud that is down
    for cloud in service.clouds.values():
        cloud.down()
    answer = service.client.get("/objects/k")
    assert answer.status_code == 503
    body = answer.json()
    assert body["error"] == "all_targets_failed"
    assert {row["target"] for row in body["attempts"]} | set(body["skipped"]) == set(NAMES)


def test_a_failover_is_counted_in_metrics(service: Service) -> None:
    service.client.put("/objects/m", content=b"m")

    def failovers() -> float:
        answer = service.client.get("/metrics", follow_redirects=False)
        assert answer.status_code == 200
        return sum(
            sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples
            if sample.name == "failover_failovers_total" and sample.labels["from_target"] == "memory:a"
        )

    assert failovers() == 0.0
    service.clouds["memory:a"].down()
    for _ in range(6):  # five failures in a row open the breaker: traffic moves
        service.client.get("/objects/m")
    assert failovers() == 1.0


def test_healthz_is_200_while_a_target_serves_and_503_when_none_does(service: Service) -> None:
    healthy = service.client.get("/healthz")
    assert healthy.status_code == 200
    assert healthy.json()["serving"] == list(NAMES)
    for name in NAMES[:2]:
        service.storage.force_open(name, "maintenance")
    assert service.client.get("/healthz").json()["serving"] == ["memory:c"]
    service.storage.force_open("memory:c", "maintenance")
    down = service.client.get("/healthz")
    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"
    assert [t["role"] for t in down.json()["targets"]] == ["down"] * 3


def test_the_dashboard_is_mounted_and_shows_the_storage(service: Service) -> None:
    page = service.client.get("/dashboard/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    status = service.client.get("/dashboard/api/status").json()
    assert [row["name"] for row in status["facades"][0]["targets"]] == list(NAMES)


# ---------------------------------------------------------------- the chaos control


def test_the_chaos_control_is_off_without_a_token(tmp_path: Path) -> None:
    service = build(tmp_path, chaos_token=None)
    try:
        answer = service.client.post("/chaos/memory:a/down", headers=AUTH)
        assert answer.status_code == 403
        assert "off" in answer.json()["message"]
        assert service.clouds["memory:a"].settings.error_rate == 0.0
        assert service.client.get("/chaos").json()["enabled"] is False
    finally:
        close(service)


def test_the_chaos_control_needs_the_token_and_never_shows_it(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bare = service.client.post("/chaos/memory:a/down")
    assert (bare.status_code, bare.headers["www-authenticate"]) == (401, "Bearer")
    wrong = service.client.post("/chaos/memory:a/down", headers={"Authorization": f"Bearer {TOKEN}x"})
    assert wrong.status_code == 403
    assert service.clouds["memory:a"].settings.error_rate == 0.0
    assert service.client.post("/chaos/memory:z/down", headers=AUTH).status_code == 404
    assert service.client.post("/chaos/memory:a/down", headers=AUTH).json() == {"target": "memory:a", "state": "down"}
    assert service.client.get("/chaos").json()["targets"]["memory:a"] == "down"
    service.client.put("/objects/k", content=b"v")  # journaled for memory:a
    assert service.client.post("/chaos/memory:a/up", headers=AUTH).status_code == 200
    assert service.client.get("/chaos").json()["targets"]["memory:a"] == "up"
    service.storage.repair()
    assert service.stored("memory:a").get("k") == b"v"
    assert "memory:a is down" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN not in wrong.text + bare.text


def test_a_refused_chaos_request_is_logged_at_info_with_the_target_quoted(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="examples.object_service.chaos")
    forged = "/chaos/memory:a%0A2026-01-01 00:00:00 WARNING chaos: memory:a is down, by admin/down"
    assert service.client.post(forged).status_code == 401
    assert service.client.post(forged, headers=AUTH).status_code == 404
    refusals = [r for r in caplog.records if r.name == "examples.object_service.chaos"]
    assert len(refusals) == 2
    for record in refusals:
        assert record.levelno == logging.INFO  # anyone can knock: no flood of warnings
        assert "\n" not in record.getMessage()
        assert "'memory:a\\n2026-01-01" in record.getMessage()  # shown as repr() shows it


@pytest.mark.parametrize("token", ["short", "has spaces in it, sixteen+", "nön-ascii-token-long-enough"])
def test_a_weak_chaos_token_is_refused_without_showing_it(tmp_path: Path, token: str) -> None:
    with pytest.raises(ConfigError, match="chaos token") as refused:
        build(tmp_path, chaos_token=token)
    assert token not in str(refused.value)


def test_a_chaos_token_for_storage_without_chaos_providers_is_refused(tmp_path: Path) -> None:
    storage = FailoverStorage([Target("memory:a", MemoryObjectStore())])
    with pytest.raises(ConfigError, match="ChaosProvider"):
        create_app(storage, chaos_token=TOKEN)


# ---------------------------------------------------------------- a set-up file (--config)

MEMORY_SETUP = """
[storage]
failback_after = 5

[[storage.targets]]
name = "memory:a"
provider = "memory"

[[storage.targets]]
name = "memory:b"
provider = "memory"
priority = 1
"""


def test_a_setup_file_gets_replication_metrics_and_chaos_wrapped_providers(tmp_path: Path) -> None:
    path = tmp_path / "failover.toml"
    path.write_text(MEMORY_SETUP)
    setup = load_setup(path, journal=tmp_path / "j.sqlite", chaos=True)
    try:
        storage = setup.storage
        assert storage is not None and storage.replication is not None  # mode "all" added
        assert set(chaos_targets(storage)) == {"memory:a", "memory:b"}
        client = TestClient(create_app(storage, metrics=setup.metrics, chaos_token=TOKEN))
        assert client.put("/objects/f", content=b"from a file").status_code == 200
        assert client.post("/chaos/memory:a/down", headers=AUTH).status_code == 200
        assert client.get("/objects/f").content == b"from a file"  # from memory:b
        assert "failover_attempts_total" in client.get("/metrics").text
    finally:
        setup.close()
    assert (tmp_path / "j.sqlite").exists()
    assert not chaos_targets(_closed(load_setup(path, journal=tmp_path / "j.sqlite")))  # no chaos: bare providers


def _closed(setup: Setup) -> FailoverStorage:
    setup.close()
    assert setup.storage is not None
    return setup.storage


def test_a_setup_file_without_storage_or_unreadable_is_a_config_error(tmp_path: Path) -> None:
    dns_only = tmp_path / "dns.toml"
    dns_only.write_text('[[dns.targets]]\nname = "m"\nprovider = "memory_dns"\nzone = "example.test."\n')
    with pytest.raises(ConfigError, match=r"no \[storage\] section"):
        load_setup(dns_only)
    with pytest.raises(ConfigError, match="cannot read"):
        load_setup(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[storage\n")
    with pytest.raises(ConfigError, match="not UTF-8 TOML"):
        load_setup(broken)


def test_the_command_needs_local_or_a_config_and_exits_2_on_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        main([])
    assert usage.value.code == 2
    assert "--local" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    good = tmp_path / "failover.toml"
    good.write_text(MEMORY_SETUP)
    journal = str(tmp_path / "j.sqlite")
    assert main(["--config", str(good), "--journal", journal, "--chaos-token", "weak-secret"]) == 2
    refused = capsys.readouterr().err
    assert "chaos token" in refused and "weak-secret" not in refused
    with pytest.raises(SystemExit):
        main(["--local", "--port", "70000"])


@pytest.mark.parametrize(
    "shared",
    [
        {"mode": "all", "journal_url": "redis://127.0.0.1:6379/0"},
        {"mode": "primary", "journal_url_env": "OBJECT_SERVICE_JOURNAL_URL"},
    ],
)
def test_a_setup_file_with_its_journal_in_redis_keeps_it_there(tmp_path: Path, shared: dict[str, str]) -> None:
    path = tmp_path / "failover.toml"
    tables = {"storage": {"targets": [{"name": "memory:a", "provider": "memory"}], "replication": {**shared}}}
    effective = service_tables(tables, path)
    assert effective["storage"]["replication"] == shared  # no SQLite file added beside it
    read(effective, str(path))  # the set-up is valid as the service builds it
    with pytest.raises(ConfigError, match="--journal"):
        service_tables({"storage": {"replication": {**shared}}}, path, journal=tmp_path / "j.sqlite")


def test_a_setup_file_without_a_journal_gets_one_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "failover.toml"
    bare = service_tables({"storage": {}}, path)
    assert bare["storage"]["replication"] == {"mode": "all", "journal": str(tmp_path / DEFAULT_JOURNAL)}
    named = service_tables({"storage": {"replication": {"journal": "own.sqlite"}}}, path)
    assert named["storage"]["replication"] == {"journal": "own.sqlite"}
    given = service_tables({"storage": {"replication": {"journal": "own.sqlite"}}}, path, journal=tmp_path / "j")
    assert given["storage"]["replication"] == {"journal": str(tmp_path / "j")}


def test_the_local_probe_settings_cannot_be_changed_by_a_caller() -> None:
    with pytest.raises(TypeError):
        LOCAL_PROBES["interval"] = 60.0  # type: ignore[index]
    assert LOCAL_PROBES == {"interval": 1.0, "timeout": 0.5}


# ---------------------------------------------------------------- the command


def test_fresh_journal_removes_a_stale_local_journal_with_its_wal_and_shm_files(tmp_path: Path) -> None:
    journal = tmp_path / "local.sqlite"
    leftovers = [journal, tmp_path / "local.sqlite-wal", tmp_path / "local.sqlite-shm"]
    for leftover in leftovers:
        leftover.write_bytes(b"owed writes")
    unrelated = tmp_path / "local.sqlite.bak"
    unrelated.write_bytes(b"keep")
    assert fresh_journal(journal) == journal
    assert not any(leftover.exists() for leftover in leftovers)
    assert unrelated.read_bytes() == b"keep"
    assert fresh_journal(journal) == journal  # nothing to remove: no error


def access_record(path: str) -> logging.LogRecord:
    # As uvicorn logs a request: (client, method, path with query, HTTP version, status).
    args = ("127.0.0.1:50000", "GET", path, "1.1", 200)
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)


def test_the_access_log_skips_only_the_polled_paths() -> None:
    access = logging.getLogger("uvicorn.access")
    with logging_configured():
        for polled in ("/metrics", "/healthz", "/dashboard/", "/dashboard/api/status?x=1"):
            assert not access.filter(access_record(polled)), polled
        for logged in ("/objects/metrics", "/objects/healthz", "/chaos", "/metricsx"):
            assert access.filter(access_record(logged)), logged
    assert access.filter(access_record("/metrics"))  # the filter goes with the service


def logger_state() -> dict[str, object]:
    names = ("", *QUIET_LOGGERS, "uvicorn.access")
    return {name: (logging.getLogger(name).level, list(logging.getLogger(name).filters)) for name in names}


def test_the_command_leaves_the_loggers_as_it_found_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = logger_state()
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2
    assert logger_state() == before
    assert "cannot read" in capsys.readouterr().err
