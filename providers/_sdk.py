"""The optional SDKs: the error that names the extra installing a missing one, and package
exports that import their submodule on first use.

Each cloud SDK comes with an extra of its own (``pip install 'multicloud-failover[gcs]'``),
so a storage user never installs, or imports, a compute SDK.  Every module that imports
an SDK does so inside one guard::

    try:
        from google.cloud import storage
    except ImportError as exc:
        raise missing_sdk(__name__, "gcs", exc) from exc

and each cloud package's ``__init__`` resolves its names lazily (`lazy_exports`): importing
``GCSStore`` from ``failover.providers.gcp`` loads ``gcs.py`` and its SDK, nothing else.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

DISTRIBUTION = "multicloud-failover"


def install_command(extra: str) -> str:
    """The command that installs ``extra``, quoted for a shell (brackets are glob characters)."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def missing_sdk(needed_by: str, extra: str, exc: ImportError) -> ImportError:
    """The error to raise when ``needed_by`` (a module, or what a call builds) cannot import
    the SDK that ``extra`` installs: one line that keeps Python's own message."""
    return ImportError(f"{needed_by} needs the {extra!r} extra ({exc}): {install_command(extra)}", name=exc.name)


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


__all__ = ["DISTRIBUTION", "install_command", "lazy_exports", "missing_sdk"]
