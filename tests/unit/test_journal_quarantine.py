"""Quarantined journal rows: kept owed, out of drains, replaced by a newer write; and a
journal written before quarantine existed gains the column when opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from failover.replication.journal import Journal

V1 = "00000000000000000001-w"
V2 = "00000000000000000002-w"

_OLD_PENDING = """
CREATE TABLE pending (
    target TEXT NOT NULL, key TEXT NOT NULL, version TEXT NOT NULL, op TEXT NOT NULL,
    source TEXT, seq INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    PRIMARY KEY (target, key)) WITHOUT ROWID
"""


def test_a_quarantined_row_stays_owed_but_leaves_drains_until_a_newer_write(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.record("k", V1, "put", ["a", "b"])
    [row] = journal.owed("b")
    journal.quarantine(row, "invalid_request: 400")
    assert journal.owed("b") == [] and journal.entry("b", "k") is None
    assert journal.counts() == {"a": 1, "b": 1} and journal.owing["k"] == {"a": V1, "b": V1}
    assert journal.quarantined() == 1
    [failed] = journal.failed()
    assert (failed.target, failed.key, failed.version, failed.error) == ("b", "k", V1, "invalid_request: 400")
    # a failed newer write puts the quarantined row back as it was
    prior = journal.record("k", V2, "put", ["a", "b"])
    journal.forget("k", V2, prior)
    assert journal.quarantined() == 1
    journal.record("k", V2, "put", ["a", "b"])
    assert journal.quarantined() == 0 and [o.version for o in journal.owed("b")] == [V2]


def test_a_journal_from_before_quarantine_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    with db:
        db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
        db.execute("INSERT INTO meta VALUES ('schema', '1')")
        db.execute(_OLD_PENDING)
        db.execute("INSERT INTO pending (target, key, version, op, seq) VALUES ('b', 'k', ?, 'put', 1)", (V1,))
    db.close()
    journal = Journal(path)
    assert [o.key for o in journal.owed("b")] == ["k"] and journal.quarantined() == 0
    journal.quarantine(journal.owed("b")[0], "invalid_request: 400")
    assert journal.quarantined() == 1
