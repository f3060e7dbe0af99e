"""Fault injection for any provider: errors, throttling, latency, blackholes and outage windows.

``ChaosProvider(MemoryObjectStore(), seed=7, clock=fake_clock)`` behaves like the store
it wraps until told otherwise (``configure``, ``down``, ``schedule_outage``), and is
deterministic for a seed, so game-day and unit tests replay exactly.
"""

from __future__ import annotations

from failover.providers.chaos.provider import ChaosProvider, FencedChaosProvider
from failover.providers.chaos.settings import FAULT_KINDS, OUTAGE_KINDS, ChaosSettings, Outage, OutageKind

__all__ = [
    "FAULT_KINDS",
    "OUTAGE_KINDS",
    "ChaosProvider",
    "ChaosSettings",
    "FencedChaosProvider",
    "Outage",
    "OutageKind",
]
