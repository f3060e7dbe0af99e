"""Reconcile: compare every target's listing and checksums, report divergence, repair it.

The journal repairs what this process knows it owes.  Reconcile finds everything
else: objects written by a crashed writer before its intent was journaled, replicas
damaged or deleted behind the library's back, a target restored from an old backup.

For each key in the union of the listings (in key order):

* the *winner* is the newest version (`failover.replication.versioning`); between equal versions
  with different contents, the target with the best priority wins, so every run
  decides the same way;
* if the journal remembers a delete at least as new as the winner, the key is
  deleted everywhere it still exists (a repair never resurrects a deleted object);
* otherwise every target that lacks the key, holds an older version or different
  bytes gets a copy of the winner, with its version kept.

A key some target cannot read (a name one cloud refuses), a key listed but not
readable under its name, and a repair the journal quarantined are reported in
``skipped`` and never copied; a repair that fails on one target is reported for that
target, and the run goes on.  ``verify=True`` also reads every copy back and checks
its bytes against its recorded checksum (listings and ``head`` only carry the
checksum recorded at the write, so damaged bytes are invisible without it); a
damaged copy is repaired from an intact one.

Dry run by default: nothing is written unless ``repair=True``.  A ``checkpoint``
file records the last key done, so a long run that is interrupted resumes after it;
the file is removed when a run completes.  Listings are held in memory (a few
hundred bytes per object and target).  Listings that carry no checksum or version
(S3's) cost one ``head`` per object and target.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from failover.capabilities import ObjectInfo, ObjectStore
from failover.errors import ConfigError, FailoverError, IntegrityError, NotFound
from failover.replication.anti_entropy import MARKER_PREFIX
from failover.replication.conditional import condition_on, takes_conditions
from failover.replication.journal import RepairJournal
from failover.replication.versioning import metadata_with_version, version_of
from failover.target import Target

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
    """``skipped``: keys (or one target's copy of a key) left alone, with why: a copy that
    cannot be read, a key listed but not readable under its name, a quarantined repair."""

    scanned: int = 0
    divergent: list[Divergence] = field(default_factory=list)
    repaired: int = 0
    failed: list[tuple[Divergence, str]] = field(default_factory=list)
    dry_run: bool = True
    resumed_after: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    verified: bool = False

    @property
    def ok(self) -> bool:
        """Targets agree now: nothing divergent or skipped, or everything divergent repaired."""
        if self.failed or self.skipped:
            return False
        return not self.divergent or (not self.dry_run and self.repaired == len(self.divergent))

    def as_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "divergent": [_row(d) for d in self.divergent],
            "repaired": self.repaired,
            "failed": [{"divergence": _row(d), "error": e} for d, e in self.failed],
            "skipped": [{"key": k, "reason": r} for k, r in self.skipped],
            "dry_run": self.dry_run,
            "verified": self.verified,
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


class Skip(Exception):
    """This key (or one copy of it) cannot be judged or repaired now; the message says why."""


def reconcile(
    targets: Sequence[Target],
    *,
    prefix: str = "",
    journal: RepairJournal | None = None,
    repair: bool = False,
    verify: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> ReconcileReport:
    """Compare ``targets`` under ``prefix``; with ``repair=True`` make them agree.

    ``journal`` supplies the tombstones of deletes (without it, an object missing on
    some targets is always copied back) and the quarantined repairs, which are skipped.
    ``verify=True`` reads every copy back (streamed, one chunk in memory at a time) and
    compares its bytes with its recorded checksum: a damaged copy never wins and is
    repaired from an intact one.  ``progress(done, total)`` is called per key.  A key
    that cannot be read or written on some target is reported in ``skipped`` or
    ``failed``; the run goes on with the other keys and targets.
    """
    targets = sorted(targets, key=lambda t: t.priority)
    if len(targets) < 2:
        raise ConfigError("reconcile needs at least two targets")
    if not isinstance(prefix, str):
        raise ConfigError(f"prefix must be a str, not {type(prefix).__name__}")
    if not isinstance(verify, bool):
        raise ConfigError(f"verify must be a bool, not {verify!r}")
    state = _Checkpoint(Path(checkpoint), prefix) if checkpoint is not None else None
    after = state.load() if state is not None else None
    listings = {t.name: {info.key: info for info in t.provider.list(prefix)} for t in targets}
    # Marker objects differ per target by design (`failover.replication.anti_entropy`): never copied.
    keys = sorted(k for k in set().union(*listings.values()) if not k.startswith(MARKER_PREFIX))
    if after is not None:
        keys = [k for k in keys if k > after]
    tombstones = journal.tombstones(prefix) if journal is not None else {}
    held: dict[tuple[str, str], str] = {}
    if journal is not None:
        held = {(f.key, f.target): f.error for f in journal.failed() if f.key.startswith(prefix)}
    stores = {t.name: t.provider for t in targets}
    order = [t.name for t in targets]
    report = ReconcileReport(dry_run=not repair, resumed_after=after, verified=verify)
    total = len(keys)
    for done, key in enumerate(keys, 1):
        try:
            present, damaged = _judge(key, listings, stores, verify)
            divergences = _compare(key, present, damaged, order, tombstones.get(key))
        except Skip as skip:
            report.skipped.append((key, str(skip)))
            divergences = []
        for found in divergences:
            divergence = _hold(found, held, report)
            if divergence is None:
                continue
            report.divergent.append(divergence)
            if repair:
                try:
                    failures = _repair(divergence, stores, present)
                except Skip as skip:
                    report.skipped.append((key, str(skip)))
                    continue
                report.failed.extend(failures)
                if not failures:
                    report.repaired += 1
        report.scanned += 1
        if state is not None and (done % CHECKPOINT_EVERY == 0 or done == total):
            state.save(key)
        if progress is not None:
            progress(done, total)
    if state is not None:
        state.clear()
    return report


def _judge(
    key: str, listings: dict[str, dict[str, ObjectInfo]], stores: dict[str, ObjectStore], verify: bool
) -> tuple[dict[str, ObjectInfo], set[str]]:
    """Each target's copy of ``key`` (completed by a ``head`` where the listing lacks
    metadata) and, with ``verify``, the targets whose bytes do not match their checksum."""
    present: dict[str, ObjectInfo] = {}
    damaged: set[str] = set()
    for name, listing in listings.items():
        if key not in listing:
            continue
        try:
            info = _complete(stores[name], listing[key])
            if verify and info is not None:
                info, intact = _rehash(stores[name], info)
                if not intact:
                    damaged.add(name)
        except NotFound:
            info = None
        except FailoverError as exc:
            raise Skip(f"{name}: cannot read it: {exc.kind}: {exc}") from exc
        if info is not None:
            present[name] = info
    if not present:
        raise Skip(f"listed on {', '.join(n for n in listings if key in listings[n])} but not readable under that name")
    return present, damaged


def _complete(store: ObjectStore, info: ObjectInfo) -> ObjectInfo | None:
    """Fill in checksum and version that a listing left out (S3 lists no metadata).
    None: listed, but not there under that name (deleted since, or a name the store
    changed on the way, as Azure does with a backslash)."""
    if info.checksum is not None and info.version is not None:
        return info
    try:
        full = store.head(info.key)
    except NotFound:
        return None
    return replace(full, key=info.key)


def _rehash(store: ObjectStore, info: ObjectInfo) -> tuple[ObjectInfo, bool]:
    """Read the copy back in chunks: its info with the checksum of the bytes read, and
    whether those match the checksum recorded at the write (a store that checks it
    itself raises `IntegrityError`, which says the same)."""
    digest = hashlib.sha256()
    try:
        for chunk in store.get_stream(info.key):
            digest.update(chunk)
    except IntegrityError:
        return info, False
    actual = "sha256:" + digest.hexdigest()
    return replace(info, checksum=actual), info.checksum is None or info.checksum == actual


def _compare(
    key: str, present: dict[str, ObjectInfo], damaged: set[str], order: list[str], tombstone: str | None
) -> list[Divergence]:
    # The newest intact version wins; ties go to the best priority (``order``), so runs agree.
    intact = [name for name in present if name not in damaged]
    if not intact:
        raise Skip(f"no intact copy: every copy ({', '.join(sorted(present))}) fails its checksum")
    source = max(intact, key=lambda name: (version_of(present[name]), -order.index(name)))
    winner = present[source]
    version = version_of(winner)
    newest = max(version_of(i) for i in present.values())
    if tombstone is not None and tombstone >= newest:
        return [Divergence(key, "delete", None, tuple(n for n in order if n in present), tombstone, "deleted")]
    if newest > version:
        # Copying an older intact version over a newer damaged one would move it backwards.
        newer = sorted(n for n in damaged if version_of(present[n]) == newest)
        raise Skip(f"the newest copy ({', '.join(newer)}) fails its checksum; no intact copy of it")
    stale: list[str] = []
    reasons: set[str] = set()
    for name in order:
        info = present.get(name)
        if name == source:
            continue
        if info is None:
            stale.append(name)
            reasons.add("missing")
        elif name in damaged:
            stale.append(name)
            reasons.add("damaged bytes")
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


def _hold(divergence: Divergence, held: dict[tuple[str, str], str], report: ReconcileReport) -> Divergence | None:
    """``divergence`` less the targets whose repair of the key the journal quarantined
    (reported as skipped); None when no target is left."""
    kept = tuple(t for t in divergence.targets if (divergence.key, t) not in held)
    for target in divergence.targets:
        if target not in kept:
            report.skipped.append((divergence.key, f"{target}: repair quarantined: {held[(divergence.key, target)]}"))
    if not kept:
        return None
    return divergence if kept == divergence.targets else replace(divergence, targets=kept)


def _repair(
    divergence: Divergence, stores: dict[str, ObjectStore], present: dict[str, ObjectInfo]
) -> list[tuple[Divergence, str]]:
    """Make ``divergence`` good on each of its targets; the failures, one per target.
    `Skip` when the source lists the key but has nothing under that name.  A copy is
    conditional on what the target held when listed (`failover.replication.conditional`), so a write
    made meanwhile is refused (reported as ``precondition_failed``), never rolled back."""
    key = divergence.key
    failures: list[tuple[Divergence, str]] = []

    def each(names: Sequence[str], call: Callable[[ObjectStore], object]) -> None:
        for name in names:
            try:
                call(stores[name])
            except FailoverError as exc:
                failures.append((replace(divergence, targets=(name,)), f"{exc.kind}: {exc}"))

    if divergence.action == "delete":
        each(divergence.targets, lambda store: store.delete(key))
        return failures
    assert divergence.source is not None
    source = stores[divergence.source]
    try:
        info = source.head(key)
        data = source.get(key)
        expected = info.checksum
        if expected and expected != "sha256:" + hashlib.sha256(data).hexdigest():
            raise IntegrityError(f"{key!r} changed or was damaged while it was read", target=divergence.source)
    except NotFound as exc:
        raise Skip(f"listed on {divergence.source} but not readable under that name; not copied") from exc
    except FailoverError as exc:
        return [(divergence, f"{exc.kind}: {exc}")]
    metadata = metadata_with_version(info)
    def put(store: ObjectStore, name: str) -> None:
        options = condition_on(present.get(name)) if takes_conditions(store) else {}
        store.put(key, data, content_type=info.content_type, metadata=metadata, **options)

    for name in divergence.targets:
        each((name,), functools.partial(put, name=name))
    return failures


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


__all__ = ["Divergence", "ReconcileReport", "Skip", "reconcile"]
