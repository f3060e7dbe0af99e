"""The dashboard: what ``api/status`` and the page say about memory providers on a fake
clock, the controls and their token, mounting, and ``failover dashboard``'s flags."""

from __future__ import annotations

import argparse
import logging
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from failover import FailoverDNS, FailoverStorage, FakeClock, Target, replication
from failover.cli.dashboard import Prober, add_dashboard, run_dashboard, unchecked
from failover.config import load
from failover.dashboard import Dashboard
from failover.errors import ConfigError
from failover.events import BreakerTransition, Retried
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryDnsZone, MemoryObjectStore
from failover.replication.versioning import timestamp_of
from tests.unit.replicas import NAMES, build
from tests.unit.setups import STORAGE_AND_DNS

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "reports/q3.pdf"
TOKEN = "s3cr3t-t0ken-0123456789abcdef"
WALL_NS = 1_700_000_000 * 10**9
FIELDS = {
    "name", "priority", "role", "health", "healthy", "breaker", "breakers", "latency_ms", "traffic_share",
    "recent_calls", "recent_errors", "calls", "errors", "window", "last_error", "last_error_age", "backlog",
}  # fmt: skip
FILE = STORAGE_AND_DNS


class World:
    """A storage facade on a chaos-wrapped primary and a DNS facade, both shown."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.clock = FakeClock()
        self.dashboard = dashboard
        self.primary = ChaosProvider(MemoryObjectStore(clock=self.clock), clock=self.clock)
        self.backup = MemoryObjectStore(clock=self.clock)
        for store in (self.primary, self.backup):
            store.put(KEY, b"v")
        self.storage = FailoverStorage(
            [Target("mem:a", self.primary), Target("mem:b", self.backup, priority=1)],
            clock=self.clock,
            instruments=[dashboard],
        )
        self.dns = FailoverDNS(
            [Target("mem:dns", MemoryDnsZone("example.com."))],
            clock=self.clock,
            instruments=[dashboard],
        )
        self.client = TestClient(dashboard.app)

    def status(self) -> dict[str, Any]:
        answer = self.client.get("/api/status")
        assert answer.status_code == 200
        document: dict[str, Any] = answer.json()
        return document

    def row(self, facade: str, target: str) -> dict[str, Any]:
        (view,) = [f for f in self.status()["facades"] if f["name"] == facade]
        (row,) = [t for t in view["targets"] if t["name"] == target]
        return row

    def control(self, action: str, token: str | None = TOKEN, **body: str) -> Any:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return self.client.post(f"/api/{action}", json=body, headers=headers)


def wall() -> int:
    return WALL_NS


@pytest.fixture
def world() -> World:
    return World(Dashboard(time_ns=wall))


@pytest.fixture
def controlled() -> World:
    return World(Dashboard(controls=True, token=TOKEN, time_ns=wall))


# ---------------------------------------------------------------- what it shows


def test_every_target_of_every_facade_is_listed_with_its_fields(world: World) -> None:
    document = world.status()
    assert document["controls"] is False
    assert [(f["name"], f["kind"]) for f in document["facades"]] == [("storage", "storage"), ("dns", "dns")]
    rows = {(f["name"], t["name"]): t for f in document["facades"] for t in f["targets"]}
    assert sorted(rows) == [("dns", "mem:dns"), ("storage", "mem:a"), ("storage", "mem:b")]
    for row in rows.values():
        assert set(row) == FIELDS
    assert rows["storage", "mem:a"]["role"] == "preferred" and rows["storage", "mem:b"]["role"] == "standby"
    assert rows["storage", "mem:a"]["breaker"] == "closed" and rows["storage", "mem:a"]["health"] == "up"
    assert rows["storage", "mem:a"]["backlog"] is None  # no replication


def test_traffic_latency_and_the_last_error_with_its_age_follow_the_calls(world: World) -> None:
    world.primary.down()
    for _ in range(10):  # the breaker opens after 5 failures and traffic moves to the backup
        assert world.storage.get(KEY) == b"v"
    world.clock.advance(7.0)
    a, b = world.row("storage", "mem:a"), world.row("storage", "mem:b")
    assert a["breaker"] == "open" and a["recent_errors"] >= 5
    assert a["last_error"] and a["last_error_age"] == pytest.approx(7.0)
    assert b["traffic_share"] > 0.5 and b["recent_calls"] == 10 and b["latency_ms"] is not None


def test_a_forced_open_target_shows_and_release_brings_it_back(world: World) -> None:
    world.storage.force_open("mem:a", "maintenance")
    forced = world.row("storage", "mem:a")
    assert forced["breaker"] == "forced_open" and forced["role"] == "down"
    assert world.row("storage", "mem:b")["role"] == "preferred"
    world.storage.release("mem:a")
    assert world.row("storage", "mem:a")["breaker"] == "closed"


def test_events_appear_newest_first_with_their_time_and_age(world: World) -> None:
    world.storage.force_open("mem:a", "maintenance")
    world.storage.release("mem:a")
    events = world.status()["events"]
    assert [e["text"] for e in events] == [
        "breaker mem:a: forced_open -> closed (released by operator)",
        "breaker mem:a: closed -> forced_open (maintenance)",
    ]
    for event in events:
        assert event["type"] == "BreakerTransition" and event["target"] == "mem:a"
        assert isinstance(event["at"], float) and event["age"] == pytest.approx(max(0.0, WALL_NS / 1e9 - event["at"]))
    assert events[1]["level"] == "warning"


def test_the_ring_keeps_the_newest_events_and_leaves_per_call_events_out() -> None:
    dashboard = Dashboard(events=3)
    threads = [
        threading.Thread(target=dashboard.on_event, args=(BreakerTransition(f"t{i}", "closed", "open", "x", at=i),))
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    dashboard.on_event(Retried("t9", "get", "t0", "timeout"))  # DEBUG: one per call in an outage
    events = TestClient(dashboard.app).get("/api/status").json()["events"]
    assert len(events) == 3 and "t9" not in {e["target"] for e in events}
    assert [e["at"] for e in events] == sorted((e["at"] for e in events), reverse=True)


def test_the_replication_backlog_shows_rows_and_the_oldest_age(tmp_path: Path) -> None:
    clock = FakeClock()
    chaos = [ChaosProvider(MemoryObjectStore(clock=clock), seed=i, clock=clock) for i in range(3)]
    now = [0]
    dashboard = Dashboard(time_ns=lambda: now[0])
    storage = build(
        chaos, clock, replication.Quorum(2, journal=tmp_path / "j.sqlite", repair_workers=1), instruments=[dashboard]
    )
    try:
        chaos[2].down()
        storage.put(KEY, b"x" * 100)
        storage.put("other", b"y" * 20)
        oldest = storage.replication.journal.backlog()[NAMES[2]].oldest  # type: ignore[union-attr]
        now[0] = timestamp_of(oldest) + 90 * 10**9
        (view,) = TestClient(dashboard.app).get("/api/status").json()["facades"]
        assert view["replication"] is True
        rows = {t["name"]: t["backlog"] for t in view["targets"]}
        assert rows[NAMES[2]]["rows"] == 2 and rows[NAMES[2]]["oldest_age"] == pytest.approx(90.0)
        assert rows[NAMES[0]] == {"rows": 0, "bytes": 0, "oldest_age": None, "quarantined": 0}
    finally:
        storage.close()


def test_a_second_facade_of_a_kind_gets_its_own_name_and_attaching_twice_changes_nothing(world: World) -> None:
    other = FailoverStorage([Target("mem:c", MemoryObjectStore())])
    world.dashboard.attach(other)
    world.dashboard.attach(other)
    world.dashboard.attach(world.storage)
    assert sorted(world.dashboard.facades) == ["dns", "storage", "storage-2"]
    with pytest.raises(ConfigError, match=r"name: .*'storage'"):
        world.dashboard.attach(FailoverStorage([Target("mem:d", MemoryObjectStore())]), "storage")
    with pytest.raises(ConfigError, match=r"facade must be a failover facade \(with"):
        world.dashboard.attach(object())


# ---------------------------------------------------------------- the page


def test_the_page_is_self_contained_and_forbids_other_sources(world: World) -> None:
    answer = world.client.get("/")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert re.findall(r"(?:https?:)?//[A-Za-z0-9]", html) == [], "the page must load nothing from the network"
    assert "<script src" not in html and "<link" not in html
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert 'fetch(base + "api/status"' in html  # relative: works under any mount path


def test_mounted_under_a_path_the_page_and_the_api_answer_there(world: World) -> None:
    outer = TestClient(Starlette(routes=[Mount("/dashboard", world.dashboard.app)]))
    assert "failover dashboard" in outer.get("/dashboard/").text
    assert outer.get("/dashboard", follow_redirects=False).status_code in (301, 307, 308)
    targets = [t["name"] for f in outer.get("/dashboard/api/status").json()["facades"] for t in f["targets"]]
    assert targets == ["mem:a", "mem:b", "mem:dns"]


# ---------------------------------------------------------------- controls


def test_controls_are_off_by_default(world: World) -> None:
    answer = world.control("force-open", target="mem:a", reason="maintenance")
    assert answer.status_code == 403 and "controls are off" in answer.json()["error"]
    assert world.row("storage", "mem:a")["breaker"] == "closed"


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789", TOKEN[:-1]])
def test_a_missing_or_wrong_token_is_refused_and_never_echoed(
    controlled: World, token: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = controlled.control("force-open", token=token, target="mem:a", reason="maintenance")
    assert answer.status_code == (401 if token is None else 403)
    assert answer.json()["error"]
    if token is None:
        assert answer.headers["www-authenticate"] == "Bearer"
    assert controlled.row("storage", "mem:a")["breaker"] == "closed"
    shown = answer.text + caplog.text + controlled.client.get("/").text + repr(controlled.dashboard)
    assert TOKEN not in shown and (token is None or token not in shown)


def test_a_valid_token_forces_open_and_releases(controlled: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    assert controlled.status()["controls"] is True
    answer = controlled.control("force-open", facade="storage", target="mem:a", reason="patching")
    assert answer.status_code == 200, answer.text
    assert answer.json()["done"] == "force-open storage mem:a (patching)"
    assert controlled.row("storage", "mem:a")["breaker"] == "forced_open"
    texts = [e["text"] for e in controlled.status()["events"]]
    assert "breaker mem:a: closed -> forced_open (dashboard: patching)" in texts
    assert controlled.control("release", target="mem:a", reason="patched").status_code == 200
    assert controlled.row("storage", "mem:a")["breaker"] == "closed"
    assert "force-open storage mem:a (patching)" in caplog.text and TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"target": "mem:a"}, 400, "reason is required"),
        ({"target": "mem:a", "reason": "  "}, 400, "reason is required"),
        ({"reason": "x"}, 400, "target must be"),
        ({"target": "mem:zz", "reason": "x"}, 404, "no target named 'mem:zz'"),
        ({"facade": "compute", "target": "mem:a", "reason": "x"}, 404, "no facade named 'compute'"),
    ],
)
def test_a_control_without_what_it_needs_says_what_is_missing(
    controlled: World, body: dict[str, str], status: int, message: str
) -> None:
    answer = controlled.control("force-open", **body)
    assert answer.status_code == status and message in answer.json()["error"]
    assert controlled.row("storage", "mem:a")["breaker"] == "closed"


def test_a_body_that_is_not_json_is_refused(controlled: World) -> None:
    answer = controlled.client.post(
        "/api/release", content=b"target=mem:a", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 400 and "JSON" in answer.json()["error"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"controls": True}, "controls=True needs a token argument"),
        ({"token": TOKEN}, "a token is given but controls=False"),
        ({"controls": True, "token": "short"}, "token must be at least 16"),
        ({"controls": True, "token": "has spaces in it, sixteen+"}, "token must be at least 16"),
        ({"controls": "yes"}, "controls must be True or False"),
        ({"events": 0}, "events must be an int"),
        ({"events": True}, "events must be an int"),
        ({"time_ns": 5}, "time_ns must be a callable"),
    ],
)
def test_bad_constructor_input_names_the_argument_and_never_shows_the_token(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        Dashboard(**options)
    token = options.get("token")
    assert token is None or token not in str(caught.value)


# ---------------------------------------------------------------- failover dashboard


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="failover")
    add_dashboard(top.add_subparsers(dest="command"))
    return top


def test_the_command_parses_its_flags_with_loopback_defaults() -> None:
    args = parser().parse_args(["dashboard", "--config", "f.toml"])
    assert (args.config, args.host, args.port, args.controls, args.token_env) == (
        Path("f.toml"),
        "127.0.0.1",
        8089,
        False,
        None,
    )
    assert args.probe_interval == 5.0 and args.run is run_dashboard
    flags = ["dashboard", "--config", "f.toml", "--port", "9000", "--controls", "--token-env", "DASH_TOKEN"]
    args = parser().parse_args([*flags, "--probe-interval", "2.5", "--host", "0.0.0.0"])
    assert (args.port, args.controls, args.token_env, args.probe_interval, args.host) == (
        9000,
        True,
        "DASH_TOKEN",
        2.5,
        "0.0.0.0",
    )


@pytest.mark.parametrize("flags", [["--port", "0"], ["--port", "x"], ["--probe-interval", "0"]])
def test_bad_flags_are_usage_errors(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(["dashboard", "--config", "f.toml", *flags])
    assert exited.value.code == 2 and flags[0] in capsys.readouterr().err


def test_the_command_serves_every_target_of_the_file_probed_once_before_serving(tmp_path: Path) -> None:
    path = tmp_path / "it.toml"
    path.write_text(FILE)
    seen: dict[str, Any] = {}

    def serve(app: Any, host: str, port: int) -> int:
        seen["where"] = (host, port)
        seen["status"] = TestClient(app).get("/api/status").json()
        seen["probed"] = {
            target: health.probe_reason
            for facade in app.state.dashboard.facades.values()
            for target, health in facade.pool.healths.items()
        }
        return 0

    args = parser().parse_args(["dashboard", "--config", str(path), "--probe-interval", "3600"])
    assert run_dashboard(args, serve=serve, environ={}) == 0
    assert seen["where"] == ("127.0.0.1", 8089)
    shown = [(f["name"], t["name"]) for f in seen["status"]["facades"] for t in f["targets"]]
    assert shown == [("storage", "mem:a"), ("storage", "mem:b"), ("dns", "mem:dns")]
    assert sorted(seen["probed"]) == ["mem:a", "mem:b", "mem:dns"]
    assert all(reason.startswith("probe ok") for reason in seen["probed"].values()), seen["probed"]


def test_only_facades_without_health_checks_are_probed(tmp_path: Path) -> None:
    path = tmp_path / "it.toml"
    path.write_text(FILE + "\n[storage.health_checks]\ninterval = 5\n")
    with load(path) as setup:
        probed = unchecked(setup)
        assert probed is not None and list(probed.facades) == ["dns"]
    with Prober(None, 1.0) as idle:  # every facade has checks: no thread, no probe
        assert idle.setup is None


@pytest.mark.parametrize(
    ("flags", "environ", "message"),
    [
        (["--controls"], {}, "--controls needs --token-env VAR"),
        (["--token-env", "DASH_TOKEN"], {"DASH_TOKEN": TOKEN}, "--token-env is given without --controls"),
        (["--controls", "--token-env", "DASH_TOKEN"], {}, "environment variable DASH_TOKEN is not set"),
        (["--controls", "--token-env", "DASH_TOKEN"], {"DASH_TOKEN": "short-secret"}, "token must be at least 16"),
    ],
)
def test_controls_flags_are_checked_before_anything_is_served(
    tmp_path: Path, flags: list[str], environ: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "it.toml"
    path.write_text(FILE)
    args = parser().parse_args(["dashboard", "--config", str(path), *flags])
    assert run_dashboard(args, serve=lambda *_: pytest.fail("served"), environ=environ) == 2
    err = capsys.readouterr().err
    assert message in err and all(value not in err for value in environ.values())


def test_with_controls_the_served_app_takes_the_token_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "it.toml"
    path.write_text(FILE)
    answers: list[int] = []

    def serve(app: Any, host: str, port: int) -> int:
        client = TestClient(app)
        body = {"target": "mem:b", "reason": "drill"}
        answers.append(client.post("/api/force-open", json=body).status_code)
        answers.append(
            client.post("/api/force-open", json=body, headers={"Authorization": f"Bearer {TOKEN}"}).status_code
        )
        return 0

    args = parser().parse_args(["dashboard", "--config", str(path), "--controls", "--token-env", "DASH_TOKEN"])
    assert run_dashboard(args, serve=serve, environ={"DASH_TOKEN": TOKEN}) == 0
    assert answers == [401, 200]


def test_a_bad_file_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "it.toml"
    path.write_text("[[storage.targets]]\nname = 'x'\nprovider = 'nope'\n")
    args = parser().parse_args(["dashboard", "--config", str(path)])
    assert run_dashboard(args, serve=lambda *_: pytest.fail("served"), environ={}) == 2
    assert "nope" in capsys.readouterr().err
