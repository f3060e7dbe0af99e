"""What the SQLite journal fsyncs: intents and forgets synced, settles committed without
waiting for an fsync, and a settle lost to a power loss only costs a drain a `head`."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from failover import FailoverStorage, replication
from failover.replication.journal import Journal, Payload, Sync
from failover.replication.modes import Replication
from failover.replication.versioning import version_of
from tests.unit.replicas import NAMES, Replicas, build, make_replicas

V1 = "00000000000000000001-w"
V2 = "00000000000000000002-w"
SYNCHRONOUS = {"0": "off", "1": "normal", "2": "full", "3": "extra"}


class Commits:
    """The ``synchronous`` setting in force at each COMMIT on a journal's connection, read
    from the statements SQLite traces (a PRAGMA changes it; COMMIT is where it counts)."""

    def __init__(self, journal: Journal, sync: Sync) -> None:
        self.mode = sync
        self.modes: list[str] = []
        journal._db.set_trace_callback(self._statement)

    def _statement(self, sql: str) -> None:
        text = sql.strip().lower()
        if text.startswith("pragma synchronous="):
            self.mode = text.split("=", 1)[1]
        elif text == "commit":
            self.modes.append(self.mode)

    def take(self) -> list[str]:
        modes, self.modes = self.modes, []
        return modes


def synchronous(journal: Journal) -> str:
    return SYNCHRONOUS[str(journal._db.execute("PRAGMA synchronous").fetchone()[0])]


def journal_of(storage: FailoverStorage) -> Journal:
    rep = storage.replication
    assert isinstance(rep, Replication) and isinstance(rep.journal, Journal)
    return rep.journal


def test_an_intent_commits_synced_and_its_settle_does_not(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    commits = Commits(journal, "full")
    journal.record("k", V1, "put", ["a", "b"], payload=Payload(b"v", None, {}))
    assert commits.take() == ["full"]
    journal.settle("k", V1, ["a"], source="a")
    assert commits.take() == ["normal"]
    assert synchronous(journal) == "full"  # back for the next intent
    journal.record("k", V2, "put", ["a", "b"])
    assert commits.take() == ["full"]


def test_each_write_method_commits_at_the_mode_it_needs(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    prior = journal.record("k", V1, "put", ["a", "b"])
    (owed,) = journal.owed("a")
    commits = Commits(journal, "full")
    calls: list[tuple[str, Callable[[], object]]] = [
        ("normal", lambda: journal.note_failure(owed, "Unavailable: try later")),
        ("full", lambda: journal.quarantine(owed, "InvalidRequest: no")),
        ("full", lambda: journal.set_meta("marker:a", "1")),
        ("full", lambda: journal.prune_tombstones(V1)),
        ("full", lambda: journal.forget("k", V1, prior)),
    ]
    for expected, call in calls:
        call()
        assert commits.take() == [expected]
        assert synchronous(journal) == "full"


def test_a_replicated_write_pays_one_synced_commit(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, "all")
    commits = Commits(journal_of(r.storage), "full")
    r.storage.put("k", b"v")
    assert commits.take() == ["full", "normal"]  # the intent, then the settle of all three
    assert r.storage.pending() == {}


def test_a_settle_that_fails_leaves_the_connection_synced(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.record("k", V1, "put", ["a", "b"])
    # A trigger on this connection only: the settle's DELETE fails inside its transaction.
    journal._db.execute(
        "CREATE TEMP TRIGGER refuse BEFORE DELETE ON main.pending BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(sqlite3.Error, match="disk full"):
        journal.settle("k", V1, ["a"])
    assert synchronous(journal) == "full"
    assert journal.owing == {"k": {"a": V1, "b": V1}}  # rolled back, in memory too
    journal._db.execute("DROP TRIGGER refuse")
    commits = Commits(journal, "full")
    journal.record("k", V2, "put", ["a"])
    assert commits.take() == ["full"]
    journal.settle("k", V2, ["a", "b"])
    assert journal.owing == {}


def test_with_sync_normal_nothing_changes(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", sync="normal")
    commits = Commits(journal, "normal")
    journal.record("k", V1, "put", ["a"])
    journal.settle("k", V1, ["a"])
    assert commits.take() == ["normal", "normal"]
    assert synchronous(journal) == "normal"


# ---------------------------------------------------------------- a settle lost to a power loss


def lose_the_next_settle(r: Replicas, copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the journal's next settle, copy its files as they are: what a power loss
    leaves when it drops that settle (and nothing synced before it)."""
    journal = journal_of(r.storage)
    real = journal.settle
    taken: list[bool] = []

    def settle(*args: Any, **kwargs: Any) -> None:
        if not taken:
            for suffix in ("", "-wal"):
                source = Path(f"{r.journal_path}{suffix}")
                if source.exists():
                    shutil.copyfile(source, f"{copy}{suffix}")
            taken.append(True)
        real(*args, **kwargs)

    monkeypatch.setattr(journal, "settle", settle)


def restart_on(r: Replicas, copy: Path) -> FailoverStorage:
    storage = build(r.chaos, r.clock, replication.All(journal=copy, repair_workers=1))
    r.storage = storage
    r.outlast_inherited_writes()
    return storage


def count_puts(r: Replicas, monkeypatch: pytest.MonkeyPatch, key: str) -> list[str]:
    """The targets ``key`` is put to from now on (the library's own marker objects aside)."""
    puts: list[str] = []
    for name, store in zip(NAMES, r.stores, strict=True):
        real = store.put

        def put(written: str, *args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            if written == key:
                puts.append(_name)
            return _real(written, *args, **kwargs)

        monkeypatch.setattr(store, "put", put)
    return puts


def test_a_lost_settle_leaves_the_write_owed_and_a_drain_rewrites_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = make_replicas(tmp_path, "all")
    copy = tmp_path / "at-power-loss.sqlite"
    lose_the_next_settle(r, copy, monkeypatch)
    version = version_of(r.storage.put("k", b"v1"))
    storage = restart_on(r, copy)
    assert journal_of(storage).owing == {"k": dict.fromkeys(NAMES, version)}  # owed again, not lost
    puts = count_puts(r, monkeypatch, "k")
    report = storage.repair()
    assert (report.repaired, report.remaining) == (3, 0)
    assert puts == []  # every target held the owed version: crossed off after a head
    assert [s.get("k") for s in r.stores] == [b"v1"] * 3
    assert all(version_of(s.head("k")) == version for s in r.stores)
    storage.put("k", b"v1 again")  # and a put is seen where there is one
    assert sorted(puts) == list(NAMES)


def test_a_lost_settle_never_moves_a_target_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = make_replicas(tmp_path, "all")
    copy = tmp_path / "at-power-loss.sqlite"
    lose_the_next_settle(r, copy, monkeypatch)
    old = version_of(r.storage.put("k", b"v1"))
    # The targets moved on past what the surviving journal says they owe.
    new = version_of(r.storage.put("k", b"v2"))
    assert new > old
    storage = restart_on(r, copy)
    assert journal_of(storage).owing == {"k": dict.fromkeys(NAMES, old)}
    puts = count_puts(r, monkeypatch, "k")
    assert storage.repair().remaining == 0
    assert puts == []
    assert [s.get("k") for s in r.stores] == [b"v2"] * 3
    assert storage.get("k") == b"v2"
