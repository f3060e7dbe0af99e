"""The SQLite repair journal: bad input at construction, durability across reopen, bookkeeping."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from failover import FailoverStorage, Target, replication
from failover.errors import ConfigError
from failover.providers.memory import MemoryObjectStore
from failover.replication.journal import Journal, Payload

V1 = "00000000000000000001-w"
V2 = "00000000000000000002-w"
V3 = "00000000000000000003-w"


def test_a_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Journal(tmp_path / "nope" / "j.sqlite")


def test_a_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        Journal(tmp_path)


def test_a_place_nobody_can_write_is_a_config_error() -> None:
    # /proc refuses new files even to root, where a chmod'ed directory would not.
    with pytest.raises(ConfigError, match="cannot open journal"):
        Journal("/proc/failover-journal.sqlite")


def test_a_corrupt_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(ConfigError, match="cannot be used"):
        Journal(path)


def test_a_truncated_journal_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    for i in range(200):
        journal.record(f"k{i}", V1, "put", ["a"], payload=Payload(b"x" * 500, None, {}))
    journal.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] + b"\x00garbage" * 64)
    for leftover in tmp_path.glob("j.sqlite-*"):
        leftover.unlink()
    with pytest.raises(ConfigError):
        Journal(path)


def test_another_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (name TEXT)")
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="not a failover journal"):
        Journal(path)


def test_bad_sync_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sync"):
        Journal(tmp_path / "j.sqlite", sync="sometimes")  # type: ignore[arg-type]


def test_the_facade_reports_a_bad_journal_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        FailoverStorage(
            [Target("m:a", MemoryObjectStore())], writes=replication.All(journal=tmp_path / "no" / "j.sqlite")
        )


def test_the_journal_runs_in_wal_mode(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    assert journal._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rows_survive_a_reopen_without_close(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    journal.record("k", V1, "put", ["a", "b"], payload=Payload(b"data", "text/plain", {"x": "y"}))
    journal.settle("k", V1, ["a"], source="a")
    # No close: the committed transaction is what a crashed process leaves behind.
    again = Journal(path)
    assert again.owing == {"k": {"b": V1}}
    (owed,) = again.owed("b")
    assert (owed.key, owed.version, owed.op, owed.source) == ("k", V1, "put", "a")
    assert again.payload("k", V1) == Payload(b"data", "text/plain", {"x": "y"})
    assert again.last_version() == V1


def test_a_row_only_moves_forward(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.record("k", V2, "put", ["a"])
    journal.record("k", V1, "put", ["a"])  # a late, older intent
    assert journal.entry("a", "k").version == V2  # type: ignore[union-attr]
    assert journal.owing == {"k": {"a": V2}}


def test_settling_an_old_version_keeps_the_newer_debt(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.record("k", V2, "put", ["a"])
    journal.settle("k", V1, ["a"])
    assert journal.owing == {"k": {"a": V2}}
    journal.settle("k", V3, ["a"])  # a newer version landed: the older debt is void
    assert journal.owing == {} and len(journal) == 0


def test_payloads_are_collected_once_nobody_needs_them(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.record("k", V1, "put", ["a", "b"], payload=Payload(b"1", None, {}))
    journal.record("k", V2, "put", ["a", "b"], payload=Payload(b"2", None, {}))
    journal.settle("k", V2, ["a"])
    assert journal.payload("k", V1) is None  # superseded everywhere
    assert journal.payload("k", V2) is not None  # b still needs it
    journal.settle("k", V2, ["b"])
    assert journal.payload("k", V2) is None


def test_forget_restores_the_older_debt_and_tombstone(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.record("k", V1, "delete", ["b"])
    prior = journal.record("k", V2, "put", ["a", "b"], payload=Payload(b"2", None, {}))
    assert journal.tombstone("k") is None  # a newer put supersedes the delete
    journal.forget("k", V2, prior)
    assert journal.owing == {"k": {"b": V1}}
    assert journal.entry("b", "k").op == "delete"  # type: ignore[union-attr]
    assert journal.tombstone("k") == V1
    assert journal.payload("k", V2) is None


def test_tombstones_are_kept_after_draining_and_can_be_pruned(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.record("gone/1", V1, "delete", ["a"])
    journal.record("gone/2", V3, "delete", ["a"])
    journal.settle("gone/1", V1, ["a"])
    journal.settle("gone/2", V3, ["a"])
    assert journal.tombstones("gone/") == {"gone/1": V1, "gone/2": V3}
    assert journal.prune_tombstones(V2) == 1
    assert journal.tombstones() == {"gone/2": V3}


def test_owed_lists_oldest_first_in_batches(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    for i in range(5):
        journal.record(f"k{i}", V1, "put", ["a"])
    first = journal.owed("a", limit=2)
    rest = journal.owed("a", after=first[-1].seq)
    assert [o.key for o in first + rest] == [f"k{i}" for i in range(5)]
    assert journal.counts() == {"a": 5}
