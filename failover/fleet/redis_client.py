"""The Redis client of the fleet's Redis parts (the ``redis`` extra): one that fails fast,
where it points (without credentials), and how an outage of it is told once.

Redis is a helper, never a dependency of a call: the breaker store, the leader lock and
the journal carry on without it, so its client makes one attempt with short timeouts,
and an `Outage` logs one warning per streak of failures and pauses between attempts.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from failover.clock import Clock

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.exceptions import LockNotOwnedError, RedisError
    from redis.lock import Lock
    from redis.retry import Retry
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("failover.fleet needs redis-py for Redis: pip install 'multicloud-failover[redis]'") from exc

logger = logging.getLogger("failover.redis")


def connect(url: str, *, timeout: float = 0.25, **options: Any) -> redis.Redis:
    """A client for the store and the lock that fails fast when Redis is down.

    redis-py's defaults retry a refused connection 10 times with backoff (measured here:
    2.5-4.2 s per command against a closed port); the store runs while a breaker changes
    state, so this client makes one attempt with ``timeout``-second socket timeouts
    (about 5 ms against a closed port).  ``options`` go to `redis.Redis.from_url`.
    """
    options.setdefault("socket_timeout", timeout)
    options.setdefault("socket_connect_timeout", timeout)
    options.setdefault("retry", Retry(NoBackoff(), 0))
    return redis.Redis.from_url(url, **options)


def describe_client(client: Any) -> str:
    """``redis 127.0.0.1:6379/0``: where a client points, without credentials."""
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", None) or {}
    if kwargs.get("path"):
        return f"redis unix:{kwargs['path']}/{kwargs.get('db', 0)}"
    return f"redis {kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


class Outage:
    """Tracks a streak of Redis failures: one warning at its start, one note at its end,
    and a pause of ``retry_after`` seconds between attempts so an outage costs one
    failed round trip per pause, not one per transition."""

    def __init__(self, where: str, retry_after: float, clock: Clock) -> None:
        self._where = where
        self._retry_after = retry_after
        self._clock = clock
        self._mutex = threading.Lock()
        self._failing = False
        self._next_try = 0.0

    def paused(self) -> bool:
        return self._failing and self._clock.monotonic() < self._next_try

    def due(self) -> bool:
        """Whether a streak of failures is past its pause: time to try Redis again."""
        return self._failing and self._clock.monotonic() >= self._next_try

    def failed(self, what: str, exc: BaseException) -> None:
        with self._mutex:
            first = not self._failing
            self._failing = True
            self._next_try = self._clock.monotonic() + self._retry_after
        if first:
            # str(exc) from redis-py names host:port and the OS error, never credentials.
            logger.warning(
                "%s unreachable during %s (%s: %s); carrying on without it",
                self._where,
                what,
                type(exc).__name__,
                exc,
            )

    def succeeded(self) -> None:
        if self._failing:
            with self._mutex:
                was, self._failing = self._failing, False
            if was:
                logger.info("%s reachable again", self._where)


# redis-py's names the other Redis modules use, imported here behind the one guard.
__all__ = ["Lock", "LockNotOwnedError", "Outage", "RedisError", "connect", "describe_client", "redis"]
