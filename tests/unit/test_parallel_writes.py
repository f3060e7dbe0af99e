"""Replicated writes go to their targets at the same time: All to every target, Quorum(w) to w."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest

from failover import FailoverStorage, Target, replication
from failover.capabilities import ObjectInfo
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from failover.replication.anti_entropy import MARKER_PREFIX

NAMES = ("memory:a", "memory:b", "memory:c")


class Meeting(MemoryObjectStore):
    """A store whose put waits until ``barrier.parties`` puts are in flight at once: with
    writes one after another, the barrier breaks and the put fails."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__()
        self.barrier = barrier
        self.puts = 0

    def put(self, key: str, data: bytes, **options: Any) -> ObjectInfo:
        if not key.startswith(MARKER_PREFIX):  # the library's own marker objects go through
            self.puts += 1
            self.barrier.wait(timeout=5.0)
        return super().put(key, data, **options)


def storage(stores: list[Any], mode: replication.WriteMode) -> FailoverStorage:
    targets = [Target(name, store, priority=i) for i, (name, store) in enumerate(zip(NAMES, stores, strict=True))]
    return FailoverStorage(targets, writes=mode)


def test_all_writes_every_target_at_once(tmp_path: Path) -> None:
    barrier = threading.Barrier(3)
    stores = [Meeting(barrier) for _ in NAMES]
    facade = storage(stores, replication.All(journal=tmp_path / "j.sqlite"))  # not started: no drainer
    facade.put("k", b"v")
    assert facade.pending() == {}
    facade.close()
    assert [s.get("k") for s in stores] == [b"v"] * 3


def test_quorum_writes_its_w_targets_at_once_and_journals_the_rest(tmp_path: Path) -> None:
    barrier = threading.Barrier(2)
    stores = [Meeting(barrier) for _ in NAMES]
    facade = storage(stores, replication.Quorum(2, journal=tmp_path / "j.sqlite"))  # no drainer: the third stays owed
    facade.put("k", b"v")
    assert [s.puts for s in stores] == [1, 1, 0]
    assert facade.pending() == {NAMES[2]: 1}
    facade.close()


def test_a_quorum_member_that_fails_is_replaced_by_the_next_target(tmp_path: Path) -> None:
    down = ChaosProvider(MemoryObjectStore())
    down.down()
    stores: list[Any] = [MemoryObjectStore(), down, MemoryObjectStore()]
    with storage(stores, replication.Quorum(2, journal=tmp_path / "j.sqlite")) as facade:
        facade.put("k", b"v")
        assert stores[0].get("k") == b"v" and stores[2].get("k") == b"v"
        assert facade.pending() == {NAMES[1]: 1}


def test_the_answer_is_the_preferred_targets_whoever_was_fastest(tmp_path: Path) -> None:
    slow_first = threading.Event()

    class Slow(MemoryObjectStore):
        def put(self, key: str, data: bytes, **options: Any) -> ObjectInfo:
            slow_first.wait(timeout=5.0)  # finishes after the others
            return dataclasses.replace(super().put(key, data, **options), etag="from-the-preferred")

    class Fast(MemoryObjectStore):
        def put(self, key: str, data: bytes, **options: Any) -> ObjectInfo:
            info = super().put(key, data, **options)
            slow_first.set()
            return info

    stores: list[Any] = [Slow(), Fast(), Fast()]
    with storage(stores, replication.All(journal=tmp_path / "j.sqlite")) as facade:
        info = facade.put("k", b"v")
    assert info.etag == "from-the-preferred"


def test_a_write_refused_everywhere_raises_the_callers_error(tmp_path: Path) -> None:
    class Broken(MemoryObjectStore):
        def put(self, key: str, data: bytes, **options: Any) -> ObjectInfo:
            raise UnicodeEncodeError("ascii", "ü", 0, 1, "no")

    facade = storage([Broken(), Broken(), Broken()], replication.All(journal=tmp_path / "j.sqlite"))
    with pytest.raises(UnicodeEncodeError):
        facade.put("k", b"v")
    facade.close()


def test_an_interrupted_write_keeps_the_intent_for_the_targets_that_lack_it(tmp_path: Path) -> None:
    import os
    import signal

    release = threading.Event()

    class SlowThenDown(MemoryObjectStore):
        def put(self, key: str, data: bytes, **options: Any) -> ObjectInfo:
            if key.startswith(MARKER_PREFIX):
                return super().put(key, data, **options)
            release.wait(timeout=5.0)
            raise ConnectionResetError("the region went away mid-write")

    fast, slow = MemoryObjectStore(), SlowThenDown()
    facade = FailoverStorage(
        [Target(NAMES[0], fast), Target(NAMES[1], slow, priority=1)], writes=replication.All(journal=tmp_path / "j")
    )

    def interrupt_then_fail() -> None:
        while "k" not in {i.key for i in fast.list()}:  # the fast target took it
            threading.Event().wait(0.001)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the slow send is in flight
        threading.Event().wait(0.2)  # the caller is interrupted before the slow send ends
        release.set()

    threading.Thread(target=interrupt_then_fail, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        facade.put("k", b"v")
    assert fast.get("k") == b"v"
    assert facade.pending() == {NAMES[1]: 1}, "the slow target lacks it: the journal must say so"
    facade.close()
