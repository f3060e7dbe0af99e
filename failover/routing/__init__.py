"""Which targets a call tries, in which order: the members of a pool (target, breaker,
health), the router that plans a call, and the policies that order one tier.
"""

from failover.routing import policies
from failover.routing.router import Member, Plan, Router

__all__ = ["Member", "Plan", "Router", "policies"]
