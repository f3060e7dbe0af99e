"""multicloud-failover: keep working when a cloud region or a whole provider fails.

Build a facade over `Target`s (one provider in one region each)::

    from failover import FailoverStorage, Target, policies
    store = FailoverStorage([Target("aws:us-east-1", s3, priority=0),
                             Target("gcp:europe-west1", gcs, priority=1)],
                            policy=policies.Priority())
    store.get("reports/q3.pdf")

Each call goes to the healthiest target; temporary errors fail over to the next one.
"""

from failover import errors, replication
from failover.breaker.circuit import BreakerConfig, BreakerState, CircuitBreaker
from failover.capabilities import (
    Capability,
    Compute,
    DnsZone,
    Instance,
    InstanceSpec,
    InstanceState,
    ObjectInfo,
    ObjectStore,
    Record,
)
from failover.clock import FakeClock, SystemClock
from failover.controllers.standby import StandbyPool
from failover.events import LoggingListener
from failover.execution.executor import ExecutionConfig
from failover.execution.pool import ProbeConfig
from failover.execution.status import PoolStatus, TargetStatus
from failover.facades.compute import FailoverCompute
from failover.facades.dns import FailoverDNS
from failover.facades.storage import FailoverStorage
from failover.health.target_health import HealthConfig
from failover.routing import policies
from failover.target import Target

__version__ = "0.1.0"

__all__ = [
    "BreakerConfig",
    "BreakerState",
    "Capability",
    "CircuitBreaker",
    "Compute",
    "DnsZone",
    "ExecutionConfig",
    "FailoverCompute",
    "FailoverDNS",
    "FailoverStorage",
    "FakeClock",
    "HealthConfig",
    "Instance",
    "InstanceSpec",
    "InstanceState",
    "LoggingListener",
    "ObjectInfo",
    "ObjectStore",
    "PoolStatus",
    "ProbeConfig",
    "Record",
    "StandbyPool",
    "SystemClock",
    "Target",
    "TargetStatus",
    "__version__",
    "errors",
    "policies",
    "replication",
]
