"""The journal's SQLite file: opening (or creating) it, checking it, its schema.

`failover.replication.journal.Journal` keeps the rows; this module makes sure the file
it gets is a journal it can use, in WAL mode, and says so with a `ConfigError` at
construction rather than a lost write later.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

from failover.errors import ConfigError

SCHEMA_VERSION = "1"
Sync = Literal["full", "normal"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
    target TEXT NOT NULL, key TEXT NOT NULL, version TEXT NOT NULL, op TEXT NOT NULL,
    source TEXT, seq INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    quarantined INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (target, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_by_seq ON pending (target, seq);
CREATE INDEX IF NOT EXISTS pending_by_version ON pending (key, version);
CREATE TABLE IF NOT EXISTS payloads (
    key TEXT NOT NULL, version TEXT NOT NULL, data BLOB, content_type TEXT, metadata TEXT NOT NULL,
    PRIMARY KEY (key, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tombstones (key TEXT PRIMARY KEY, version TEXT NOT NULL) WITHOUT ROWID;
"""
_TABLES = frozenset({"meta", "pending", "payloads", "tombstones"})


def open_database(path: Path, sync: Sync) -> sqlite3.Connection:
    """Open (or create) the journal; any problem is a `ConfigError` now, not a lost write later."""
    if path.is_dir():
        raise ConfigError(f"journal path {str(path)!r} is a directory; give a file name")
    if not path.parent.is_dir():
        raise ConfigError(f"journal directory {str(path.parent)!r} does not exist")
    try:
        # Default (deferred) transactions: `with db:` commits a write, or rolls it back.
        db = sqlite3.connect(path, check_same_thread=False, timeout=10.0)
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open journal {str(path)!r}: {exc}") from exc
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise ConfigError(f"journal {str(path)!r}: SQLite refused WAL mode (got {mode!r})")
        db.execute(f"PRAGMA synchronous={sync.upper()}")
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise ConfigError(f"journal {str(path)!r} is corrupt: {check}")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise ConfigError(f"{str(path)!r} is an SQLite file but not a failover journal")
        with db:
            _create(db)
            columns = {r[1] for r in db.execute("PRAGMA table_info(pending)")}
            if "quarantined" not in columns:  # a journal written before quarantine existed
                db.execute("ALTER TABLE pending ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0")
            row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise ConfigError(f"journal {str(path)!r} has schema {row[0]}, this version reads {SCHEMA_VERSION}")
        missing = _TABLES - {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if missing:
            raise ConfigError(f"journal {str(path)!r} lacks tables {sorted(missing)}")
    except sqlite3.Error as exc:
        db.close()
        # "file is not a database", "attempt to write a readonly database", "disk I/O error"...
        raise ConfigError(f"journal {str(path)!r} cannot be used: {exc}") from exc
    except ConfigError:
        db.close()
        raise
    return db


def _create(db: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


__all__ = ["SCHEMA_VERSION", "Sync", "open_database"]
