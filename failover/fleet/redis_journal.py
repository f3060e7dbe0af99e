"""A repair journal a fleet shares, on Redis Streams (the ``redis`` extra).

`RedisJournal` keeps the SQLite `failover.replication.journal.Journal`'s rules (a row per
(target, key) only moves forward, quarantined rows stay owed but out of drains, payloads
live while a row needs them, tombstones outlive their rows) with the rows in Redis, so
that when a process dies with writes still owed, any live process repairs them::

    journal = RedisJournal.from_url(os.environ["REDIS_URL"], lease=30.0)
    storage = FailoverStorage(targets, writes=replication.All(journal=journal))

How the work is shared: each target has a stream and a consumer group.  A write records
its intent (one entry per target) **before** it is attempted, and the same script hands
each entry to the recording process (its consumer).  That process repairs what it wrote,
and it alone, while it lives: repairing an entry renews its lease (``XCLAIM``), and the
repair is only made while this consumer holds it.  An entry idle for ``lease`` seconds
(its process died, or stopped repairing it) is taken over by the next process whose
repair pass reads the stream (``XAUTOCLAIM``), so two live processes never repair the
same entry at once, and a dead one's debts are drained without anyone's help.  The
versions (`failover.replication.versioning`) and conditional writes keep a late repair
from overwriting newer data.  Keep ``lease`` well above a repair's duration (a head, a
get and a put, each bounded by the attempt timeout).

Durability: a write is acknowledged once the intent is in Redis.  What Redis promises
then is what the server is set up for: with ``appendonly yes`` and ``appendfsync always``
the intent is on disk; with the default ``everysec`` up to a second of intents can be
lost with the server; without AOF, everything since the last snapshot.  ``wait_replicas
= N`` adds ``WAIT N timeout`` after each intent, on the intent's own connection (WAIT
counts only its connection's writes): the write is refused (`Unavailable`) unless N
replicas have it within ``wait_timeout`` seconds.  Off (0) by default: then a failover
of Redis to a replica that had not received the intent loses it.  The server must not
evict keys (``maxmemory-policy noeviction``): an evicted sequence counter or row breaks
the scripts or loses a debt.

Redis unreachable: constructing the journal raises `failover.errors.Unavailable` (it
reads every row to fill `owing`); recording an intent raises it too, so the write
is refused, never acknowledged without its intent.  (A reply lost after Redis ran the
script leaves the intent there: the refused write may then reach the targets later, as
any write that timed out may; what is never possible is an acknowledged write lost.)
Crossing targets off (`settle`) when Redis is down only logs: the rows stay owed and a
later pass finds those targets already hold the version.  Status reads (`backlog`,
`quarantined`, `failed`) answer with what they last read, so a dashboard survives an
outage of Redis.

`owing` (the read path's view) holds this process's own rows at once and the fleet's as
of the last `refresh` (each repair pass's `counts`, at most every ``refresh_every``
seconds).  One Redis server or primary; not Redis Cluster (the scripts reach keys by
prefix).  The client's URL, and any password in it, is never in a message, a log or a repr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from failover.clock import Clock, SystemClock
from failover.errors import ConfigError, Unavailable
from failover.fleet import journal_rows as layout
from failover.fleet.journal_link import JournalLink, check_options, check_read_timeout
from failover.replication.journal import Backlog, Failed, Owed, Payload, Prior

try:
    import redis
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("failover.fleet.redis_journal needs redis-py: pip install 'multicloud-failover[redis]'") from exc

from failover.fleet.redis_client import connect

logger = logging.getLogger("failover.redis")

_MAX_ERROR = 500  # as the SQLite journal keeps


class RedisJournal:
    """The repair journal in Redis, shared by every process that opens the same ``prefix``.

    ``lease``: seconds an entry may sit idle in a consumer's hands before another
    process takes it over.  ``consumer``: this process's name in the groups (default
    ``host:pid:random``; a process restarted under the same name takes its entries back
    at once).  ``wait_replicas``/``wait_timeout``: see the module docstring.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "failover:journal:",
        lease: float = 30.0,
        consumer: str | None = None,
        wait_replicas: int = 0,
        wait_timeout: float = 1.0,
        refresh_every: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        check_options(prefix, lease, wait_replicas, wait_timeout, refresh_every)
        check_read_timeout(client, wait_replicas, wait_timeout)
        self.client = client
        self.prefix = prefix
        self.lease = float(lease)
        self.consumer = consumer or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wait_replicas = wait_replicas
        self.wait_timeout = float(wait_timeout)
        link = JournalLink(client)
        self._where = link.where
        self._scripts = link.scripts
        self._run, self._call, self._unavailable = link.run, link.call, link.unavailable
        self._clock = clock or SystemClock()
        self._refresh_every = refresh_every
        self._next_refresh = 0.0
        self._lock = threading.Lock()
        self._last_rows: list[layout.Row] = []
        self._claim_cursors: dict[str, str] = {}  # target -> where the next XAUTOCLAIM resumes
        # key -> {target: version}, for the read path; mutated in place (the facade keeps it).
        self.owing: dict[str, dict[str, str]] = {}
        self.refresh()

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 1.0, **options: Any) -> RedisJournal:
        """A journal on the Redis at ``url`` (``redis://``, ``rediss://`` or ``unix://``;
        a password may be in it, read from the environment: it is never shown).
        ``timeout``: seconds to connect and for each reply; with ``wait_replicas`` a reply
        may take ``wait_timeout`` longer (WAIT blocks on the server for that long)."""
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("journal url: must start with redis://, rediss:// or unix://")
        read_timeout = timeout
        wait = options.get("wait_timeout", 1.0)
        if options.get("wait_replicas") and isinstance(wait, (int, float)) and not isinstance(wait, bool):
            read_timeout = timeout + wait  # WAIT blocks that long on the server, then answers
        try:
            client = connect(url, timeout=timeout, socket_timeout=read_timeout)
        except ValueError as exc:  # redis-py's words about the URL, never its text
            raise ConfigError("journal url: not a Redis URL redis-py can read") from exc
        return cls(client, **options)

    def check_lease(self, attempt_timeout: float | None) -> None:
        """Warn when ``lease`` is under three attempt timeouts: a repair (a head, a get, a
        put, each bounded by it) could then outlast its lease and be repeated by another
        process.  The set-up file calls this with the facade's execution settings."""
        if attempt_timeout is not None and self.lease < 3 * attempt_timeout:
            logger.warning(
                "repair journal on %s: lease %gs is under 3 x the attempt timeout (%gs): a repair may outlast "
                "its lease and be made twice; use a lease of several attempt timeouts",
                self._where,
                self.lease,
                attempt_timeout,
            )

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
        """Every target in ``targets`` owes ``key`` at ``version``: in Redis, or `Unavailable`."""
        targets = tuple(targets)
        args = [self.prefix, self.consumer, key, version, op, source or "", *layout.payload_args(payload)]
        with self._lock:
            if self.wait_replicas:
                (replaced, tomb), reached = self._record_and_wait([*args, *targets])
            else:
                (replaced, tomb), reached = self._run("record", "RECORD", [*args, *targets]), None
            prior = layout.prior_of(key, replaced, tomb)
            owed = self.owing.setdefault(key, {})
            for target in targets:
                if owed.get(target, "") < version:
                    owed[target] = version
        if reached is not None:
            self._check_reached(key, version, prior, reached)
        return prior

    def _check_reached(self, key: str, version: str, prior: Prior, reached: int | Exception) -> None:
        """The intent reached ``wait_replicas`` replicas, or it is withdrawn and the write refused."""
        if isinstance(reached, Exception):
            detail = f"WAIT failed ({type(reached).__name__}: {reached})"
        elif reached < self.wait_replicas:
            detail = f"reached {reached} of {self.wait_replicas} replicas within {self.wait_timeout:g}s"
        else:
            return
        self._withdraw(key, version, prior)
        raise Unavailable(
            f"repair journal ({self._where}): the intent for {key!r} {detail}; the write is not acknowledged",
            operation="journal",
        )

    def _record_and_wait(self, args: list[Any]) -> tuple[Any, int | Exception]:
        """RECORD then ``WAIT`` on one connection (a pipeline, not a transaction): WAIT only
        counts the writes made on its own connection, so on any other it would pass at once.
        Returns the script's reply and the replicas reached, or WAIT's error."""

        def both() -> list[Any]:
            with self.client.pipeline(transaction=False) as pipe:
                self._scripts["RECORD"](keys=[], args=args, client=pipe)
                pipe.wait(self.wait_replicas, round(self.wait_timeout * 1000))
                return list(pipe.execute(raise_on_error=False))

        recorded, reached = self._call("record", both)
        if isinstance(recorded, RedisError):  # the script did not run: nothing to withdraw
            raise self._unavailable("record", recorded) from recorded
        return recorded, reached if isinstance(reached, Exception) else int(reached)

    def _withdraw(self, key: str, version: str, prior: Prior) -> None:
        """Roll back, as far as Redis lets us: the write will not be attempted."""
        try:
            self.forget(key, version, prior)
        except Unavailable:
            logger.warning("%s: could not withdraw the intent for %s after WAIT failed", self._where, key)

    def settle(self, key: str, version: str, targets: Iterable[str], *, source: str | None = None) -> None:
        """``targets`` hold ``key`` at ``version`` (or newer).  Redis down: logged, rows kept."""
        targets = tuple(targets)
        with self._lock:
            try:
                self._run("settle", "SETTLE", [self.prefix, key, version, source or "", *targets])
            except Unavailable as exc:
                logger.warning("%s; %s stays owed until a repair pass checks it", exc, key)
                return
            self._drop_owing(key, version, targets)

    def forget(self, key: str, version: str, prior: Prior) -> None:
        """The write of ``version`` failed everywhere: drop its intent, restore what it replaced."""
        args = [self.prefix, self.consumer, key, version, prior.tombstone or "", layout.prior_args(prior)]
        with self._lock:
            flat = self._run("forget", "FORGET", args)
            owed = {layout.text(flat[i]): layout.text(flat[i + 1]) for i in range(0, len(flat), 2)}
            if owed:
                self.owing[key] = owed
            else:
                self.owing.pop(key, None)

    def note_failure(self, owed: Owed, error: str) -> None:
        self._failure(owed, error, quarantine=False)

    def quarantine(self, owed: Owed, error: str) -> None:
        """``owed.target`` refused the repair for good: keep the row owed, but out of drains."""
        self._failure(owed, error, quarantine=True)

    def _failure(self, owed: Owed, error: str, *, quarantine: bool) -> None:
        args = [self.prefix, owed.target, owed.key, owed.version, error[:_MAX_ERROR], "1" if quarantine else "0"]
        self._run("quarantine" if quarantine else "note_failure", "FAILURE", args)

    def _drop_owing(self, key: str, version: str, targets: Iterable[str]) -> None:
        owed = self.owing.get(key)
        if owed is None:
            return
        for target in targets:
            if owed.get(target, "\uffff") <= version:
                del owed[target]
        if not owed:
            del self.owing[key]

    # ------------------------------------------------------------ the repairer's reads

    def owed(self, target: str, *, limit: int = 256, after: int = 0) -> list[Owed]:
        """What this process may repair on ``target`` now, oldest first, from ``after`` on:
        its own entries, and those idle past the lease that it takes over."""
        lease_ms = str(round(self.lease * 1000))
        cursor = self._claim_cursors.get(target, "0-0")
        args = [self.prefix, self.consumer, target, after, limit, lease_ms, cursor]
        cursor, rows = self._run("owed", "OWED", args)
        self._claim_cursors[target] = layout.text(cursor)  # '0-0' once a round of the pending list is done
        return [layout.owed_of(target, row) for row in rows]

    def entry(self, target: str, key: str) -> Owed | None:
        """The row of ``key`` on ``target`` if this process holds it (its lease renewed)."""
        row = self._run("entry", "ENTRY", [self.prefix, self.consumer, target, key])
        return None if row is None else layout.owed_of(target, row)

    def payload(self, key: str, version: str) -> Payload | None:
        def read() -> tuple[Any, Any]:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.hget(self.prefix + "payloads:" + key, version)
                pipe.hget(self.prefix + "data:" + key, version)
                described, data = pipe.execute()
            return described, data

        return layout.payload_of(*self._call("payload", read))

    # ------------------------------------------------------------ tombstones and meta

    def tombstone(self, key: str) -> str | None:
        found = self._call("tombstone", lambda: self.client.hget(self.prefix + "tombstones", key))
        return None if found is None else layout.text(found)

    def tombstones(self, prefix: str = "") -> dict[str, str]:
        found: dict[Any, Any] = self._call("tombstones", lambda: self.client.hgetall(self.prefix + "tombstones"))
        pairs = {layout.text(k): layout.text(v) for k, v in found.items()}
        return {k: v for k, v in pairs.items() if k.startswith(prefix)}

    def prune_tombstones(self, before_version: str) -> int:
        return int(self._run("prune_tombstones", "PRUNE", [self.prefix, before_version]))

    def meta(self, name: str) -> str | None:
        found = self._call("meta", lambda: self.client.hget(self.prefix + "meta", name))
        return None if found is None else layout.text(found)

    def set_meta(self, name: str, value: str) -> None:
        self._call("set_meta", lambda: self.client.hset(self.prefix + "meta", name, value))

    def last_version(self) -> str:
        return self.meta("last_version") or ""

    # ------------------------------------------------------------ figures

    def refresh(self) -> None:
        """Read every row: the fleet's debts join `owing`, and the figures are current."""
        with self._lock:
            fresh = layout.owing_of(self._rows())
            # In place, key by key: a reader never sees a key vanish that is owed throughout.
            for key in [k for k in self.owing if k not in fresh]:
                del self.owing[key]
            self.owing.update(fresh)
            self._next_refresh = self._clock.monotonic() + self._refresh_every

    def counts(self) -> dict[str, int]:
        """How many keys each target owes (the whole fleet's); refreshes `owing` when due."""
        if self._clock.monotonic() >= self._next_refresh:
            self.refresh()
        return self._counts()

    def _counts(self) -> dict[str, int]:
        flat = self._run("counts", "COUNTS", [self.prefix])
        return {layout.text(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}

    def backlog(self) -> dict[str, Backlog]:
        """Per target: rows, inline payload bytes, oldest version (the live RPO), quarantined."""
        return layout.backlog_of(self._rows(stale_ok=True))

    def failed(self) -> list[Failed]:
        return layout.failed_of(self._rows(stale_ok=True))

    def quarantined(self) -> int:
        return layout.quarantined_of(self._rows(stale_ok=True))

    @property
    def seq(self) -> int:
        """The newest row's sequence number (the whole fleet's): a drain pass stops there."""
        return int(self._call("seq", lambda: self.client.get(self.prefix + "seq")) or 0)

    def __len__(self) -> int:
        return sum(self._counts().values())

    def _rows(self, *, stale_ok: bool = False) -> list[layout.Row]:
        """Every row as (target, key, row, inline bytes); with ``stale_ok``, Redis down
        answers what was last read (status and metrics must not fail with it)."""
        try:
            flat = self._run("rows", "ROWS", [self.prefix])
        except Unavailable:
            if stale_ok:
                return self._last_rows
            raise
        self._last_rows = layout.rows_of(flat)
        return self._last_rows

    # ------------------------------------------------------------ plumbing

    def close(self) -> None:
        """Leave the groups where this process holds nothing, and close the connections."""
        # Redis down: its entries are taken over after the lease, as a dead process's are.
        with contextlib.suppress(Unavailable):
            self._run("close", "LEAVE", [self.prefix, self.consumer])
        self.client.close()

    def __repr__(self) -> str:
        return f"RedisJournal({self._where}, prefix={self.prefix!r}, {len(self.owing)} keys owed)"


__all__ = ["RedisJournal"]
