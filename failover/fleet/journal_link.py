"""`RedisJournal`'s connection to Redis, and the checks of its options.

A `JournalLink` runs the journal's Lua scripts (`failover.fleet.journal_scripts`) and
plain commands, turning a Redis failure into `failover.errors.Unavailable` that names
the server but never its URL (a password may be in it).  It logs an outage once, when
it begins, and once when Redis answers again, not on every call in between.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from failover.errors import ConfigError, Unavailable
from failover.fleet import journal_scripts as lua

try:
    import redis
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("failover.fleet.journal_link needs redis-py: pip install 'multicloud-failover[redis]'") from exc

from failover.fleet.redis_client import describe_client

logger = logging.getLogger("failover.redis")

T = TypeVar("T")
SCRIPTS = ("COUNTS", "RECORD", "SETTLE", "FORGET", "FAILURE", "OWED", "ENTRY", "ROWS", "PRUNE", "LEAVE")


class JournalLink:
    """The journal's scripts registered on ``client``, and its round trips."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.where = describe_client(client)
        self.scripts = {name: client.register_script(getattr(lua, name)) for name in SCRIPTS}
        self._down = False

    def run(self, what: str, script: str, args: list[Any]) -> Any:
        """Run the journal script named ``script`` (for ``what``, the operation in errors)."""
        return self.call(what, lambda: self.scripts[script](keys=[], args=args))

    def call(self, what: str, call: Callable[[], T]) -> T:
        """One round trip; a Redis failure becomes `Unavailable` naming the server, never its URL."""
        try:
            result = call()
        except RedisError as exc:
            raise self.unavailable(what, exc) from exc
        if self._down:
            self._down = False
            logger.info("repair journal on %s reachable again", self.where)
        return result

    def unavailable(self, what: str, exc: RedisError) -> Unavailable:
        """The `Unavailable` for ``exc`` during ``what``; the first of an outage is logged."""
        if not self._down:
            self._down = True
            logger.warning("repair journal on %s unreachable (%s: %s)", self.where, type(exc).__name__, exc)
        return Unavailable(
            f"repair journal ({self.where}) unreachable during {what}: {type(exc).__name__}: {exc}",
            operation="journal",
        )


def check_options(prefix: str, lease: float, wait_replicas: int, wait_timeout: float, refresh_every: float) -> None:
    """`ConfigError` naming the first of `RedisJournal`'s options that is out of range."""
    if not isinstance(prefix, str) or not prefix:
        raise ConfigError(f"prefix: must be a non-empty string, got {prefix!r}")
    for name, value in (("lease", lease), ("wait_timeout", wait_timeout), ("refresh_every", refresh_every)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
            raise ConfigError(f"{name}: must be > 0 seconds, got {value!r}")
    if isinstance(wait_replicas, bool) or not isinstance(wait_replicas, int) or wait_replicas < 0:
        raise ConfigError(f"wait_replicas: must be an int >= 0, got {wait_replicas!r}")


def check_read_timeout(client: redis.Redis, wait_replicas: int, wait_timeout: float) -> None:
    """A socket timeout shorter than WAIT's would cut every WAIT off and refuse every write."""
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", None) or {}
    read_timeout = kwargs.get("socket_timeout")
    if wait_replicas and isinstance(read_timeout, (int, float)) and read_timeout <= wait_timeout:
        raise ConfigError(
            f"wait_timeout: {wait_timeout:g}s does not fit in the client's socket timeout "
            f"({read_timeout:g}s): give the client a socket timeout above it, or use from_url"
        )


__all__ = ["SCRIPTS", "JournalLink", "check_options", "check_read_timeout"]
