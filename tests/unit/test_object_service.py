"""The object service's HTTP behaviour, over in-memory clouds behind `ChaosProvider`s.

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
from examples.object_service.cli import main
from examples.object_service.service import load_setup
from failover import FailoverStorage, Target, replication
from failover.clock import FakeClock
from failover.config import Setup
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


# ---------------------------------------------------------------- HEAD, listing


def test_head_answers_the_size_etag_and_type_without_a_body(service: Service) -> None:
    put = service.client.put("/objects/h.txt", content=b"0123456789")
    answer = service.client.head("/objects/h.txt")
    assert answer.status_code == 200
    assert answer.headers["content-length"] == "10"
    assert answer.headers["etag"] == put.headers["etag"] == put.json()["etag"]
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.content == b""
    assert service.client.head("/objects/nothing").status_code == 404


def test_listing_is_by_prefix_in_key_order_and_pages_with_after(service: Service) -> None:
    for key in ("logs/3", "logs/1", "logs/5", "logs/2", "logs/4", "other/1"):
        service.client.put(f"/objects/{key}", content=key.encode())
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        params = {"prefix": "logs/", "limit": 2, **({"after": after} if after else {})}
        page = service.client.get("/objects", params=params).json()
        pages += 1
        seen += [row["key"] for row in page["objects"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == ["logs/1", "logs/2", "logs/3", "logs/4", "logs/5"]
    assert pages == 3
    everything = service.client.get("/objects").json()
    assert [row["key"] for row in everything["objects"]] == [*seen, "other/1"]
    assert everything["objects"][0]["size"] == len(b"logs/1")
    assert everything["next_after"] is None


# ---------------------------------------------------------------- conditional and ranged reads


def test_if_none_match_with_the_etag_is_304_and_with_another_is_200(service: Service) -> None:
    etag = service.client.put("/objects/c.txt", content=b"cached").headers["etag"]
    first = service.client.get("/objects/c.txt")
    assert first.headers["etag"] == etag
    for header in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        again = service.client.get("/objects/c.txt", headers={"If-None-Match": header})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag), header
    changed = service.client.get("/objects/c.txt", headers={"If-None-Match": '"stale"'})
    assert (changed.status_code, changed.content) == (200, b"cached")
    service.client.put("/objects/c.txt", content=b"new bytes")
    after_write = service.client.get("/objects/c.txt", headers={"If-None-Match": etag})
    assert (after_write.status_code, after_write.content) == (200, b"new bytes")


def test_the_etag_is_the_same_whichever_cloud_serves(service: Service) -> None:
    etag = service.client.put("/objects/e", content=b"same everywhere").headers["etag"]
    service.clouds["memory:a"].down()
    service.clouds["memory:b"].down()
    assert service.client.head("/objects/e").headers["etag"] == etag  # from memory:c


@pytest.mark.parametrize(
    ("header", "body", "content_range"),
    [
        ("bytes=0-3", b"0123", "bytes 0-3/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
        ("bytes=-50", b"0123456789", "bytes 0-9/10"),
    ],
)
def test_a_range_is_206_with_its_content_range(service: Service, header: str, body: bytes, content_range: str) -> None:
    service.client.put("/objects/r", content=b"0123456789")
    answer = service.client.get("/objects/r", headers={"Range": header})
    assert (answer.status_code, answer.content) == (206, body)
    assert answer.headers["content-range"] == content_range
    assert answer.headers["content-length"] == str(len(body))


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=5-2", "bytes=-0", "items=0-1", "bytes=0-1,4-5", "bytes=-"])
def test_a_range_that_cannot_be_served_is_416(service: Service, header: str) -> None:
    service.client.put("/objects/r", content=b"0123456789")
    answer = service.client.get("/objects/r", headers={"Range": header})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == "bytes */10"
    assert answer.json()["error"] == "range_not_satisfiable"


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
