"""Package exports that import their submodule on first use (PEP 562).

A package whose names need an optional dependency (a cloud SDK, redis-py) lists them
here instead of importing them, so importing the package stays light and the
dependency loads only with the name that needs it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType


def lazy_exports(
    package: str, submodules: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` (PEP 562): each name listed under a
    submodule is imported from ``package.submodule`` when first asked for."""
    home = MappingProxyType({name: submodule for submodule, names in submodules.items() for name in names})

    def __getattr__(name: str) -> object:
        try:
            submodule = home[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        # The import system caches the submodule: later lookups cost a dictionary access.
        return getattr(importlib.import_module(f"{package}.{submodule}"), name)

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *home})

    return __getattr__, __dir__


__all__ = ["lazy_exports"]
