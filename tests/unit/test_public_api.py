"""The public surface, pinned: what ``failover`` exports is written out here, and every module
says in ``__all__`` exactly which of its names are public, so adding or dropping one is a
decision a diff shows."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import failover

EXPORTED = [
    "BreakerConfig",
    "BreakerState",
    "Capability",
    "CircuitBreaker",
    "Compute",
    "DnsZone",
    "ExecutionConfig",
    "FailoverCompute",
    "FailoverDNS",
    "FailoverStorage",
    "FakeClock",
    "HealthConfig",
    "Instance",
    "InstanceSpec",
    "InstanceState",
    "LoggingListener",
    "ObjectInfo",
    "ObjectStore",
    "PoolStatus",
    "ProbeConfig",
    "Record",
    "StandbyPool",
    "SystemClock",
    "Target",
    "TargetStatus",
    "__version__",
    "errors",
    "policies",
    "replication",
]

def public_module_names() -> list[str]:
    """Every module of the package (adapters included) with no ``_``-prefixed part."""
    found = pkgutil.walk_packages(failover.__path__, "failover.")
    names = ["failover", *(m.name for m in found)]
    return sorted(n for n in names if not any(part.startswith("_") for part in n.split(".")))


PUBLIC_MODULES = public_module_names()


def load(name: str) -> ModuleType:
    # Every SDK is installed for the suite (the dev extra): a module that cannot be
    # imported fails its test.
    return importlib.import_module(name)


def declared(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module.__name__} declares no __all__"
    return list(names)


def defined_here(module: ModuleType) -> set[str]:
    """The public classes and functions the module defines itself (not those it imports)."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }


def test_failover_exports_exactly_the_written_out_names() -> None:
    assert sorted(failover.__all__) == sorted(EXPORTED)


def test_a_star_import_of_failover_gives_exactly_its_exports() -> None:
    namespace: dict[str, object] = {}
    exec("from failover import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == sorted(EXPORTED)
    assert all(namespace[name] is getattr(failover, name) for name in EXPORTED)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_name_in_all_exists(name: str) -> None:
    module = load(name)
    names = declared(module)
    assert [n for n in names if not hasattr(module, n)] == []
    assert len(set(names)) == len(names), "a name is listed twice"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_lists_every_public_class_and_function_defined_in_the_module(name: str) -> None:
    module = load(name)
    assert sorted(defined_here(module) - set(declared(module))) == []
