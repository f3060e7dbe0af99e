"""What applications call: one object store, DNS zone or compute service made of several
targets, with failover between them.
"""

from failover.facades.compute import FailoverCompute
from failover.facades.dns import FailoverDNS
from failover.facades.storage import FailoverStorage

__all__ = ["FailoverCompute", "FailoverDNS", "FailoverStorage"]
