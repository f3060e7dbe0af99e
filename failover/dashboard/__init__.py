"""The live dashboard: a `Dashboard` instrument that facades take (``instruments=[dashboard]``)
and whose ``dashboard.app`` is an ASGI app (Starlette) showing each target's role, health,
breaker, traffic share, latency, replication backlog and last error, and the recent events,
updated every second; ``failover dashboard --config FILE`` serves it with uvicorn.  Needs the
``dashboard`` extra; ``import failover`` never loads it.  See docs/dashboard.md.
"""

from failover.dashboard.app import DashboardUnavailable
from failover.dashboard.instrument import Dashboard

__all__ = ["Dashboard", "DashboardUnavailable"]
