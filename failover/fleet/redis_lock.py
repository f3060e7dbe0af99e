"""A leader lock across machines on Redis, with fencing tokens (the ``redis`` extra).

`RedisLeaderLock` implements `failover.fleet.leader.FencingLock` with redis-py's own `Lock`
(``SET key owner NX PX ttl``, renewed by a script that checks the owner): the holder must
renew it (call `try_acquire` again) within ``ttl`` seconds, or another process takes over.
Each acquisition takes its fencing token from ``INCR key:fence`` in the same script as the
``SET``, so no two holds ever share a token and a later hold always has a larger one.
When Redis cannot be reached the lock reports that this process is not the leader.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from typing import Any

from failover.clock import Clock, SystemClock
from failover.errors import ConfigError
from failover.fleet.leader import check_token
from failover.fleet.redis_client import Lock, LockNotOwnedError, Outage, RedisError, describe_client, redis

logger = logging.getLogger("failover.redis")

# KEYS[1] = the lock, KEYS[2] = its fencing counter; ARGV = owner, ttl in ms.  The token
# is taken in the same atomic step as the lock: 0 means another process holds it.
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"""

# KEYS[1] = the fencing counter; ARGV[1] = a token the next acquisition must exceed.
_ADVANCE = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if count < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
"""


class RedisLeaderLock:
    """A `LeaderLock` across machines: ``SET name owner NX PX ttl``, renewed by its holder.

    `try_acquire` takes the lock if it is free and renews it (back to ``ttl``) if this
    object holds it: call it more often than ``ttl`` (DnsController does, every pass).
    A holder that stops renewing (crashed, partitioned) loses the lock after ``ttl``.
    ``owner`` is stored as the key's value and must be unique per process; the default
    is ``host:pid:random``.  When Redis cannot be reached `try_acquire` returns False:
    leadership that cannot be proven is not assumed.

    `token` is the fencing token of the current hold, from the counter ``name + ":fence"``
    (which never expires).  A Redis that loses its data (no persistence, a failover to a
    replica that lagged) starts counting again from 1; a controller fenced by a larger
    token then calls `advance`, and its next acquisition gets a larger token.
    """

    def __init__(
        self,
        client: redis.Redis,
        name: str,
        *,
        ttl: float = 10.0,
        owner: str | None = None,
        retry_after: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        if ttl <= 0:
            raise ConfigError("RedisLeaderLock: ttl must be > 0")
        self.client = client
        self.name = name
        self.ttl = ttl
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # thread_local=False: DnsController renews from its loop thread and releases from
        # the thread that calls stop(); both must see the same token.
        self._lock = Lock(client, name, timeout=ttl, blocking=False, thread_local=False)
        self.fence_key = name + ":fence"
        self._acquire = client.register_script(_ACQUIRE)
        self._advance = client.register_script(_ADVANCE)
        self._token: int | None = None
        self._mutex = threading.Lock()
        self._outage = Outage(describe_client(client), retry_after, clock or SystemClock())

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._outage.paused():
                return False
            try:
                if self._lock.local.token is not None:
                    try:
                        self._lock.reacquire()  # still ours: back to the full ttl
                        self._outage.succeeded()
                        return True
                    except LockNotOwnedError:
                        # Expired (and perhaps taken): whoever holds it now is the leader.
                        self._lock.local.token = None
                        logger.warning("leader lock %s expired before it was renewed", self.name)
                token = int(self._acquire(keys=[self.name, self.fence_key], args=[self.owner, self._ttl_ms()]))
            except RedisError as exc:
                self._outage.failed(f"leader lock {self.name!r}", exc)
                return False
            self._outage.succeeded()
            if token <= 0:
                return False
            # What redis-py's own acquire would keep: its renewal and release check it.
            encoder: Any = self.client.get_encoder()  # redis-py's Encoder carries no annotations
            self._lock.local.token = encoder.encode(self.owner)
            self._token = token
            return True

    def advance(self, token: int) -> None:
        """Make later acquisitions' tokens larger than ``token`` (see the class docstring)."""
        check_token(token)
        try:
            self._advance(keys=[self.fence_key], args=[token])
        except RedisError as exc:
            self._outage.failed(f"fencing counter of leader lock {self.name!r}", exc)

    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    def release(self) -> None:
        """Give the lock up if this object holds it; otherwise do nothing."""
        with self._mutex:
            if self._lock.local.token is None:
                return
            try:
                self._lock.release()  # a script deletes the key only if it holds our token
            except LockNotOwnedError:
                pass  # it had expired: nothing of ours to release
            except RedisError as exc:
                # The key expires by itself after ttl.
                self._outage.failed(f"release of leader lock {self.name!r}", exc)
            finally:
                self._lock.local.token = None

    @property
    def held(self) -> bool:
        """Whether this object believes it holds the lock (as of its last renewal)."""
        return self._lock.local.token is not None

    @property
    def token(self) -> int | None:
        """The fencing token of the current hold; None when not held."""
        return self._token if self.held else None

    def __repr__(self) -> str:
        return f"RedisLeaderLock({self.name!r}, owner={self.owner!r}, held={self.held}, token={self.token})"


__all__ = ["RedisLeaderLock"]
