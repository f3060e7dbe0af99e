"""Fleet-shared breaker state on Redis (the ``redis`` extra).

`RedisBreakerStore` implements `failover.breaker.store.BreakerStore`: each breaker's last
transition is one Redis hash (state, open count, reason, ``open_until_ms``).  The end of
the open time is an absolute time on the **Redis server's** clock (``TIME``), read and
written inside Redis, so processes on machines whose clocks disagree still agree on how
long a breaker stays open; `load` turns it back into a duration.  The store also counts
failure streaks across the fleet (`failover.fleet.fleet_failures`): the processes open a
breaker together once their failures in a row add up to the threshold.

The Redis leader lock is `failover.fleet.redis_lock.RedisLeaderLock` (also importable
from here), the fail-fast client `failover.fleet.redis_client.connect` (likewise).

Redis is a helper, never a dependency of a call: when it is unreachable the store keeps
the states it could not save for later and loads nothing (each breaker carries on
alone).  One warning is logged per streak of failures, naming the
server by host and port only (never a password or URL).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from failover.breaker.store import StoredState, check_window
from failover.clock import Clock, SystemClock
from failover.errors import ConfigError
from failover.fleet.background import LatestWriter
from failover.fleet.fleet_failures import FleetStreaks, streak_key
from failover.fleet.redis_client import Outage, RedisError, connect, describe_client, redis
from failover.fleet.redis_lock import RedisLeaderLock

logger = logging.getLogger("failover.redis")

__all__ = ["RedisBreakerStore", "RedisLeaderLock", "connect", "describe_client"]

# KEYS[1] = the hash, KEYS[2] = the change channel, KEYS[3] = the fleet's failure streak
# (`failover.fleet.fleet_failures`); ARGV = state, opens, reason, open time left in ms,
# breaker name.  The end of the open time is computed on the server's clock, and the change
# announced, in the same atomic step as the write.  A transition ends any fleet streak: the
# failures before an opening, or before a recovery, must not count towards the next one.
_SAVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'opens', ARGV[2], 'reason', ARGV[3],
           'open_until_ms', now + tonumber(ARGV[4]))
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', KEYS[2], ARGV[5])
return 1
"""

_MAX_REASON = 200  # a reason is for people; it must not grow the key without bound


class RedisBreakerStore:
    """A `BreakerStore` a fleet shares: one Redis hash per breaker name.

    `save` never waits for Redis: it queues the state for a writer thread of the store's
    own (`failover.fleet.background.LatestWriter`), so a Redis that is slow, down or
    blackholed delays what the fleet learns, never the call that opened a breaker.  Each
    write also publishes the breaker's name on ``prefix + "changed"``; a started facade
    subscribes (`subscribe`) and adopts a transition as soon as it is announced, and
    re-reads every breaker after the subscription (re)connects, or after a read failed
    while it held.  It also reads every ``sync_interval`` seconds, should an announcement
    be lost.  A state Redis refused is written again every ``retry_after`` seconds until it
    lands or a newer one replaces it.  Build the client with
    `connect` (short timeouts, no retries).  `flush` waits for queued writes.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "failover:breaker:",
        retry_after: float = 1.0,
        sync_interval: float = 1.0,
        failure_window: float = 10.0,
        streaks: bool = True,
        clock: Clock | None = None,
    ) -> None:
        check_window(failure_window)
        if not isinstance(streaks, bool):
            raise ConfigError(f"streaks: must be True or False, got {streaks!r}")
        self.streaks = streaks  # count failure streaks across the fleet (see fleet_failures)
        self.client = client
        self.prefix = prefix
        self.channel = prefix + "changed"
        self.sync_interval = sync_interval  # how often a started facade reads the others' transitions
        self._save_script = client.register_script(_SAVE)
        self._outage = Outage(describe_client(client), retry_after, clock or SystemClock())
        self._writer: LatestWriter[StoredState] = LatestWriter(
            self._write, thread_name="failover-redis-writer", retry_after=retry_after, prepare=self._load_script
        )
        self._subscriber = _Subscriber(client, self.channel, self._outage, retry_after)
        outage = self._outage
        self._streaks = FleetStreaks(
            client,
            prefix=prefix,
            channel=self.channel,
            window=failure_window,
            paused=outage.paused,
            failed=outage.failed,
            succeeded=outage.succeeded,
            max_reason=_MAX_REASON,
        )

    def key(self, name: str) -> str:
        return self.prefix + name

    def save(self, name: str, state: StoredState) -> None:
        """Queue ``state`` for the writer thread: returns at once, whatever Redis is doing."""
        self._writer.put(name, state)

    def failed(self, name: str, threshold: int, opens: int, open_for: float, reason: str) -> None:
        """Count a failure in the fleet's streak (`failover.breaker.store.FleetFailures`);
        queued like `save`, so it returns at once.  Nothing with ``streaks=False``."""
        if self.streaks:
            self._streaks.failed(name, threshold, opens, open_for, reason)

    def recovered(self, name: str) -> None:
        if self.streaks:
            self._streaks.recovered(name)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every state and failure count so far is written, or has failed;
        False on timeout."""
        return self._writer.flush(timeout) and self._streaks.flush(timeout)

    def subscribe(self, on_change: Callable[[str | None], None]) -> None:
        """Call ``on_change(name)`` when a breaker's state is announced, and
        ``on_change(None)`` whenever the subscription (re)connects: every breaker should be
        read again then.  Runs on the store's subscriber thread, started with the first.
        The writer threads start too: a started facade's first transition or failure
        report does not wait for a thread to start or a script to load."""
        self._writer.start()
        self._streaks.start()
        self._subscriber.add(on_change)

    def unsubscribe(self, on_change: Callable[[str | None], None]) -> None:
        self._subscriber.remove(on_change)

    @property
    def subscribed(self) -> bool:
        """Whether the subscriber thread runs (some started facade listens)."""
        return self._subscriber.running

    def close(self) -> None:
        """Write what is queued (briefly), stop the writer and subscriber threads."""
        self._writer.close()
        self._streaks.close()
        self._subscriber.stop()

    def _load_script(self) -> None:
        if not self._outage.paused():
            self._save_script.registered_client.script_load(self._save_script.script)

    def _write(self, name: str, state: StoredState) -> bool:
        # False: not written; the writer tries again after retry_after.
        if self._outage.paused():
            return False
        open_ms = max(0, round(state.open_for * 1000))
        try:
            self._save_script(
                keys=[self.key(name), self.channel, streak_key(self.prefix, name)],
                args=[state.state, state.opens, state.reason[:_MAX_REASON], open_ms, name],
            )
        except RedisError as exc:
            self._outage.failed(f"save of breaker {name!r}", exc)
            return False
        self._outage.succeeded()
        return True

    def load(self, name: str) -> StoredState | None:
        # A state of ours still on its way is newer than what Redis holds: adopting the
        # stored one would undo what this process just decided.
        if self._outage.paused() or self._writer.holds(name):
            return None
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.time()
                pipe.hgetall(self.key(name))
                (seconds, micros), fields = pipe.execute()
        except RedisError as exc:
            self._outage.failed(f"load of breaker {name!r}", exc)
            return None
        self._outage.succeeded()
        if not fields:
            return None
        got = {_text(k): _text(v) for k, v in fields.items()}
        try:
            now_ms = int(seconds) * 1000 + int(micros) // 1000
            open_for = max(0, int(got["open_until_ms"]) - now_ms) / 1000
            return StoredState(got["state"], int(got["opens"]), open_for, got.get("reason", ""))
        except (KeyError, ValueError):
            logger.warning("ignoring malformed breaker state at %s", self.key(name))
            return None

    def __repr__(self) -> str:
        return f"RedisBreakerStore({self._outage._where}, prefix={self.prefix!r})"


class _Subscriber:
    """The store's subscription to its change channel, on a daemon thread while anyone
    listens.  Redis down: one warning (shared with the store's outage), a retry every
    ``retry_after`` seconds, and ``None`` told to every listener once it is back."""

    def __init__(self, client: redis.Redis, channel: str, outage: Outage, retry_after: float) -> None:
        self._client = client
        self._channel = channel
        self._outage = outage
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[str | None], None], ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, listener: Callable[[str | None], None]) -> None:
        with self._lock:
            self._listeners = (*self._listeners, listener)
            if self._thread is None:
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._loop, args=(self._stop,), name="failover-redis-subscriber", daemon=True
                )
                self._thread.start()

    def remove(self, listener: Callable[[str | None], None]) -> None:
        with self._lock:
            # `!=`, not `is not`: each access to a bound method makes a new object.
            self._listeners = tuple(fn for fn in self._listeners if fn != listener)
            # Decided under the lock: an `add` racing with the last `remove` either comes
            # before it (and keeps the thread) or after it (and starts a new one).
            thread = self._detach() if not self._listeners else None
        self._join(thread)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def stop(self) -> None:
        with self._lock:
            thread = self._detach()
        self._join(thread)

    def _detach(self) -> threading.Thread | None:
        thread, self._thread = self._thread, None
        self._stop.set()
        return thread

    @staticmethod
    def _join(thread: threading.Thread | None, timeout: float = 2.0) -> None:
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._listen(stop)
            except RedisError as exc:
                self._outage.failed("subscription to breaker changes", exc)
                stop.wait(self._retry_after)
            except Exception:  # a bug must not end the subscription for good, silently
                logger.exception("subscription to breaker changes failed; resubscribing")
                stop.wait(self._retry_after)

    def _listen(self, stop: threading.Event) -> None:
        client: Any = self._client  # redis-py's pubsub() carries no annotations
        with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            pubsub.subscribe(self._channel)
            self._outage.succeeded()
            self._tell(None)  # what changed while we were not listening is unknown: read all
            while not stop.is_set():
                message = pubsub.get_message(timeout=0.5)
                if message is not None and message.get("type") == "message":
                    self._tell(_name(message["data"]))
                elif self._outage.due():
                    # A read failed while the subscription held (an announcement's load
                    # timed out, say): what it missed is read again, not left to the poll.
                    self._tell(None)

    def _tell(self, name: str | None) -> None:
        for listener in self._listeners:
            try:
                listener(name)
            except Exception:  # one broken listener must not silence the others
                logger.exception("breaker change listener failed on %s", name)


def _name(data: bytes | str) -> str | None:
    """A breaker's name from an announcement; None (read every breaker) for one that is
    not text, as a stranger's message on the channel might be."""
    try:
        return _text(data)
    except UnicodeDecodeError:
        return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
