"""The types a repair journal deals in: the records it hands out and takes, and `RepairJournal`.

`Owed`, `Failed`, `Prior`, `Backlog` and `Payload` are what the write modes, the repairer,
reconcile, status and metrics exchange with a journal, and `RepairJournal` is the protocol
every journal keeps: the SQLite `failover.replication.journal.Journal` and the one a fleet
shares, `failover.fleet.redis_journal.RedisJournal`.  They stand apart from the SQLite
journal so that what a journal is does not depend on how one is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Owed:
    """One thing a target still owes: reach ``version`` of ``key`` by a put or a delete."""

    target: str
    key: str
    version: str
    op: str
    source: str | None
    seq: int
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Failed:
    """A quarantined row: ``target`` refused to reach ``version`` of ``key``; ``error`` says how."""

    target: str
    key: str
    version: str
    op: str
    error: str


@dataclass(frozen=True, slots=True)
class Prior:
    """What an intent replaced: the rows of older versions, and the tombstone there was."""

    rows: tuple[tuple[object, ...], ...]
    tombstone: str | None


@dataclass(frozen=True, slots=True)
class Backlog:
    """What one target owes: ``rows`` (keys), the ``bytes`` of the payloads the journal
    holds for them (a payload over the inline limit is copied from another target at
    repair time and not counted), ``oldest``, the lowest version owed (its timestamp is
    when that write was made: `failover.replication.versioning.timestamp_of`), and how
    many rows are ``quarantined``."""

    rows: int
    bytes: int
    oldest: str
    quarantined: int


@dataclass(frozen=True, slots=True)
class Payload:
    data: bytes | None  # None: too large to keep here; copy it from a target that has it
    content_type: str | None
    metadata: dict[str, str]


class RepairJournal(Protocol):
    """What a journal offers the write modes, the repairer, reconcile, status and metrics.

    `failover.replication.journal.Journal` is the embedded default;
    `failover.fleet.redis_journal.RedisJournal` is one a fleet shares.  Both keep the same
    rules: a row only moves forward, a quarantined row stays owed but out of `owed`,
    payloads live while a row needs them.
    """

    @property
    def owing(self) -> Mapping[str, dict[str, str]]:
        """key -> {target: version}: what the read path avoids; never a round trip."""
        ...

    def record(
        self,
        key: str,
        version: str,
        op: str,
        targets: Iterable[str],
        *,
        payload: Payload | None = None,
        source: str | None = None,
    ) -> Prior: ...
    def settle(self, key: str, version: str, targets: Iterable[str], *, source: str | None = None) -> None: ...
    def forget(self, key: str, version: str, prior: Prior) -> None: ...
    def note_failure(self, owed: Owed, error: str) -> None: ...
    def quarantine(self, owed: Owed, error: str) -> None: ...
    def owed(self, target: str, *, limit: int = 256, after: int = 0) -> list[Owed]: ...
    def entry(self, target: str, key: str) -> Owed | None: ...
    def payload(self, key: str, version: str) -> Payload | None: ...
    def tombstone(self, key: str) -> str | None: ...
    def tombstones(self, prefix: str = "") -> dict[str, str]: ...
    def prune_tombstones(self, before_version: str) -> int: ...
    def meta(self, name: str) -> str | None: ...
    def set_meta(self, name: str, value: str) -> None: ...
    def last_version(self) -> str: ...
    def counts(self) -> dict[str, int]: ...
    def backlog(self) -> dict[str, Backlog]: ...
    def failed(self) -> list[Failed]: ...
    def quarantined(self) -> int: ...
    @property
    def seq(self) -> int: ...
    def __len__(self) -> int: ...
    def close(self) -> None: ...


__all__ = ["Backlog", "Failed", "Owed", "Payload", "Prior", "RepairJournal"]
