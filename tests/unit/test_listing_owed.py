"""A replicated facade's listing answers as the journal does: a key the serving target
still owes is listed as the targets that have it hold it, or left out if it was deleted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover import ObjectInfo
from failover.aio import FailoverStorage as AsyncFailoverStorage
from failover.errors import FailoverError, Unavailable
from failover.providers.memory.aio import AsyncMemoryObjectStore
from tests.unit.replicas import NAMES, Replicas, make_replicas


def keys(listing: list[ObjectInfo]) -> list[str]:
    return [info.key for info in listing]


def written_while_the_primary_was_down(tmp_path: Path) -> Replicas:
    """``k1`` and ``k3`` are on every target; ``k2`` and ``k4`` were written while the
    primary was down and are still owed to it (and, in primary mode, to the third)."""
    rig = make_replicas(tmp_path)
    for key in ("k1", "k3"):
        rig.storage.put(key, key.encode())
    rig.storage.repair()
    rig.chaos[0].down()
    for key in ("k2", "k4"):
        rig.storage.put(key, key.encode())
    rig.heal()  # the primary is back and serves again, before any repair
    return rig


def test_a_listing_from_a_target_that_owes_a_write_lists_the_written_object(tmp_path: Path) -> None:
    rig = written_while_the_primary_was_down(tmp_path)
    try:
        assert sorted(rig.contents(0)) == ["k1", "k3"]  # the primary lacks the new keys
        listing = list(rig.storage.list())
        assert keys(listing) == ["k1", "k2", "k3", "k4"]
        assert [info.size for info in listing] == [2, 2, 2, 2]
    finally:
        rig.storage.close()


def test_a_listing_from_a_target_that_owes_a_delete_leaves_the_deleted_object_out(tmp_path: Path) -> None:
    rig = make_replicas(tmp_path)
    try:
        for key in ("k1", "k2", "k3"):
            rig.storage.put(key, key.encode())
        rig.storage.repair()
        rig.chaos[0].down()
        rig.storage.delete("k2")
        rig.heal()
        assert "k2" in rig.contents(0)  # the delete has not reached the primary yet
        assert keys(list(rig.storage.list())) == ["k1", "k3"]
    finally:
        rig.storage.close()


def test_a_listing_past_an_owed_key_no_target_can_confirm_raises_instead_of_leaving_it_out(
    tmp_path: Path,
) -> None:
    rig = written_while_the_primary_was_down(tmp_path)
    try:
        rig.chaos[1].down()  # the only target holding k2 and k4
        listing = rig.storage.list()
        assert next(listing).key == "k1"
        with pytest.raises(Unavailable) as raised:  # the read of k2 had nowhere else to go
            next(listing)
        assert raised.value.target == NAMES[1]
    finally:
        rig.storage.close()


def test_a_listing_with_a_prefix_merges_only_the_owed_keys_under_it(tmp_path: Path) -> None:
    rig = make_replicas(tmp_path)
    try:
        rig.storage.put("a/1", b"1")
        rig.storage.repair()
        rig.chaos[0].down()
        rig.storage.put("a/2", b"2")
        rig.storage.put("b/1", b"3")
        rig.heal()
        assert keys(list(rig.storage.list("a/"))) == ["a/1", "a/2"]
        assert keys(list(rig.storage.list("b/"))) == ["b/1"]
        assert keys(list(rig.storage.list("c/"))) == []
    finally:
        rig.storage.close()


def test_an_async_listing_from_a_target_that_owes_writes_answers_as_the_journal(tmp_path: Path) -> None:
    rig = written_while_the_primary_was_down(tmp_path)
    rig.storage.delete("k3")  # owed to nobody: every target is up
    rig.chaos[0].down()
    rig.storage.delete("k1")  # owed to the primary
    rig.heal()
    aio = AsyncFailoverStorage.sharing(
        rig.storage, {name: AsyncMemoryObjectStore(store) for name, store in zip(NAMES, rig.stores, strict=True)}
    )

    async def listed() -> list[str]:
        return [info.key async for info in aio.list()]

    try:
        assert sorted(rig.contents(0)) == ["k1"]
        assert asyncio.run(listed()) == ["k2", "k4"]
    finally:
        rig.storage.close()


def test_a_target_restored_empty_and_not_yet_reconciled_does_not_serve_listings(tmp_path: Path) -> None:
    rig = make_replicas(tmp_path, restore_check=30.0)
    try:
        for key in ("k1", "k2", "k3"):
            rig.storage.put(key, key.encode())
        rig.storage.repair()  # every target holds every key, and its marker
        for info in list(rig.stores[0].list()):
            rig.stores[0].delete(info.key)  # the region comes back from an empty backup
        rig.chaos[0].configure(error_rate=1.0, operations=["put"])  # the reconcile cannot write to it
        rig.clock.advance(31.0)
        rig.storage.repair()
        assert rig.storage.replication is not None and rig.storage.replication.guard is not None
        assert rig.storage.replication.guard.suspects == {NAMES[0]}
        rig.heal()  # it takes writes again; the next pass would reconcile it
        assert keys(list(rig.storage.list())) == ["k1", "k2", "k3"]
    finally:
        rig.storage.close()


def test_a_listing_resumed_on_another_target_merges_what_that_target_owes(tmp_path: Path) -> None:
    rig = make_replicas(tmp_path, "all")
    try:
        for key in ("k1", "k3"):
            rig.storage.put(key, key.encode())
        rig.chaos[0].down()
        rig.storage.put("k2", b"k2")  # owed to the first target
        rig.heal()
        rig.chaos[1].down()
        rig.storage.put("k4", b"k4")  # owed to the second target
        rig.heal()
        primary = rig.stores[0]
        listing_of = primary.list

        def fails_after_its_first_item(prefix: str = "") -> Iterator[ObjectInfo]:
            items = listing_of(prefix)
            yield next(items)
            raise Unavailable("connection reset", target=NAMES[0])

        primary.list = fails_after_its_first_item  # type: ignore[method-assign]
        assert keys(list(rig.storage.list())) == ["k1", "k2", "k3", "k4"]
        assert "k4" not in rig.contents(1)  # the second target served the rest without it
    finally:
        rig.storage.close()


def test_an_async_listing_past_an_owed_key_no_target_can_confirm_raises(tmp_path: Path) -> None:
    rig = written_while_the_primary_was_down(tmp_path)
    faces = {name: AsyncMemoryObjectStore(store) for name, store in zip(NAMES, rig.stores, strict=True)}
    aio = AsyncFailoverStorage.sharing(rig.storage, faces)
    rig.storage.force_open(NAMES[1], "drill")  # the only target holding k2 and k4 is out of reach

    async def listed() -> list[str]:
        return [info.key async for info in aio.list()]

    try:
        with pytest.raises(FailoverError) as raised:
            asyncio.run(listed())
        assert NAMES[1] in str(raised.value)
    finally:
        rig.storage.close()
