"""Circuit breakers: one per target, cheap when closed, never holding a lock across a call.

`CircuitBreaker` decides from a sliding window of outcomes (`failover.windows`) when a
target stops getting calls and when it gets a trial call again; `BreakerStore` is where
a fleet of processes keeps the state they share (`failover.fleet` has the Redis one).
"""

from failover.breaker.circuit import BreakerConfig, BreakerState, CircuitBreaker
from failover.breaker.store import BreakerStore, MemoryBreakerStore

__all__ = ["BreakerConfig", "BreakerState", "BreakerStore", "CircuitBreaker", "MemoryBreakerStore"]
