"""State shared by a fleet of processes: leader locks (one controller acts at a time) and,
with the ``redis`` extra, breaker state and locks on Redis (`failover.fleet.redis_store`).
"""

from failover.fleet.leader import FileLeaderLock, LeaderLock

__all__ = ["FileLeaderLock", "LeaderLock"]
