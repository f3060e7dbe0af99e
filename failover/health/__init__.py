"""Health of each target: passive statistics from real calls, active probes, and the
thread that runs the probes on their intervals.
"""

from failover.health.checker import HealthChecker
from failover.health.probes import Probe, ProviderProbe
from failover.health.target_health import HealthConfig, TargetHealth

__all__ = ["HealthChecker", "HealthConfig", "Probe", "ProviderProbe", "TargetHealth"]
