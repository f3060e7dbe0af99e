"""The repair backlog: what each target owes, and the events when one falls behind or catches up."""

from __future__ import annotations

from pathlib import Path

from failover import FailoverStorage
from failover.events import BacklogChanged, Event
from failover.replication.modes import Replication
from failover.replication.versioning import timestamp_of
from tests.unit.replicas import NAMES, Replicas, build, make_replicas


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def backlog(self) -> list[tuple[str, int]]:
        return [(e.target, e.rows) for e in self.events if isinstance(e, BacklogChanged)]


def listened(tmp_path: Path, mode: str) -> tuple[Replicas, Replication, Recorder]:
    replicas = make_replicas(tmp_path, mode)
    replicas.storage.close()
    recorder = Recorder()
    write_mode = replicated(replicas.storage).mode
    replicas.storage = build(replicas.chaos, replicas.clock, write_mode, listeners=[recorder])
    return replicas, replicated(replicas.storage), recorder


def replicated(storage: FailoverStorage) -> Replication:
    assert storage.replication is not None
    return storage.replication


def test_a_down_target_owing_writes_falls_behind_once_and_catches_up_once(tmp_path: Path) -> None:
    replicas, replication, recorder = listened(tmp_path, "quorum")
    replicas.chaos[2].down()
    for i in range(5):
        replicas.storage.put(f"k{i}", b"v")
    replication.maintenance_pass()
    replicas.storage.put("k5", b"v")
    replication.maintenance_pass()
    assert recorder.backlog() == [(NAMES[2], 5)], "announced once, with what it owed then"
    replicas.heal()
    replication.repairer.drain_all()
    replication.maintenance_pass()
    assert recorder.backlog() == [(NAMES[2], 5), (NAMES[2], 0)]


def test_writes_owed_for_a_moment_to_a_healthy_target_are_not_news(tmp_path: Path) -> None:
    replicas, replication, recorder = listened(tmp_path, "primary")
    for i in range(5):
        replicas.storage.put(f"k{i}", b"v")
        replication.maintenance_pass()
    assert recorder.backlog() == []


def test_backlog_counts_rows_bytes_and_the_oldest_write_per_target(tmp_path: Path) -> None:
    replicas, replication, _ = listened(tmp_path, "quorum")
    replicas.chaos[1].down()
    replicas.storage.put("a", b"12345")
    replicas.storage.put("b", b"123")
    backlog = replication.journal.backlog()
    assert set(backlog) == {NAMES[1]}
    owed = backlog[NAMES[1]]
    assert (owed.rows, owed.bytes, owed.quarantined) == (2, 8, 0)
    first, second = (replication.journal.entry(NAMES[1], key) for key in ("a", "b"))
    assert first is not None and second is not None
    assert owed.oldest == first.version and timestamp_of(first.version) < timestamp_of(second.version)
