"""The async API: `FailoverStorage` for asyncio services, on native async adapters.

``failover.aio.FailoverStorage`` has the sync facade's semantics (routing, breakers,
health, retry budget, deadline, hedging, the `NotFound` rules) with its calls awaited.
It runs the same engine: the router, `CircuitBreaker`, `TargetHealth`, `RetryBudget`
and classification of `failover.execution` and below; only the cross-target loop
(`failover.aio.executor`) and the hedging race (`failover.aio.hedging`, tasks whose
losers are cancelled) are its own.  `FailoverStorage.sharing` puts an async facade over
a sync facade's pool, so both see one breaker per target.  `failover.aio.virtual` runs
async tests on a `FakeClock`.  Nothing here imports an SDK: the async adapters are
``failover.providers.memory.aio``, ``failover.providers.aws.s3_aio``,
``failover.providers.azure.blob_aio`` and ``failover.providers.gcp.gcs_aio``.
"""

from failover.aio.capabilities import AsyncObjectStore
from failover.aio.executor import AsyncExecutor
from failover.aio.storage import FailoverStorage

__all__ = ["AsyncExecutor", "AsyncObjectStore", "FailoverStorage"]
