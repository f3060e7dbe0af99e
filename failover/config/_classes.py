"""What a facade section's tables become: the library's config classes, and the routing policy.

``breaker``, ``health``, ``health_checks`` and ``execution`` each name a config class of
the library (`CONFIG_CLASSES`), looked up only when a file is built; ``policy`` names a
routing policy, which `build_policy` builds.  `failover.config.setup` builds the facades from
them; the mapping from a table to the class it becomes stands here, apart from that
building, so a new table of settings is one entry in this short module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from failover.config.schema import FacadeSection, set_fields

if TYPE_CHECKING:
    from failover.routing.policies import Policy


def _breaker_config() -> Any:
    from failover.breaker.circuit import BreakerConfig

    return BreakerConfig


def _health_config() -> Any:
    from failover.health.target_health import HealthConfig

    return HealthConfig


def _probe_config() -> Any:
    from failover.execution.pool import ProbeConfig

    return ProbeConfig


def execution_config() -> Any:
    """`failover.execution.executor.ExecutionConfig` (the storage facade reads its attempt timeout)."""
    from failover.execution.executor import ExecutionConfig

    return ExecutionConfig


# Table of a facade section -> the library's config class it becomes (imported when used).
CONFIG_CLASSES: Mapping[str, Callable[[], Any]] = MappingProxyType(
    {
        "breaker": _breaker_config,
        "health": _health_config,
        "health_checks": _probe_config,
        "execution": execution_config,
    }
)


def build_policy(section: FacadeSection) -> Policy:
    """The routing policy the section's ``policy`` table names (priority when it names none)."""
    from failover.routing.policies import LowestLatency, Priority, Weighted

    policy = section.policy
    if policy.kind == "weighted":
        return Weighted()
    if policy.kind == "lowest_latency":
        parameters = set_fields(policy)
        parameters.pop("kind", None)
        return LowestLatency(**parameters)
    return Priority()


__all__ = ["CONFIG_CLASSES", "build_policy", "execution_config"]
