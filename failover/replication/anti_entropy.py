"""Background checks that keep replicas whole: restored-target detection and anti-entropy.

**A target restored empty.**  A region restored from an old backup, or a bucket deleted
and recreated, comes back up healthy but missing objects.  Reads stay correct without
help (a replicated read goes past a target that says `NotFound`, `failover.execution.lookup`),
but every such read costs an extra call and a repair row.  `RestoreGuard` notices the
restore itself: the library keeps a small marker object (`MARKER_KEY`) on every target,
with a random generation remembered in the journal.  When a target's marker is gone or
carries another generation, the target is *suspect*: reads skip it, `reconcile` copies
to it what the other targets hold, a new marker is written, and only then does it serve
reads again.  Markers are checked when a target becomes usable again after being
unusable, and every ``check_every`` seconds.

**Anti-entropy.**  With ``anti_entropy=`` seconds on the write mode, the keys written
recently (the last `RECENT_KEYS`) are compared across targets on that schedule, by a
``head`` on each; a target that lacks one or holds an older version is journaled for a
repair from the newest copy.  This catches what neither the journal nor reads see: a
replica damaged or rolled back behind the library's back.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from failover.errors import FailoverError, NotFound
from failover.replication.versioning import version_of

if TYPE_CHECKING:
    from failover.replication.modes import Replication

logger = logging.getLogger("failover.replication.anti_entropy")

MARKER_KEY = ".failover/marker"
MARKER_PREFIX = ".failover/"
GENERATION = "generation"
RECENT_KEYS = 10_000


class RestoreGuard:
    """Marker objects on every target, to tell a restored target from a healthy one."""

    def __init__(self, replication: Replication, *, check_every: float = 60.0) -> None:
        self._r = replication
        self._check_every = check_every
        self._checked_at: dict[str, float] = {}
        self._was_usable: dict[str, bool] = {}
        # Read by the read path without a lock: replaced, never mutated.
        self.suspects: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def check_all(self, now: float) -> list[str]:
        """Check the markers that are due; reconcile and re-mark restored targets.  Returns
        the targets found restored."""
        restored = []
        for target in self._r.names:
            usable = self._r.repairer.usable(target)
            came_back = usable and not self._was_usable.get(target, True)
            self._was_usable[target] = usable
            due = now - self._checked_at.get(target, -float("inf")) >= self._check_every
            if not (usable and (came_back or due or target in self.suspects)):
                continue
            try:
                if self.check(target, now):
                    restored.append(target)
            except FailoverError as exc:
                logger.warning("marker check on %s failed, retrying later: %s", target, exc)
            except Exception:  # an unmapped error from one target must not stop the repair pass
                logger.exception("marker check on %s failed, retrying later", target)
        return restored

    def check(self, target: str, now: float) -> bool:
        """Is ``target``'s marker what the journal remembers?  If not, heal it.  True if healed."""
        remembered = self._r.journal.meta(f"marker:{target}")
        try:
            found = self._generation(target)
        except FailoverError as exc:
            logger.debug("marker check on %s failed: %s", target, exc)
            return False
        self._checked_at[target] = now
        if remembered is not None and found == remembered and target not in self.suspects:
            return False
        if remembered is None and found is None:
            self._mark(target)  # first sight of this target: nothing to compare yet
            return False
        if remembered is None and found is not None:
            self._r.journal.set_meta(f"marker:{target}", found)  # another writer marked it
            return False
        logger.warning("target %s lost its marker (restored or recreated): reconciling before it serves reads", target)
        self._suspect(target, True)
        try:
            report = self._r.reconcile_into(target)
        except FailoverError as exc:
            logger.warning("reconcile of restored target %s failed, retrying later: %s", target, exc)
            return False
        if report.failed:
            failures = len(report.failed)
            logger.warning("reconcile of restored target %s left %d failures, retrying later", target, failures)
            return False
        self._mark(target)
        self._suspect(target, False)
        logger.warning("restored target %s reconciled (%d repairs); it serves reads again", target, report.repaired)
        return True

    def _generation(self, target: str) -> str | None:
        try:
            info = self._r.on(target, "head", lambda m: m.provider.head(MARKER_KEY))
        except NotFound:
            return None
        return info.metadata.get(GENERATION) or version_of(info) or None

    def _mark(self, target: str) -> None:
        generation = secrets.token_hex(8)
        metadata = {GENERATION: generation}
        self._r.on(target, "put", lambda m: m.provider.put(MARKER_KEY, generation.encode(), metadata=metadata))
        self._r.journal.set_meta(f"marker:{target}", generation)

    def _suspect(self, target: str, suspect: bool) -> None:
        with self._lock:
            self.suspects = self.suspects | {target} if suspect else self.suspects - {target}


class AntiEntropy:
    """Compares recently written keys across targets on a schedule; journals what lags."""

    def __init__(self, replication: Replication, interval: float) -> None:
        self._r = replication
        self._interval = interval
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._last_run = -float("inf")

    def wrote(self, key: str) -> None:
        with self._lock:
            self._recent[key] = None
            self._recent.move_to_end(key)
            if len(self._recent) > RECENT_KEYS:
                self._recent.popitem(last=False)

    def run_if_due(self, now: float) -> int:
        if now - self._last_run < self._interval:
            return 0
        self._last_run = now
        return self.run()

    def run(self) -> int:
        """One comparison of every recent key; returns how many repairs it journaled."""
        with self._lock:
            keys = list(self._recent)
        journaled = 0
        for key in keys:
            journaled += self._compare(key)
        return journaled

    def _compare(self, key: str) -> int:
        versions: dict[str, str | None] = {}
        for target in self._r.names:
            if not self._r.repairer.usable(target):
                return 0  # cannot see every replica: next run
            try:
                info = self._r.on(target, "head", lambda m: m.provider.head(key))
            except NotFound:
                versions[target] = None
            except FailoverError:
                return 0
            else:
                versions[target] = version_of(info)
        present = [v for v in versions.values() if v is not None]
        if not present:
            return 0  # deleted everywhere
        newest = max(present)
        source = next(t for t, v in versions.items() if v == newest)
        lagging = [t for t, v in versions.items() if v is None or v < newest]
        if not lagging or key in self._r.owing:
            return 0  # in step, or the journal already knows
        tombstone = self._r.journal.tombstone(key)
        if tombstone is not None and tombstone >= newest:
            return 0  # deleted later: the journal's delete rows handle it
        self._r.journal.record(key, newest, "put", lagging, source=source)
        logger.info("anti-entropy: %s behind on %s; journaled a repair", ", ".join(lagging), key)
        return len(lagging)


__all__ = ["MARKER_KEY", "MARKER_PREFIX", "AntiEntropy", "RestoreGuard"]
