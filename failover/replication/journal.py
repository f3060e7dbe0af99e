"""The repair journal: what each target still owes, in SQLite, written before a write is acknowledged.

One row per (target, key) that a target still owes: the newest version of that key
the target must reach, and whether that version is a put or a delete (a tombstone).
A row is written, in one transaction, *before* the write it belongs to is attempted
(an intent for every target), and deleted for each target that took the write.  So
a crash at any point leaves either rows that a later `drain` completes, or nothing
that was ever acknowledged.

::

    pending     (target, key) -> version, op ('put' | 'delete'), source, seq, attempts, last_error,
                quarantined (1: the target refused the repair permanently; drains skip the row)
    payloads    (key, version) -> data (NULL when larger than the inline limit), content type, metadata
    tombstones  key -> version of its latest delete (kept after draining: reconcile reads them)
    meta        schema version, highest version written (a restarted writer continues above it)

A row is replaced only by a newer version (``WHERE excluded.version > pending.version``),
so a late or replayed intent never moves a target backwards.  A quarantined row (a
target answered a repair with a permanent refusal: a bad request, invalid input) stays
owed, so reads still avoid that target for the key, but no drain tries it again; a
newer write of the key replaces it and is tried afresh.  Payloads are kept while
some row needs them.

The database runs in WAL mode.  With ``sync="normal"`` a commit survives a crash of the
process; with ``sync="full"`` (the default) an intent (`record`), a `forget`, a
quarantine and the rare bookkeeping writes are fsynced before they return, so they
survive a power loss.  A `settle` (and `note_failure`) commits without waiting for an
fsync even then: a power loss may drop the last few settles, which leaves those rows
owed, as if the process had died just before settling; nothing acknowledged is lost.
The next synced commit makes every settle before it durable too.  A repair heads the
destination first, so a drain finds the version there and only crosses the row off,
without writing it again.

The keys that are owed anywhere are mirrored in memory (`owing`): the read path asks
that dict, never SQLite.  One process writes one journal; readers (the reconcile CLI)
may open it at the same time.

`RepairJournal` (`failover.replication.journal_types`, with the records it exchanges) is
what the write modes, the repairer, reconcile and the metrics use of a journal; `Journal`
(this SQLite file) is the default, and a journal a fleet of processes shares
(`failover.fleet.redis_journal.RedisJournal`) is given as ``journal=`` instead of a path
(`open_journal`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from failover.errors import ConfigError
from failover.replication.journal_file import Sync, open_database
from failover.replication.journal_types import Backlog, Failed, Owed, Payload, Prior, RepairJournal

_UPSERT = """
INSERT INTO pending (target, key, version, op, source, seq) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (target, key) DO UPDATE SET version = excluded.version, op = excluded.op,
    source = excluded.source, seq = excluded.seq, attempts = 0, last_error = NULL, quarantined = 0
WHERE excluded.version > pending.version
"""
# A payload no row refers to any more is garbage: a newer write superseded it, or it landed.
# Collected on settle and forget only: until a newer write lands, a failed one may need
# the older payload back.
_ROW = "target, key, version, op, source, seq, attempts, last_error, quarantined"
_GC = """
DELETE FROM payloads WHERE key = ? AND NOT EXISTS (
    SELECT 1 FROM pending p WHERE p.key = payloads.key AND p.version = payloads.version)
"""


def open_journal(journal: str | os.PathLike[str] | RepairJournal, *, sync: Sync = "full") -> RepairJournal:
    """The SQLite `Journal` at a path, or the journal object given (a shared one)."""
    if isinstance(journal, (str, os.PathLike)):
        return Journal(journal, sync=sync)
    return journal


class Journal:
    """A durable list of owed replications and deletes; thread-safe (one short lock)."""

    def __init__(self, path: str | os.PathLike[str], *, sync: Sync = "full") -> None:
        if sync not in ("full", "normal"):
            raise ConfigError(f"journal sync must be 'full' or 'normal', not {sync!r}")
        self.path = Path(path)
        self._lock = threading.Lock()
        self._sync: Sync = sync
        self._db = open_database(self.path, sync)
        self._relaxed = False  # the connection is at synchronous=NORMAL (only inside `_unsynced`)
        # key -> {target: version}: every key some target still owes, for the read path.
        self.owing: dict[str, dict[str, str]] = {}
        for target, key, version in self._db.execute("SELECT target, key, version FROM pending"):
            self.owing.setdefault(key, {})[target] = version
        row = self._db.execute("SELECT MAX(seq) FROM pending").fetchone()
        self._seq = int(row[0] or 0)

    # ------------------------------------------------------------ writes

    def record(
        self,
        key: str,
        version: str,
        op: str,
        targets: Iterable[str],
        *,
        payload: Payload | None = None,
        source: str | None = None,
    ) -> Prior:
        """Every target in ``targets`` owes ``key`` at ``version`` (an intent, before the write).

        Returns what the intent replaced, so that `forget` can put it back if the write
        fails everywhere: a target that owed an older version must go on owing it.
        """
        targets = tuple(targets)
        with self._lock, self._durable():
            replaced = self._db.execute(
                f"SELECT {_ROW} FROM pending WHERE key = ? AND version < ?",
                (key, version),
            ).fetchall()
            tomb = self._db.execute("SELECT version FROM tombstones WHERE key = ?", (key,)).fetchone()
            rows = []
            for target in targets:
                self._seq += 1
                rows.append((target, key, version, op, source, self._seq))
            self._db.executemany(_UPSERT, rows)
            if payload is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO payloads VALUES (?, ?, ?, ?, ?)",
                    (key, version, payload.data, payload.content_type, json.dumps(payload.metadata)),
                )
            if op == "delete":
                self._db.execute(
                    "INSERT INTO tombstones VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                    "SET version = excluded.version WHERE excluded.version > tombstones.version",
                    (key, version),
                )
            else:
                self._db.execute("DELETE FROM tombstones WHERE key = ? AND version < ?", (key, version))
            self._db.execute(
                "INSERT INTO meta VALUES ('last_version', ?) ON CONFLICT (name) DO UPDATE "
                "SET value = excluded.value WHERE excluded.value > meta.value",
                (version,),
            )
            owed = self.owing.setdefault(key, {})
            for target in targets:
                if owed.get(target, "") < version:
                    owed[target] = version
        return Prior(tuple(replaced), None if tomb is None else str(tomb[0]))

    def settle(self, key: str, version: str, targets: Iterable[str], *, source: str | None = None) -> None:
        """``targets`` now hold ``key`` at ``version`` (or newer): they owe it no more.

        Committed without an fsync (`_unsynced`): a settle lost to a power loss leaves
        the rows owed, and the next drain heads each target, finds the version there and
        crosses it off without writing."""
        targets = tuple(targets)
        with self._lock, self._unsynced():
            self._db.executemany(
                "DELETE FROM pending WHERE target = ? AND key = ? AND version <= ?",
                [(t, key, version) for t in targets],
            )
            if source is not None:
                self._db.execute("UPDATE pending SET source = ? WHERE key = ? AND version = ?", (source, key, version))
            self._db.execute(_GC, (key,))
            self._drop_owing(key, version, targets)

    def forget(self, key: str, version: str, prior: Prior) -> None:
        """The write of ``version`` failed everywhere: drop its intent, restore what it replaced."""
        # Synced: a lost forget would leave an intent that a drain writes out from the
        # payload kept, making a write that raised appear on the targets.
        with self._lock, self._durable():
            self._db.execute("DELETE FROM pending WHERE key = ? AND version = ?", (key, version))
            self._db.executemany(
                f"INSERT OR REPLACE INTO pending ({_ROW}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", prior.rows
            )
            self._db.execute("DELETE FROM tombstones WHERE key = ? AND version = ?", (key, version))
            if prior.tombstone is not None:
                self._db.execute("INSERT OR IGNORE INTO tombstones VALUES (?, ?)", (key, prior.tombstone))
            self._db.execute(_GC, (key,))
            owed = {
                str(r[0]): str(r[1])
                for r in self._db.execute("SELECT target, version FROM pending WHERE key = ?", (key,))
            }
            if owed:
                self.owing[key] = owed
            else:
                self.owing.pop(key, None)

    def note_failure(self, owed: Owed, error: str) -> None:
        # Unsynced: attempts and the last error are diagnostics; a lost one is a retry uncounted.
        with self._lock, self._unsynced():
            self._db.execute(
                "UPDATE pending SET attempts = attempts + 1, last_error = ? "
                "WHERE target = ? AND key = ? AND version = ?",
                (error[:500], owed.target, owed.key, owed.version),
            )

    def quarantine(self, owed: Owed, error: str) -> None:
        """``owed.target`` refused the repair for good: keep the row owed, but out of drains."""
        # Synced: rare, and after a restart the journal must agree with the event announced.
        with self._lock, self._durable():
            self._db.execute(
                "UPDATE pending SET attempts = attempts + 1, last_error = ?, quarantined = 1 "
                "WHERE target = ? AND key = ? AND version = ?",
                (error[:500], owed.target, owed.key, owed.version),
            )

    @contextmanager
    def _durable(self) -> Iterator[None]:
        """A transaction committed at the journal's ``sync`` (caller holds the lock)."""
        if self._relaxed:  # a restore in `_unsynced` failed: restore before this commit
            self._db.execute("PRAGMA synchronous=FULL")
            self._relaxed = False
        with self._db:
            yield

    @contextmanager
    def _unsynced(self) -> Iterator[None]:
        """A transaction whose commit need not survive a power loss (caller holds the lock).

        With ``sync="full"`` it commits at ``synchronous=NORMAL``: in WAL mode that waits
        for no fsync, cannot corrupt the file, and the next synced commit makes it durable
        too (the WAL is synced as a whole).  Back to FULL afterwards, also after an error."""
        if self._sync != "full":
            with self._db:
                yield
            return
        self._relaxed = True
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            with self._db:
                yield
        finally:
            self._db.execute("PRAGMA synchronous=FULL")
            self._relaxed = False

    def _drop_owing(self, key: str, version: str, targets: Iterable[str]) -> None:
        owed = self.owing.get(key)
        if owed is None:
            return
        for target in targets:
            if owed.get(target, "\uffff") <= version:
                del owed[target]
        if not owed:
            del self.owing[key]

    # ------------------------------------------------------------ reads

    def owed(self, target: str, *, limit: int = 256, after: int = 0) -> list[Owed]:
        """What ``target`` owes, oldest first, from sequence number ``after`` on (quarantined
        rows left out)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT target, key, version, op, source, seq, attempts FROM pending "
                "WHERE target = ? AND seq > ? AND quarantined = 0 ORDER BY seq LIMIT ?",
                (target, after, limit),
            ).fetchall()
        return [Owed(*row) for row in rows]

    def entry(self, target: str, key: str) -> Owed | None:
        with self._lock:
            row = self._db.execute(
                "SELECT target, key, version, op, source, seq, attempts FROM pending "
                "WHERE target = ? AND key = ? AND quarantined = 0",
                (target, key),
            ).fetchone()
        return None if row is None else Owed(*row)

    def payload(self, key: str, version: str) -> Payload | None:
        with self._lock:
            row = self._db.execute(
                "SELECT data, content_type, metadata FROM payloads WHERE key = ? AND version = ?", (key, version)
            ).fetchone()
        if row is None:
            return None
        return Payload(None if row[0] is None else bytes(row[0]), row[1], json.loads(row[2]))

    def tombstone(self, key: str) -> str | None:
        """The version of the latest delete of ``key`` still remembered, if any."""
        with self._lock:
            row = self._db.execute("SELECT version FROM tombstones WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def tombstones(self, prefix: str = "") -> dict[str, str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, version FROM tombstones WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
            ).fetchall()
        return {str(k): str(v) for k, v in rows}

    def prune_tombstones(self, before_version: str) -> int:
        """Forget deletes older than ``before_version``; return how many.  After that, a
        reconcile can no longer tell such a delete from a lost replica."""
        with self._lock, self._durable():  # rare and off the write path: synced
            return self._db.execute("DELETE FROM tombstones WHERE version < ?", (before_version,)).rowcount

    def meta(self, name: str) -> str | None:
        """A value kept in the journal's ``meta`` table (markers of restored-target checks)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        with self._lock, self._durable():  # markers of restored-target checks: rare, synced
            self._db.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value)
            )

    def last_version(self) -> str:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = 'last_version'").fetchone()
        return "" if row is None else str(row[0])

    def counts(self) -> dict[str, int]:
        """How many keys each target still owes."""
        with self._lock:
            rows = self._db.execute("SELECT target, COUNT(*) FROM pending GROUP BY target").fetchall()
        return {str(t): int(n) for t, n in rows}

    def backlog(self) -> dict[str, Backlog]:
        """Per target that owes anything: rows, bytes, oldest version, quarantined rows."""
        with self._lock:
            rows = self._db.execute(
                "SELECT p.target, COUNT(*), COALESCE(SUM(LENGTH(l.data)), 0), MIN(p.version), SUM(p.quarantined) "
                "FROM pending p LEFT JOIN payloads l ON l.key = p.key AND l.version = p.version GROUP BY p.target"
            ).fetchall()
        return {str(t): Backlog(int(n), int(b), str(v), int(q)) for t, n, b, v, q in rows}

    def failed(self) -> list[Failed]:
        """The quarantined rows, oldest first: what each target refused, and why."""
        with self._lock:
            rows = self._db.execute(
                "SELECT target, key, version, op, last_error FROM pending WHERE quarantined = 1 ORDER BY seq"
            ).fetchall()
        return [Failed(str(t), str(k), str(v), str(op), str(e or "")) for t, k, v, op, e in rows]

    def quarantined(self) -> int:
        """How many rows are quarantined (every target together)."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM pending WHERE quarantined = 1").fetchone()[0])

    @property
    def seq(self) -> int:
        """The sequence number of the newest row: a drain pass stops there."""
        return self._seq

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM pending").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, {len(self.owing)} keys owed)"


__all__ = ["Backlog", "Failed", "Journal", "Owed", "Payload", "Prior", "RepairJournal", "Sync", "open_journal"]
