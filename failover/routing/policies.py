"""Routing policies: how to order the targets of one tier.

A policy is a small object with ``order(members, rng) -> tuple`` and a ``shuffles``
flag.  A policy that does not shuffle returns the same order for the same members,
so the router computes it once per change; one that shuffles (weighted) is asked on
every call.  Members arrive sorted by priority.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from failover.errors import ConfigError

if TYPE_CHECKING:
    from failover.routing.router import Member


class Policy(Protocol):
    shuffles: bool
    refresh_every: float  # seconds an order stays good without any event (inf: forever)

    def order(self, members: Sequence[Member], rng: random.Random) -> tuple[Member, ...]: ...


class Priority:
    """Lowest ``priority`` first; the rest in order as fallbacks."""

    shuffles = False
    refresh_every = math.inf

    def order(self, members: Sequence[Member], rng: random.Random) -> tuple[Member, ...]:
        return tuple(members)

    def __repr__(self) -> str:
        return "Priority()"


class Weighted:
    """Spread calls by ``weight``; the remaining targets follow as fallbacks.

    The first target of each call is drawn with probability ``weight / total``;
    fallbacks are drawn the same way from the rest.  Zero-weight targets take
    traffic only when every weighted one has failed.
    """

    shuffles = True
    refresh_every = math.inf

    def order(self, members: Sequence[Member], rng: random.Random) -> tuple[Member, ...]:
        pool = [m for m in members if m.weight > 0]
        standby = [m for m in members if m.weight <= 0]
        ordered: list[Member] = []
        while pool:
            pick = rng.uniform(0, sum(m.weight for m in pool))
            for index, member in enumerate(pool):
                pick -= member.weight
                if pick <= 0 or index == len(pool) - 1:
                    ordered.append(pool.pop(index))
                    break
        return (*ordered, *standby)

    def __repr__(self) -> str:
        return "Weighted()"


class LowestLatency:
    """Fastest EWMA latency first, switching only for a clear gain.

    A target whose latency is unknown is tried first, to learn it.  To stop two
    similar targets from trading places on noise, the current leader keeps its
    place unless another is faster by more than ``tolerance`` (a fraction).
    """

    shuffles = False

    def __init__(self, tolerance: float = 0.2, refresh_every: float = 1.0) -> None:
        if not 0 <= tolerance < 10:
            raise ConfigError(f"tolerance must be in [0, 10), got {tolerance}")
        if not refresh_every > 0:
            raise ConfigError(f"refresh_every must be > 0, got {refresh_every}")
        self.tolerance = tolerance
        self.refresh_every = refresh_every
        self._leader: str | None = None

    def order(self, members: Sequence[Member], rng: random.Random) -> tuple[Member, ...]:
        if not members:
            return ()
        ranked = sorted(members, key=lambda m: (m.health.latency or 0.0, m.priority))
        best = ranked[0]
        leader = next((m for m in ranked if m.name == self._leader), None)
        if leader is not None and leader is not best:
            best_latency = best.health.latency or 0.0
            leader_latency = leader.health.latency or 0.0
            if leader_latency <= best_latency * (1 + self.tolerance):
                ranked.remove(leader)
                ranked.insert(0, leader)
        self._leader = ranked[0].name
        return tuple(ranked)

    def __repr__(self) -> str:
        return f"LowestLatency(tolerance={self.tolerance}, refresh_every={self.refresh_every})"


__all__ = ["LowestLatency", "Policy", "Priority", "Weighted"]
