"""The Redis journal's rows both ways: the library's records into the scripts' arguments, and back.

A row is kept in Redis as JSON ``[version, op, source, seq, attempts, last_error,
quarantined]`` (`failover.fleet.journal_scripts`); a payload as a description ``[content
type, metadata JSON, has data]`` and, when inline, its bytes.  This module is the one place
that knows those layouts: it turns the scripts' replies into `Owed`, `Prior` and `Payload`,
encodes a `Payload` and a `Prior` for RECORD and FORGET, and folds every row into the
status figures (`Backlog`, `Failed`).  It holds no state and makes no round trip, so
`failover.fleet.redis_journal.RedisJournal` is left with the round trips, the locks and
`owing`, and a change of layout is made here and in the scripts alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from failover.replication.journal_types import Backlog, Failed, Owed, Payload, Prior

# (target, key, row as decoded JSON, inline payload bytes): one row as the ROWS script lists it.
Row = tuple[str, str, list[Any], int]


def text(value: bytes | str) -> str:
    """A reply's value as text (redis-py answers bytes unless told to decode)."""
    return value.decode() if isinstance(value, bytes) else value


def owed_of(target: str, row: list[Any]) -> Owed:
    """OWED's or ENTRY's row, ``[key, version, op, source, seq, attempts]``, as an `Owed`."""
    key, version, op, source, seq, attempts = row
    return Owed(target, text(key), text(version), text(op), text(source) or None, int(seq), int(attempts))


def prior_of(key: str, replaced: Any, tomb: bytes | str | None) -> Prior:
    """RECORD's reply: the rows the intent replaced (JSON ``[[target, row], ...]``) and the tombstone."""
    return Prior(
        tuple(_prior_row(str(t), key, row) for t, row in json.loads(replaced) or []),
        None if tomb is None else text(tomb),
    )


def _prior_row(target: str, key: str, row: list[Any]) -> tuple[object, ...]:
    """A replaced row in the SQLite journal's column order (`Prior.rows`)."""
    version, op, source, seq, attempts, error, quarantined = row
    return (target, key, version, op, source or None, int(seq), int(attempts), error or None, int(quarantined))


def prior_args(prior: Prior) -> str:
    """FORGET's rows to restore, JSON ``[[target, row], ...]``, from `Prior.rows` (SQLite's column order)."""
    return json.dumps([[r[0], [r[2], r[3], r[4] or "", r[5], r[6], r[7] or "", r[8]]] for r in prior.rows])


def payload_args(payload: Payload | None) -> list[Any]:
    """RECORD's payload arguments: kind ('0' none, '1' too large to keep, '2' inline), content
    type, metadata JSON and the bytes."""
    if payload is None:
        return ["0", "", "{}", b""]
    kind = "1" if payload.data is None else "2"
    return [kind, payload.content_type or "", json.dumps(payload.metadata), payload.data or b""]


def payload_of(described: Any, data: Any) -> Payload | None:
    """A payload from its description and its bytes (``None`` when not kept inline)."""
    if described is None:
        return None
    content_type, metadata, has_data = json.loads(described)
    return Payload(bytes(data) if has_data and data is not None else None, content_type or None, json.loads(metadata))


def rows_of(flat: list[Any]) -> list[Row]:
    """ROWS's flat reply, four values a row, as `Row` tuples."""
    return [
        (text(flat[i]), text(flat[i + 1]), json.loads(flat[i + 2]), int(flat[i + 3])) for i in range(0, len(flat), 4)
    ]


def owing_of(rows: Iterable[Row]) -> dict[str, dict[str, str]]:
    """key -> {target: version}: what every target owes, as the read path's `owing` holds it."""
    found: dict[str, dict[str, str]] = {}
    for target, key, row, _ in rows:
        found.setdefault(key, {})[target] = str(row[0])
    return found


def backlog_of(rows: Iterable[Row]) -> dict[str, Backlog]:
    """Per target: rows, inline payload bytes, oldest version (the live RPO), quarantined."""
    found: dict[str, Backlog] = {}
    for target, _, row, size in rows:
        was = found.get(target)
        version, quarantined = str(row[0]), int(row[6])
        if was is None:
            found[target] = Backlog(1, size, version, quarantined)
        else:
            found[target] = Backlog(
                was.rows + 1, was.bytes + size, min(was.oldest, version), was.quarantined + quarantined
            )
    return found


def failed_of(rows: Iterable[Row]) -> list[Failed]:
    """The quarantined rows, oldest (lowest sequence number) first."""
    held = sorted((r for r in rows if int(r[2][6])), key=lambda r: int(r[2][3]))
    return [Failed(t, k, str(row[0]), str(row[1]), str(row[5])) for t, k, row, _ in held]


def quarantined_of(rows: Iterable[Row]) -> int:
    """How many rows are quarantined (every target together)."""
    return sum(1 for _, _, row, _ in rows if int(row[6]))


__all__ = [
    "Row",
    "backlog_of",
    "failed_of",
    "owed_of",
    "owing_of",
    "payload_args",
    "payload_of",
    "prior_args",
    "prior_of",
    "quarantined_of",
    "rows_of",
    "text",
]
