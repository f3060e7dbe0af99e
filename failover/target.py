"""A target: one provider in one region, with its place in the routing order."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from failover.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(:[A-Za-z0-9_.-]+)?$")

# The provider's type.  Defaulting to Any keeps a bare ``Target`` meaning what it always
# did; covariant since a target never changes its provider, so a ``Target[S3Store]`` is a
# ``Target[ObjectStore]`` wherever the store satisfies the protocol.
# The default (PEP 696) is only for type checkers: `typing` has it from Python 3.13, and
# at run time a plain TypeVar behaves the same, so the core needs no typing_extensions.
if TYPE_CHECKING:
    from typing_extensions import TypeVar as DefaultedTypeVar

    P_co = DefaultedTypeVar("P_co", covariant=True, default=Any)
else:
    P_co = TypeVar("P_co", covariant=True)


@dataclass(frozen=True, eq=False)
class Target(Generic[P_co]):
    """``Target("aws:us-east-1", S3Store(...), priority=0)``.

    ``name`` is ``cloud:region`` by convention; it names the target in errors, events,
    metrics and status.  Lower ``priority`` is preferred.  ``weight`` is the share
    of traffic under weighted routing (0 keeps the target for failover only).
    The type parameter is the provider's type (``Target[ObjectStore]``), inferred
    from ``provider``.
    """

    name: str
    provider: P_co = field(repr=False)
    priority: int = 0
    weight: float = 1.0
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name) or len(self.name) > 100:
            raise ConfigError(
                f"invalid target name {self.name!r}: use 'cloud:region' with letters, digits, '.', '_' or '-'"
            )
        if self.provider is None:
            raise ConfigError(f"target {self.name} has no provider")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise ConfigError(f"target {self.name}: priority must be an int, not {self.priority!r}")
        if not isinstance(self.weight, (int, float)) or isinstance(self.weight, bool) or not self.weight >= 0:
            raise ConfigError(f"target {self.name}: weight must be a number >= 0, not {self.weight!r}")
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))

    @property
    def cloud(self) -> str:
        return self.name.partition(":")[0]

    @property
    def region(self) -> str:
        return self.name.partition(":")[2]

    def __repr__(self) -> str:
        return f"Target({self.name!r}, priority={self.priority}, weight={self.weight})"


__all__ = ["Target"]
