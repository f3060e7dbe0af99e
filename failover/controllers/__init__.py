"""Loops that act on the world on their own schedule: the DNS controller, which keeps a
record pointing at healthy endpoints, and the standby pool, which keeps instances of a
role running across regions and clouds.
"""

from failover.controllers.dns_controller import DnsController
from failover.controllers.standby import StandbyPool

__all__ = ["DnsController", "StandbyPool"]
