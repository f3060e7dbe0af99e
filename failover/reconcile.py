"""Reconcile: compare every target's listing and checksums, report divergence, repair it.

The journal repairs what this process knows it owes.  Reconcile finds everything
else: objects written by a crashed writer before its intent was journaled, replicas
damaged or deleted behind the library's back, a target restored from an old backup.

For each key in the union of the listings (in key order):

* the *winner* is the newest version (`failover.versioning`); between equal versions
  with different contents, the target with the best priority wins, so every run
  decides the same way;
* if the journal remembers a delete at least as new as the winner, the key is
  deleted everywhere it still exists (a repair never resurrects a deleted object);
* otherwise every target that lacks the key, holds an older version or different
  bytes gets a copy of the winner, with its version kept.

Dry run by default: nothing is written unless ``repair=True``.  A ``checkpoint``
file records the last key done, so a long run that is interrupted resumes after it;
the file is removed when a run completes.  Listings are held in memory (a few
hundred bytes per object and target).  Listings that carry no checksum or version
(S3's) cost one ``head`` per object and target.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from failover.anti_entropy import MARKER_PREFIX
from failover.capabilities import ObjectInfo, ObjectStore
from failover.errors import ConfigError, FailoverError, NotFound
from failover.journal import Journal
from failover.target import Target
from failover.versioning import metadata_with_version, version_of

Action = Literal["copy", "delete"]
Progress = Callable[[int, int], None]
CHECKPOINT_EVERY = 100


@dataclass(frozen=True, slots=True)
class Divergence:
    """``targets`` disagree with ``source`` about ``key``; ``action`` makes them agree."""

    key: str
    action: Action
    source: str | None
    targets: tuple[str, ...]
    version: str
    reason: str


@dataclass
class ReconcileReport:
    scanned: int = 0
    divergent: list[Divergence] = field(default_factory=list)
    repaired: int = 0
    failed: list[tuple[Divergence, str]] = field(default_factory=list)
    dry_run: bool = True
    resumed_after: str | None = None

    @property
    def ok(self) -> bool:
        """Targets agree now: nothing divergent, or everything divergent repaired."""
        return not self.failed and (not self.divergent or (not self.dry_run and self.repaired == len(self.divergent)))

    def as_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "divergent": [_row(d) for d in self.divergent],
            "repaired": self.repaired,
            "failed": [{"divergence": _row(d), "error": e} for d, e in self.failed],
            "dry_run": self.dry_run,
            "resumed_after": self.resumed_after,
            "ok": self.ok,
        }


def _row(d: Divergence) -> dict[str, Any]:
    return {
        "key": d.key,
        "action": d.action,
        "source": d.source,
        "targets": list(d.targets),
        "version": d.version,
        "reason": d.reason,
    }


def reconcile(
    targets: Sequence[Target],
    *,
    prefix: str = "",
    journal: Journal | None = None,
    repair: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> ReconcileReport:
    """Compare ``targets`` under ``prefix``; with ``repair=True`` make them agree.

    ``journal`` supplies the tombstones of deletes (without it, an object missing on
    some targets is always copied back).  ``progress(done, total)`` is called per key.
    """
    targets = sorted(targets, key=lambda t: t.priority)
    if len(targets) < 2:
        raise ConfigError("reconcile needs at least two targets")
    if not isinstance(prefix, str):
        raise ConfigError(f"prefix must be a str, not {type(prefix).__name__}")
    state = _Checkpoint(Path(checkpoint), prefix) if checkpoint is not None else None
    after = state.load() if state is not None else None
    listings = {t.name: {info.key: info for info in t.provider.list(prefix)} for t in targets}
    # Marker objects differ per target by design (`failover.anti_entropy`): never copied.
    keys = sorted(k for k in set().union(*listings.values()) if not k.startswith(MARKER_PREFIX))
    if after is not None:
        keys = [k for k in keys if k > after]
    tombstones = journal.tombstones(prefix) if journal is not None else {}
    stores = {t.name: t.provider for t in targets}
    report = ReconcileReport(dry_run=not repair, resumed_after=after)
    total = len(keys)
    for done, key in enumerate(keys, 1):
        present = {name: _complete(stores[name], listing[key]) for name, listing in listings.items() if key in listing}
        for divergence in _compare(key, present, [t.name for t in targets], tombstones.get(key)):
            report.divergent.append(divergence)
            if repair:
                try:
                    _repair(divergence, stores)
                    report.repaired += 1
                except FailoverError as exc:
                    report.failed.append((divergence, f"{exc.kind}: {exc}"))
        report.scanned += 1
        if state is not None and (done % CHECKPOINT_EVERY == 0 or done == total):
            state.save(key)
        if progress is not None:
            progress(done, total)
    if state is not None:
        state.clear()
    return report


def _complete(store: ObjectStore, info: ObjectInfo) -> ObjectInfo:
    """Fill in checksum and version that a listing left out (S3 lists no metadata)."""
    if info.checksum is not None and info.version is not None:
        return info
    try:
        full = store.head(info.key)
    except NotFound:  # deleted since the listing: judge it by what the listing said
        return info
    return replace(full, key=info.key)


def _compare(
    key: str, present: dict[str, ObjectInfo], order: list[str], tombstone: str | None
) -> list[Divergence]:
    # The newest version wins; ties go to the best priority (``order``), so runs agree.
    source = max(present, key=lambda name: (version_of(present[name]), -order.index(name)))
    winner = present[source]
    version = version_of(winner)
    if tombstone is not None and tombstone >= version:
        return [Divergence(key, "delete", None, tuple(n for n in order if n in present), tombstone, "deleted")]
    stale: list[str] = []
    reasons: set[str] = set()
    for name in order:
        info = present.get(name)
        if name == source:
            continue
        if info is None:
            stale.append(name)
            reasons.add("missing")
        elif version_of(info) < version:
            stale.append(name)
            reasons.add("older version")
        elif not _same_bytes(info, winner):
            stale.append(name)
            reasons.add("same version, different bytes")
    if not stale:
        return []
    return [Divergence(key, "copy", source, tuple(stale), version, ", ".join(sorted(reasons)))]


def _same_bytes(a: ObjectInfo, b: ObjectInfo) -> bool:
    if a.checksum and b.checksum:
        return a.checksum == b.checksum
    return a.size == b.size  # objects written by other tools carry no checksum


def _repair(divergence: Divergence, stores: dict[str, ObjectStore]) -> None:
    key = divergence.key
    if divergence.action == "delete":
        for name in divergence.targets:
            stores[name].delete(key)
        return
    assert divergence.source is not None
    source = stores[divergence.source]
    info = source.head(key)
    data = source.get(key)
    for name in divergence.targets:
        stores[name].put(key, data, content_type=info.content_type, metadata=metadata_with_version(info))


class _Checkpoint:
    """The last key a run finished, so an interrupted run resumes after it."""

    def __init__(self, path: Path, prefix: str) -> None:
        if path.is_dir() or not path.parent.is_dir():
            raise ConfigError(f"checkpoint {str(path)!r} must be a file in an existing directory")
        self.path = path
        self.prefix = prefix

    def load(self) -> str | None:
        try:
            state = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"checkpoint {str(self.path)!r} is unreadable: {exc}") from exc
        if not isinstance(state, dict) or state.get("prefix") != self.prefix:
            return None  # another run's: start over rather than skip what it never saw
        last = state.get("last_key")
        return last if isinstance(last, str) else None

    def save(self, key: str) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"prefix": self.prefix, "last_key": key}))
        os.replace(tmp, self.path)  # atomic: a crash leaves the old or the new state

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


__all__ = ["Divergence", "ReconcileReport", "reconcile"]
