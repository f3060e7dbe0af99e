"""Fencing tokens: the file lock's counter, the memory zone's fenced upsert, Route 53's
compare-and-swap batch (real botocore, stubbed answers), and a DnsController that is
fenced when a newer leader wrote while it was paused.  Fake clocks only, no sleeps."""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from failover import FakeClock, HealthConfig, Target
from failover.capabilities import Record
from failover.controllers.dns_controller import DnsController, Endpoint, Published
from failover.errors import ConfigError, Fenced, InvalidInput, InvalidRequest, NotFound, PreconditionFailed
from failover.fleet.leader import FencedDnsZone, FencingLock, FileLeaderLock, fence_name
from failover.providers.aws.route53 import Route53Zone
from failover.providers.memory import MemoryDnsZone

NAME = "api.example.com."
FENCE = "_failover-fence.api.example.com."
PRIMARY, SECONDARY = "192.0.2.1", "192.0.2.2"


# ---------------------------------------------------------------- file lock


def test_a_file_lock_hands_out_a_larger_token_on_each_acquisition(tmp_path: Path) -> None:
    path = tmp_path / "leader.lock"
    a, b = FileLeaderLock(path), FileLeaderLock(path)
    assert isinstance(a, FencingLock)
    assert a.token is None, "no token before the lock is held"
    assert a.try_acquire() and a.token == 1
    assert a.try_acquire() and a.token == 1, "renewing keeps the token"
    assert not b.try_acquire() and b.token is None
    a.release()
    assert a.token is None
    assert b.try_acquire() and b.token == 2
    b.release()
    assert a.try_acquire() and a.token == 3
    assert (tmp_path / "leader.lock.fence").read_text() == "3\n", "the counter lives beside the lock"


def test_advance_makes_the_next_token_larger_and_never_lowers_it(tmp_path: Path) -> None:
    lock = FileLeaderLock(tmp_path / "leader.lock")
    lock.advance(41)
    assert lock.try_acquire() and lock.token == 42
    lock.release()
    lock.advance(5)  # behind the counter: changes nothing
    assert lock.try_acquire() and lock.token == 43
    with pytest.raises(InvalidInput, match="token"):
        lock.advance(0)


def test_a_file_lock_whose_counter_cannot_be_written_fails_at_construction(tmp_path: Path) -> None:
    path = tmp_path / "leader.lock"
    os.mkdir(tmp_path / "leader.lock.fence")  # a directory where the counter file should be
    with pytest.raises(ConfigError, match=r"leader\.lock\.fence"):
        FileLeaderLock(path)


# ---------------------------------------------------------------- memory zone


def record(*values: str) -> Record:
    return Record(NAME, "A", 60, values)


def test_a_fenced_upsert_writes_the_record_and_its_fence_together() -> None:
    zone = MemoryDnsZone("example.com.")
    assert isinstance(zone, FencedDnsZone)
    assert zone.upsert_fenced(record(PRIMARY), 3) == record(PRIMARY)
    assert zone.get_record(fence_name(NAME), "TXT").values == ("3",)
    zone.upsert_fenced(record(SECONDARY), 3)  # the same leader again
    zone.upsert_fenced(record(PRIMARY), 4)  # a newer leader
    assert zone.get_record(NAME, "A").values == (PRIMARY,)
    assert zone.get_record(FENCE, "TXT").values == ("4",)


def test_a_fenced_upsert_with_a_smaller_token_is_refused_and_changes_nothing() -> None:
    zone = MemoryDnsZone("example.com.")
    zone.upsert_fenced(record(PRIMARY), 7)
    with pytest.raises(Fenced) as refused:
        zone.upsert_fenced(record(SECONDARY), 6, seen=6)
    error = refused.value
    assert (error.token, error.current) == (6, 7)
    assert isinstance(error, PreconditionFailed) and error.status == "permanent"
    assert "7" in error.message and "6" in error.message
    assert zone.get_record(NAME, "A").values == (PRIMARY,)
    assert zone.get_record(FENCE, "TXT").values == ("7",)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.token, copy.current) == (Fenced, 6, 7)


def test_relative_names_get_their_fence_under_the_absolute_name() -> None:
    zone = MemoryDnsZone("example.com.")
    zone.upsert_fenced(Record("@", "A", 60, (PRIMARY,)), 1)
    assert zone.get_record("_failover-fence.example.com.", "TXT").values == ("1",)


def test_a_plain_upsert_still_works_beside_a_fence() -> None:
    zone = MemoryDnsZone("example.com.")
    zone.upsert_fenced(record(PRIMARY), 9)
    zone.upsert_record(record(SECONDARY))  # unfenced callers are not refused
    assert zone.get_record(NAME, "A").values == (SECONDARY,)


@pytest.mark.parametrize(("token", "seen"), [(0, None), (-1, None), (True, None), ("3", None), (3, -1), (3, True)])
def test_bad_tokens_are_refused_before_anything_is_written(token: Any, seen: Any) -> None:
    zone = MemoryDnsZone("example.com.")
    with pytest.raises(InvalidInput, match=r"token|seen"):
        zone.upsert_fenced(record(PRIMARY), token, seen=seen)
    assert list(zone.list_records()) == []


def test_a_fence_of_unknown_meaning_is_never_overwritten() -> None:
    zone = MemoryDnsZone("example.com.")
    zone.upsert_record(Record(FENCE, "TXT", 60, ("someone else's text",)))
    with pytest.raises(InvalidRequest, match="not a fencing token"):
        zone.upsert_fenced(record(PRIMARY), 5)
    with pytest.raises(NotFound):
        zone.get_record(NAME, "A")


# ---------------------------------------------------------------- Route 53's compare-and-swap


def _txt_set(name: str, value: str) -> dict[str, Any]:
    return {"Name": name, "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": f'"{value}"'}]}


@pytest.fixture
def route53() -> Iterator[tuple[Route53Zone, Stubber]]:
    client = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("route53")
    with Stubber(client) as stubber:
        yield Route53Zone("example.com.", hosted_zone_id="Z1", client=client), stubber
        stubber.assert_no_pending_responses()


def _answer_listing(stubber: Stubber, name: str, rrsets: list[dict[str, Any]]) -> None:
    stubber.add_response(
        "list_resource_record_sets",
        {"ResourceRecordSets": rrsets, "IsTruncated": False, "MaxItems": "1"},
        {"HostedZoneId": "Z1", "StartRecordName": name, "StartRecordType": ANY, "MaxItems": "1"},
    )


def test_route53_swaps_the_fence_and_the_record_in_one_batch(route53: tuple[Route53Zone, Stubber]) -> None:
    zone, stubber = route53
    sent: list[dict[str, Any]] = []
    zone._client.meta.events.register(
        "provide-client-params.route53.ChangeResourceRecordSets", lambda params, **_: sent.append(params)
    )
    _answer_listing(stubber, NAME, [])
    _answer_listing(stubber, FENCE, [_txt_set(FENCE, "4 2026-01-01T00:00:00.000000+00:00")])
    stubber.add_response(
        "change_resource_record_sets",
        {"ChangeInfo": {"Id": "C1", "Status": "PENDING", "SubmittedAt": "2026-01-01T00:00:00Z"}},
    )
    zone.upsert_fenced(record(PRIMARY), 5)
    changes = sent[0]["ChangeBatch"]["Changes"]
    assert [(c["Action"], c["ResourceRecordSet"]["Name"]) for c in changes] == [
        ("DELETE", FENCE),
        ("CREATE", FENCE),
        ("UPSERT", NAME),
    ]
    assert changes[0]["ResourceRecordSet"] == _txt_set(FENCE, "4 2026-01-01T00:00:00.000000+00:00"), "as read"
    assert changes[1]["ResourceRecordSet"]["ResourceRecords"][0]["Value"].startswith('"5 ')


def test_route53_refusing_the_batch_after_a_newer_leader_wrote_is_fenced(
    route53: tuple[Route53Zone, Stubber],
) -> None:
    zone, stubber = route53
    _answer_listing(stubber, NAME, [])
    _answer_listing(stubber, FENCE, [_txt_set(FENCE, "4")])
    stubber.add_client_error(
        "change_resource_record_sets",
        service_error_code="InvalidChangeBatch",
        service_message="Tried to delete resource record set but the values provided do not match the current values",
        http_status_code=400,
    )
    _answer_listing(stubber, FENCE, [_txt_set(FENCE, "6")])  # written between our read and our batch
    with pytest.raises(Fenced) as refused:
        zone.upsert_fenced(record(PRIMARY), 5)
    assert (refused.value.token, refused.value.current) == (5, 6)


def test_route53_refusing_the_record_itself_is_not_taken_for_a_fence(route53: tuple[Route53Zone, Stubber]) -> None:
    zone, stubber = route53
    _answer_listing(stubber, NAME, [])
    _answer_listing(stubber, FENCE, [])
    stubber.add_client_error("change_resource_record_sets", service_error_code="InvalidChangeBatch")
    _answer_listing(stubber, FENCE, [])  # the fence did not move: the error is the record's
    with pytest.raises(InvalidRequest):
        zone.upsert_fenced(record(PRIMARY), 5)


# ---------------------------------------------------------------- the controller


@dataclass
class Lease:
    """A lease with a counter beside it, as Redis holds them, on a fake clock."""

    clock: FakeClock
    ttl: float = 5.0
    holder: object | None = None
    until: float = 0.0
    counter: int = 0


@dataclass(eq=False)
class LeaseLock:
    """A `FencingLock` on a shared `Lease`: renewed by its holder, taken over once expired."""

    lease: Lease
    _token: int | None = None
    released: int = 0

    def try_acquire(self) -> bool:
        lease, now = self.lease, self.lease.clock.monotonic()
        if lease.holder is self and now < lease.until:
            lease.until = now + lease.ttl
            return True
        self._token = None
        if lease.holder is not None and now < lease.until:
            return False
        lease.holder, lease.until, lease.counter = self, now + lease.ttl, lease.counter + 1
        self._token = lease.counter
        return True

    def release(self) -> None:
        self.released += 1
        if self.lease.holder is self:
            self.lease.holder = None
        self._token = None

    @property
    def token(self) -> int | None:
        return self._token

    def advance(self, token: int) -> None:
        self.lease.counter = max(self.lease.counter, token)


@dataclass
class Switch:
    up: bool = True

    def check(self, timeout: float) -> None:
        if not self.up:
            raise ConnectionRefusedError("endpoint down")


@dataclass
class PausedBeforeWrite:
    """The shared zone as one controller sees it: ``pause`` runs (once) right before that
    controller's next fenced write reaches the zone, as if its process stopped there."""

    inner: MemoryDnsZone
    pause: Callable[[], object] | None = None
    writes: list[int] = field(default_factory=list)

    @property
    def zone(self) -> str:
        return self.inner.zone

    def list_records(self) -> Iterator[Record]:
        return self.inner.list_records()

    def get_record(self, name: str, type: str) -> Record:
        return self.inner.get_record(name, type)

    def upsert_record(self, record: Record) -> Record:
        return self.inner.upsert_record(record)

    def delete_record(self, name: str, type: str) -> None:
        self.inner.delete_record(name, type)

    def upsert_fenced(self, record: Record, token: int, *, seen: int | None = None) -> Record:
        pause, self.pause = self.pause, None
        if pause is not None:
            pause()
        self.writes.append(token)
        return self.inner.upsert_fenced(record, token, seen=seen)


def controller(zone: Any, lock: Any, clock: FakeClock, switches: dict[str, Switch]) -> DnsController:
    return DnsController(
        NAME,
        "A",
        [Endpoint(PRIMARY, switches[PRIMARY], 0), Endpoint(SECONDARY, switches[SECONDARY], 1)],
        [Target("dns:shared", zone)],
        interval=1.0,
        timeout=0.5,
        jitter=0.0,
        health=HealthConfig(rise=1, fall=1),
        failback_after=30.0,
        clock=clock,
        lock=lock,
    )


@dataclass
class Fleet:
    clock: FakeClock
    zone: MemoryDnsZone
    views: tuple[PausedBeforeWrite, PausedBeforeWrite]
    locks: tuple[LeaseLock, LeaseLock]
    switches: tuple[dict[str, Switch], dict[str, Switch]]
    controllers: tuple[DnsController, DnsController]

    def value(self) -> tuple[str, ...]:
        return self.zone.get_record(NAME, "A").values

    def fence(self) -> tuple[str, ...]:
        return self.zone.get_record(FENCE, "TXT").values


def fleet() -> Fleet:
    clock = FakeClock()
    zone = MemoryDnsZone("example.com.")
    lease = Lease(clock)
    views = (PausedBeforeWrite(zone), PausedBeforeWrite(zone))
    locks = (LeaseLock(lease), LeaseLock(lease))
    switches = ({v: Switch() for v in (PRIMARY, SECONDARY)}, {v: Switch() for v in (PRIMARY, SECONDARY)})
    built = tuple(controller(views[i], locks[i], clock, switches[i]) for i in range(2))
    return Fleet(clock, zone, views, locks, switches, built)  # type: ignore[arg-type]


def test_a_leader_paused_past_its_lease_is_fenced_and_steps_down_once(caplog: pytest.LogCaptureFixture) -> None:
    rig = fleet()
    a, b = rig.controllers
    assert a.run_once().written == ("dns:shared",)
    assert b.run_once().leader is False
    assert rig.value() == (PRIMARY,) and rig.fence() == ("1",)

    rig.switches[0][PRIMARY].up = False  # a alone sees the primary fail: it will write the secondary

    def paused() -> None:  # a stops right before its write; its lease runs out; b takes over
        rig.clock.advance(10.0)
        assert b.run_once().written == ("dns:shared",), "b writes once to fence a off"

    rig.views[0].pause = paused
    rig.clock.advance(1.0)
    with caplog.at_level(logging.INFO, logger="failover.controllers.dns_controller"):
        report = a.run_once()
        for _ in range(3):
            rig.clock.advance(1.0)
            assert a.run_once().leader is False, "b holds the lock: a stays a standby"
            assert b.run_once().leader
    assert report.fenced and "fenced" in report.failed["dns:shared"]
    assert rig.value() == (PRIMARY,), "the record keeps the new leader's value"
    assert rig.fence() == ("2",)
    assert rig.views[0].writes == [1, 1] and rig.views[1].writes == [2]
    assert rig.locks[0].released == 1
    fenced_lines = [r for r in caplog.records if "fenced" in r.getMessage()]
    assert len(fenced_lines) == 1 and "token 2" in fenced_lines[0].getMessage()
    assert not [r for r in caplog.records if "standby" in r.getMessage()], "stepping down is logged once"


def test_a_new_leader_writes_once_even_when_the_record_is_right() -> None:
    rig = fleet()
    a, b = rig.controllers
    a.run_once()
    b.run_once()
    a.stop()  # releases the lock
    rig.clock.advance(1.0)
    assert b.run_once().written == ("dns:shared",)
    for _ in range(5):
        rig.clock.advance(1.0)
        assert b.run_once().written == ()
    assert rig.views[1].writes == [2] and rig.fence() == ("2",)


def test_a_lock_that_lost_its_counter_catches_up_with_the_zones_fence() -> None:
    rig = fleet()
    rig.zone.upsert_fenced(record(SECONDARY), 7)  # written before the lock's store lost its data
    a = rig.controllers[0]
    first: Published = a.run_once()
    assert first.fenced, "token 1 < 7: refused"
    second = a.run_once()
    assert second.leader and second.written == ("dns:shared",)
    assert rig.locks[0].token == 8 and rig.fence() == ("8",)
    assert rig.value() == (SECONDARY,), "a healthy endpoint the record holds is kept, as on any start-up"


def test_without_a_fencing_lock_nothing_but_the_record_is_written() -> None:
    clock = FakeClock()
    zone = MemoryDnsZone("example.com.")
    switches = {v: Switch() for v in (PRIMARY, SECONDARY)}
    controller(zone, None, clock, switches).run_once()
    assert [r.name for r in zone.list_records()] == [NAME]


class Unfenced:
    """A zone that predates fencing: only the `DnsZone` methods."""

    def __init__(self) -> None:
        self.inner = MemoryDnsZone("example.com.")
        self.zone = self.inner.zone

    def list_records(self) -> Iterator[Record]:
        return self.inner.list_records()

    def get_record(self, name: str, type: str) -> Record:
        return self.inner.get_record(name, type)

    def upsert_record(self, record: Record) -> Record:
        return self.inner.upsert_record(record)

    def delete_record(self, name: str, type: str) -> None:
        self.inner.delete_record(name, type)


def test_a_zone_that_cannot_fence_is_written_plainly_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    zone = Unfenced()
    switches = {v: Switch() for v in (PRIMARY, SECONDARY)}
    with caplog.at_level(logging.WARNING, logger="failover.controllers.dns_controller"):
        built = controller(zone, FileLeaderLock(tmp_path / "lock"), FakeClock(), switches)
    assert "dns:shared cannot fence writes" in caplog.text
    assert built.run_once().written == ("dns:shared",)
    assert [r.name for r in zone.list_records()] == [NAME]


@dataclass(eq=False)
class LetGoAfterAcquiring(LeaseLock):
    """A lock released by another thread right after ``try_acquire`` said it is held."""

    let_go: bool = True

    def try_acquire(self) -> bool:
        held = super().try_acquire()
        if held and self.let_go:
            self.let_go = False
            self.release()  # a concurrent stop(): the token is gone before the pass writes
        return held


class CountingZone(PausedBeforeWrite):
    """The memory zone, counting its plain (unfenced) upserts."""

    plain: int = 0

    def upsert_record(self, record: Record) -> Record:
        self.plain += 1
        return super().upsert_record(record)


def test_a_lock_let_go_before_the_write_writes_nothing_and_stands_by() -> None:
    clock = FakeClock()
    zone = CountingZone(MemoryDnsZone("example.com."))
    lock = LetGoAfterAcquiring(Lease(clock))
    built = controller(zone, lock, clock, {v: Switch() for v in (PRIMARY, SECONDARY)})
    report = built.run_once()
    assert report.leader is False and report.written == ()
    assert zone.plain == 0 and zone.writes == [] and list(zone.inner.list_records()) == []
    clock.advance(1.0)
    again = built.run_once()  # the lock held throughout this pass: a fenced write
    assert again.leader and again.written == ("dns:shared",)
    assert zone.plain == 0 and zone.writes == [2] and zone.inner.get_record(FENCE, "TXT").values == ("2",)
