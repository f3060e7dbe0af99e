"""Fencing on real servers: Redis hands out the tokens, BIND and Route 53 (moto) refuse a
stale leader.  The main test pauses a controller process with SIGSTOP right before its
write, past its lease; another controller takes over and publishes; SIGCONT: the paused
controller's write is refused and the record keeps the new leader's value.

Run as ``python -m tests.integration.test_fencing CONFIG`` this module is that paused
controller (see `_child`): it prints what it does as JSON lines and, before each write,
waits for a ``go`` line, so the test can stop it exactly there.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from failover import HealthConfig, Target
from failover.capabilities import Record
from failover.controllers.dns_controller import DnsController, Endpoint, Published
from failover.errors import Fenced, InvalidRequest
from failover.fleet.leader import fence_name, fence_token
from failover.fleet.redis_store import RedisLeaderLock, connect
from failover.health.probes import HttpProbe
from failover.testing.redis import RedisServer
from tests.integration import bind as bind_harness
from tests.integration import dns_factories, servers
from tests.integration.http_endpoint import HttpEndpoint

pytestmark = pytest.mark.integration

LEASE = 1.0  # seconds: the leader lock's ttl, short so that a takeover comes quickly
PRIMARY, SECONDARY = "127.0.0.51", "127.0.0.52"
ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- tokens and zones, directly


def test_redis_tokens_grow_with_each_acquisition_and_renewal_keeps_them(redis_server: RedisServer) -> None:
    client = redis_server.client()
    name = servers.unique("fence-lock")
    a, b = RedisLeaderLock(client, name, ttl=0.2), RedisLeaderLock(client, name, ttl=0.2)
    assert a.token is None
    assert a.try_acquire() and a.token == 1
    assert a.try_acquire() and a.token == 1, "renewal keeps the token"
    assert not b.try_acquire() and b.token is None
    time.sleep(0.3)  # a's lease runs out
    assert b.try_acquire() and b.token == 2
    assert not a.try_acquire() and a.token is None
    assert client.ttl(b.fence_key) == -1, "the counter never expires"
    b.advance(40)
    b.release()
    assert a.try_acquire() and a.token == 41


def test_bind_itself_refuses_an_update_whose_fence_moved(request: pytest.FixtureRequest) -> None:
    zone = dns_factories.rfc2136_zone_factory(request)
    name = f"api.{zone.zone}"
    zone.upsert_fenced(Record(name, "A", 60, (PRIMARY,)), 5)
    assert zone.get_record(fence_name(name), "TXT").values == ("5",)
    # The writer claims to have seen its own token: only BIND's prerequisite can refuse it.
    with pytest.raises(Fenced) as refused:
        zone.upsert_fenced(Record(name, "A", 60, (SECONDARY,)), 4, seen=4)
    assert (refused.value.token, refused.value.current) == (4, 5)
    assert zone.get_record(name, "A").values == (PRIMARY,)
    # A newer writer that saw no fence: refused by BIND too, then sent again expecting 5.
    zone.upsert_fenced(Record(name, "A", 60, (SECONDARY,)), 6, seen=0)
    assert zone.get_record(name, "A").values == (SECONDARY,)
    assert zone.get_record(fence_name(name), "TXT").values == ("6",)
    zone.upsert_record(Record(name, "A", 60, (PRIMARY,)))  # unfenced calls still work
    assert zone.get_record(name, "A").values == (PRIMARY,)


def test_bind_fenced_cname_keeps_the_cname_rules(request: pytest.FixtureRequest) -> None:
    zone = dns_factories.rfc2136_zone_factory(request)
    alias, taken = f"www.{zone.zone}", f"mail.{zone.zone}"
    zone.upsert_fenced(Record(alias, "CNAME", 60, (f"api.{zone.zone}",)), 1)
    zone.upsert_fenced(Record(alias, "CNAME", 60, (f"web.{zone.zone}",)), 1)
    assert zone.get_record(alias, "CNAME").values == (f"web.{zone.zone}",)
    zone.upsert_record(Record(taken, "A", 60, (PRIMARY,)))
    with pytest.raises(InvalidRequest, match="a CNAME cannot join them"):
        zone.upsert_fenced(Record(taken, "CNAME", 60, (alias,)), 1)


def test_route53_fenced_upserts_on_moto(request: pytest.FixtureRequest) -> None:
    zone = dns_factories.route53_zone_factory(request)
    name = f"api.{zone.zone}"
    zone.upsert_fenced(Record(name, "A", 60, (PRIMARY,)), 5)
    zone.upsert_fenced(Record(name, "A", 60, (SECONDARY,)), 5)  # the same leader again
    zone.upsert_fenced(Record(name, "A", 60, (PRIMARY,)), 5)  # and back: each fence CREATE is new
    with pytest.raises(Fenced):
        zone.upsert_fenced(Record(name, "A", 60, (SECONDARY,)), 4)
    assert zone.get_record(name, "A").values == (PRIMARY,)
    assert fence_token(zone.get_record(fence_name(name), "TXT")) == 5


# ---------------------------------------------------------------- a paused leader


class Child:
    """The controller process: its JSON lines on a queue, its stdin for ``go`` lines."""

    def __init__(self, config: dict[str, Any], secret: str) -> None:
        env = {**os.environ, "FENCING_TSIG_SECRET": secret}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.test_fencing", json.dumps(config)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []  # every line taken from the queue, in order
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def expect(self, event: str, timeout: float, meanwhile: Callable[[], object] = lambda: None) -> dict[str, Any]:
        """The next line of ``event``, calling ``meanwhile`` between waits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.05)
            except queue.Empty:
                meanwhile()
                continue
            self.seen.append(line)
            if line["event"] == event:
                return line
        raise AssertionError(f"no {event!r} from the controller within {timeout}s; stderr: {self.stderr()}")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def stopped(self) -> bool:
        # Field 3 of /proc/PID/stat is the state: T once SIGSTOP has taken effect.
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "T"

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()[-2000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # SIGKILL ends a stopped process too
        self.proc.wait(timeout=10)


@pytest.fixture
def endpoints() -> Iterator[list[HttpEndpoint]]:
    started = [HttpEndpoint(), HttpEndpoint()]
    yield started
    for endpoint in started:
        endpoint.stop()


def _zone_and_settings(kind: str, request: pytest.FixtureRequest) -> tuple[Any, dict[str, Any], str]:
    """The zone for the test, what the child needs to build the same zone, and a secret."""
    if kind == "bind":
        server = bind_harness.alive(request.getfixturevalue("bind"))
        server.clear_zone()
        zone = dns_factories.rfc2136_zone(server)
        settings = {"server": server.host, "port": server.port, "key": server.key_name, "zone": server.zone}
        return zone, settings, server.tsig_secret
    zone = dns_factories.route53_zone_factory(request)
    settings = {"endpoint": zone.endpoint_url, "zone": zone.zone, "hosted_zone_id": zone.hosted_zone_id}
    return zone, settings, ""


def controller(name: str, endpoints: list[tuple[str, str, int]], zone: Any, kind: str, lock: Any) -> DnsController:
    return DnsController(
        name,
        "A",
        [Endpoint(value, HttpProbe(url), priority) for value, url, priority in endpoints],
        [Target(kind, zone)],
        interval=0.1,
        timeout=0.1,
        jitter=0.0,
        health=HealthConfig(rise=1, fall=1),
        failback_after=30.0,
        min_ttl=0,
        ttl=1,
        lock=lock,
    )


@pytest.mark.parametrize("kind", ["bind", "route53"])
def test_a_leader_stopped_past_its_lease_cannot_overwrite_its_successor(
    kind: str, request: pytest.FixtureRequest, redis_server: RedisServer, endpoints: list[HttpEndpoint]
) -> None:
    zone, settings, secret = _zone_and_settings(kind, request)
    name = f"api.{zone.zone}"
    lock_name = servers.unique("fence-dns")
    probes = [(PRIMARY, endpoints[0].url, 0), (SECONDARY, endpoints[1].url, 1)]
    config = {"kind": kind, "zone": settings, "redis": redis_server.url, "lock": lock_name}
    child = Child({**config, "name": name, "endpoints": probes}, secret)
    try:
        first = child.expect("writing", 15.0)  # the child leads and publishes the primary
        assert first["values"] == [PRIMARY]
        child.go()
        assert child.expect("pass", 5.0)["written"] == [kind]

        endpoints[0].stop()  # the child moves the record to the secondary ...
        assert child.expect("writing", 5.0)["values"] == [SECONDARY]
        child.proc.send_signal(signal.SIGSTOP)  # ... but stops right before the write
        deadline = time.monotonic() + 5.0
        while not child.stopped():
            assert time.monotonic() < deadline, "SIGSTOP did not take effect"
            time.sleep(0.01)
        endpoints[0].start()

        successor = controller(name, probes, zone, kind, RedisLeaderLock(redis_server.client(), lock_name, ttl=LEASE))
        report = _until(successor, lambda r: bool(r.written), 10.0)  # once the child's lease has run out
        assert zone.get_record(name, "A").values == (PRIMARY,)
        token = fence_token(zone.get_record(fence_name(name), "TXT"))
        assert token == first["token"] + 1 and report.leader

        child.proc.send_signal(signal.SIGCONT)
        child.go()  # the stale write goes out now, with the child's old token
        stale = child.expect("pass", 5.0, meanwhile=successor.run_once)
        assert stale["fenced"], stale
        assert stale["failed"][kind].startswith("fenced"), stale
        assert zone.get_record(name, "A").values == (PRIMARY,), "the record keeps the new leader's value"
        assert fence_token(zone.get_record(fence_name(name), "TXT")) == token
        later = child.expect("pass", 5.0, meanwhile=successor.run_once)
        assert not later["leader"], "the fenced controller stepped down; the successor holds the lock"
        logged = [line["message"] for line in child.seen if line["event"] == "log"]
        assert len([m for m in logged if "stepping down" in m]) == 1, logged
    finally:
        child.close()


def _until(control: DnsController, done: Callable[[Published], bool], timeout: float) -> Published:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = control.run_once()
        if done(report):
            return report
        time.sleep(0.05)
    raise AssertionError(f"the successor did not publish within {timeout}s")


# ---------------------------------------------------------------- the child process


class _Gate:
    """The child's zone: before each fenced write it prints the write and waits for ``go``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.zone = inner.zone

    def list_records(self) -> Iterator[Record]:
        return self.inner.list_records()  # type: ignore[no-any-return]

    def get_record(self, name: str, type: str) -> Record:
        return self.inner.get_record(name, type)  # type: ignore[no-any-return]

    def upsert_record(self, record: Record) -> Record:
        return self.inner.upsert_record(record)  # type: ignore[no-any-return]

    def delete_record(self, name: str, type: str) -> None:
        self.inner.delete_record(name, type)

    def upsert_fenced(self, record: Record, token: int, *, seen: int | None = None) -> Record:
        _say("writing", token=token, values=list(record.values))
        if sys.stdin.readline().strip() != "go":
            sys.exit(0)  # the test is over
        return self.inner.upsert_fenced(record, token, seen=seen)  # type: ignore[no-any-return]


def _say(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def _child_zone(kind: str, settings: dict[str, Any]) -> Any:
    if kind == "bind":
        from failover.providers.dns import Rfc2136Zone

        return Rfc2136Zone(
            settings["zone"],
            server=settings["server"],
            port=settings["port"],
            tsig_key_name=settings["key"],
            tsig_secret=os.environ["FENCING_TSIG_SECRET"],
        )
    import boto3

    from failover.providers.aws.route53 import Route53Zone

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return Route53Zone(
        settings["zone"], hosted_zone_id=settings["hosted_zone_id"], endpoint_url=settings["endpoint"], session=session
    )


def _child(config: dict[str, Any]) -> None:
    import logging

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            _say("log", message=record.getMessage())

    logging.getLogger("failover.controllers.dns_controller").addHandler(Handler(logging.WARNING))
    lock = RedisLeaderLock(connect(config["redis"]), config["lock"], ttl=LEASE)
    zone = _Gate(_child_zone(config["kind"], config["zone"]))
    probes = [tuple(e) for e in config["endpoints"]]
    control = controller(config["name"], probes, zone, config["kind"], lock)
    while True:
        report = control.run_once()
        if report.written or report.failed or not report.leader:
            _say("pass", leader=report.leader, written=list(report.written), failed=report.failed, fenced=report.fenced)
        time.sleep(0.05)


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
