"""In-memory providers: fast, thread-safe fakes with the full semantics of each capability.

They are the reference the contract suite (tests/contract) holds every cloud adapter to,
and what unit tests and examples run against.  Wrap one in `failover.providers.chaos.ChaosProvider`
to make it fail on demand.
"""

from __future__ import annotations

from failover.providers.memory.compute import DEFAULT_IMAGES, DEFAULT_INSTANCE_TYPES, MemoryCompute
from failover.providers.memory.dns import RECORD_TYPES, MemoryDnsZone
from failover.providers.memory.storage import MemoryObjectStore

__all__ = [
    "DEFAULT_IMAGES",
    "DEFAULT_INSTANCE_TYPES",
    "RECORD_TYPES",
    "MemoryCompute",
    "MemoryDnsZone",
    "MemoryObjectStore",
]
