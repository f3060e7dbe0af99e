"""State shared by a fleet of processes: leader locks with fencing tokens (one controller
acts at a time, and a stale one's writes are refused), and, with the ``redis`` extra,
breaker state pushed to every process, a Redis leader lock and a shared repair journal.

``from failover.fleet import RedisBreakerStore`` loads redis-py with the Redis module
only; the file lock and the fencing protocols need nothing beyond the standard library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from failover.fleet.leader import FencedDnsZone, FencingLock, FileLeaderLock, LeaderLock, fence_name
from failover.lazy import lazy_exports

if TYPE_CHECKING:
    from failover.fleet.redis_journal import RedisJournal
    from failover.fleet.redis_lock import RedisLeaderLock
    from failover.fleet.redis_store import RedisBreakerStore

__all__ = [
    "FencedDnsZone",
    "FencingLock",
    "FileLeaderLock",
    "LeaderLock",
    "RedisBreakerStore",
    "RedisJournal",
    "RedisLeaderLock",
    "fence_name",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {"redis_store": ("RedisBreakerStore",), "redis_lock": ("RedisLeaderLock",), "redis_journal": ("RedisJournal",)},
)
