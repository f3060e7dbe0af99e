"""Running one logical call across the targets of a pool: the cross-target loop with its
retry budget and deadline, hedged calls, the rules for when a `NotFound` is the truth,
and `Pool`, the machinery (members, router, executor, health checks, status) that every
facade shares.
"""

from failover.execution.executor import ExecutionConfig, Executor
from failover.execution.pool import Pool, ProbeConfig
from failover.execution.status import PoolStatus, TargetStatus

__all__ = ["ExecutionConfig", "Executor", "Pool", "PoolStatus", "ProbeConfig", "TargetStatus"]
