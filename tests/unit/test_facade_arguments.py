"""The facades' keywords are written out: help() shows them, a misspelled one is refused by
name, and each reaches the `Pool` (or `reconcile`) with the default it has there."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from failover import FailoverCompute, FailoverDNS, FailoverStorage, Target
from failover.execution.pool import Pool
from failover.facades.base import Facade
from failover.providers.memory import MemoryCompute, MemoryDnsZone, MemoryObjectStore
from failover.replication.reconcile import reconcile

FACADES: dict[type[Facade[Any]], Callable[[], object]] = {
    FailoverStorage: MemoryObjectStore,
    FailoverDNS: lambda: MemoryDnsZone("example.com."),
    FailoverCompute: MemoryCompute,
}
# Set by each facade itself, never by its caller.
POOL_INTERNAL = {"targets", "capability", "read_operations", "hedged_operations"}
# Keywords of the facade itself, not of the pool: a write mode, and telemetry.
OWN = {
    FailoverStorage: {"writes", "instruments"},
    FailoverDNS: {"writes", "instruments"},
    FailoverCompute: {"instruments"},
}


def keywords(function: Callable[..., object], leave_out: set[str]) -> dict[str, inspect.Parameter]:
    parameters = inspect.signature(function).parameters.values()
    return {p.name: p for p in parameters if p.kind is p.KEYWORD_ONLY and p.name not in leave_out}


def targets(facade: type[Facade[Any]]) -> list[Target[Any]]:
    return [Target("memory:a", FACADES[facade]())]


@pytest.mark.parametrize("facade", FACADES, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "name",
    [
        "failback_afer",  # misspelled
        # Each facade sets these itself:
        "capability",
        "read_operations",
        "hedged_operations",
    ],
)
def test_an_unknown_keyword_is_refused_by_the_facade_naming_it(facade: type[Facade[Any]], name: str) -> None:
    with pytest.raises(TypeError, match=rf"__init__\(\) got an unexpected keyword argument '{name}'") as caught:
        facade(targets(facade), **{name: 1})
    # Refused as Python binds the facade's arguments, before any code of the library runs.
    assert Path(caught.traceback[-1].path) == Path(__file__)


@pytest.mark.parametrize("facade", FACADES, ids=lambda f: f.__name__)
def test_a_facade_takes_every_keyword_of_the_pool_with_its_default(facade: type[Facade[Any]]) -> None:
    pool = keywords(Pool.__init__, POOL_INTERNAL)
    own = keywords(facade.__init__, OWN[facade])
    assert [(p.name, p.default, p.annotation) for p in own.values()] == [
        (p.name, p.default, p.annotation) for p in pool.values()
    ]


@pytest.mark.parametrize("facade", FACADES, ids=lambda f: f.__name__)
def test_every_keyword_reaches_the_pool(facade: type[Facade[Any]]) -> None:
    given = {name: object() for name in keywords(Pool.__init__, POOL_INTERNAL)}
    with mock.patch("failover.facades.base.Pool") as pool:
        facade(targets(facade), **given)
    (passed,) = pool.call_args_list
    assert {name: passed.kwargs[name] for name in given} == given


def test_storage_reconcile_takes_the_keywords_of_reconcile_with_their_defaults() -> None:
    theirs = keywords(reconcile, {"journal"})
    ours = keywords(FailoverStorage.reconcile, set())
    assert [(p.name, p.default) for p in ours.values()] == [(p.name, p.default) for p in theirs.values()]
    storage = FailoverStorage(targets(FailoverStorage))
    with pytest.raises(TypeError, match=r"reconcile\(\) got an unexpected keyword argument 'verfy'"):
        storage.reconcile(verfy=True)  # type: ignore[call-arg]
