"""The arguments of a `DnsController`, checked before anything is built: an absolute record
name, a type it can publish (A, AAAA, CNAME, TXT), endpoints that are distinct and, for A and
AAAA, addresses in the canonical form providers give back, distinct providers, TTLs in DNS's
range.  It stands apart from the controller because it runs once and holds nothing: each rule
is a `ConfigError` at construction, and the running controller never has to think of it again.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from failover.errors import ConfigError
from failover.target import Target

if TYPE_CHECKING:
    from failover.controllers.dns_controller import Endpoint

_TYPES = frozenset({"A", "AAAA", "CNAME", "TXT"})


def validate(
    name: str,
    type: str,
    endpoints: Sequence[Endpoint],
    providers: Sequence[Target],
    mode: str,
    ttl: int,
    min_ttl: int,
    failback_after: float,
) -> None:
    if not isinstance(name, str) or not name.endswith("."):
        raise ConfigError(f"record name must be an absolute name ending in '.', got {name!r}")
    if not isinstance(type, str) or type.upper() not in _TYPES:
        raise ConfigError(f"record type must be one of {sorted(_TYPES)}, got {type!r}")
    if mode not in ("failover", "multivalue"):
        raise ConfigError(f"mode must be 'failover' or 'multivalue', got {mode!r}")
    if not endpoints:
        raise ConfigError("DnsController needs at least one endpoint")
    if len({e.value for e in endpoints}) != len(endpoints):
        raise ConfigError("two endpoints have the same value")
    for endpoint in endpoints:
        _check_address(type.upper(), endpoint.value)
    if type.upper() == "CNAME" and mode == "multivalue":
        raise ConfigError("a CNAME holds one value: use mode='failover'")
    if not providers:
        raise ConfigError("DnsController needs at least one DNS provider")
    if len({t.name for t in providers}) != len(providers):
        raise ConfigError("two DNS providers have the same target name")
    for value in (ttl, min_ttl):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2_147_483_647:
            raise ConfigError(f"TTLs must be whole seconds in [0, 2147483647], got {value!r}")
    if not (isinstance(failback_after, (int, float)) and math.isfinite(failback_after) and failback_after >= 0):
        raise ConfigError(f"failback_after must be >= 0 seconds, got {failback_after!r}")


def _check_address(type: str, value: str) -> None:
    """A and AAAA endpoints are addresses in canonical form (what providers give back)."""
    if type not in ("A", "AAAA"):
        return
    cls = ipaddress.IPv4Address if type == "A" else ipaddress.IPv6Address
    try:
        canonical = str(cls(value))
    except ValueError:
        raise ConfigError(f"endpoint {value!r} is not an IPv{cls.version} address (record type {type})") from None
    if canonical != value:
        raise ConfigError(f"endpoint {value!r}: write it as {canonical!r}, the form DNS providers return")


__all__ = ["validate"]
