"""A replicated write is journaled for every target that lacks it, or made nowhere: an
exception no adapter mapped (an SDK's own) never leaves a half-write unjournaled."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover import FakeClock, replication
from failover.facades.storage import FailoverStorage
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from failover.replication.anti_entropy import MARKER_PREFIX
from failover.replication.modes import WriteMode
from tests.unit.replicas import NAMES, build
from tests.unit.stores import PutHook


class Encoding(PutHook):
    """Raises what an SDK raises for a header it cannot encode, as no adapter maps it."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.broken = True

    def before_put(self, key: str) -> None:
        if self.broken and not key.startswith(MARKER_PREFIX):
            raise UnicodeEncodeError("latin-1", "\u2603", 0, 1, "ordinal not in range(256)")


def storage_with(tmp_path: Path, mode: str, broken: list[int]) -> tuple[FailoverStorage, list[MemoryObjectStore]]:
    clock = FakeClock()
    stores = [Encoding(clock) if i in broken else MemoryObjectStore(clock=clock) for i in range(3)]
    chaos = [ChaosProvider(s, seed=i, clock=clock) for i, s in enumerate(stores)]
    path = tmp_path / "j.sqlite"
    write_mode: WriteMode = (
        replication.All(journal=path, repair_workers=1)
        if mode == "all"
        else replication.Quorum(2, journal=path, repair_workers=1)
    )
    return build(chaos, clock, write_mode), stores


@pytest.mark.parametrize("mode", ["all", "quorum"])
def test_an_unmapped_error_from_a_later_target_keeps_the_write_journaled_for_it(tmp_path: Path, mode: str) -> None:
    storage, stores = storage_with(tmp_path, mode, broken=[1])
    storage.put("k", b"v")  # a and c took it: acknowledged
    assert stores[0].get("k") == stores[2].get("k") == b"v"
    assert storage.pending() == {NAMES[1]: 1}
    # A repair meets the same refusal: quarantined, not an exception out of the pass.
    report = storage.repair()
    assert report.quarantined == 1
    assert [f.key for f in storage.failed()] == ["k"]
    broken = stores[1]
    assert isinstance(broken, Encoding)
    broken.broken = False
    storage.put("k", b"v2")
    storage.repair()
    assert storage.pending() == {} and stores[1].get("k") == b"v2"


def test_an_unmapped_error_from_a_later_target_after_a_quorum_of_one_is_still_journaled(tmp_path: Path) -> None:
    # Quorum(2) of three, two of them broken: the one that took it keeps it; the others owe it.
    storage, stores = storage_with(tmp_path, "quorum", broken=[1, 2])
    with pytest.raises(Exception) as caught:
        storage.put("k", b"v")
    assert type(caught.value).__name__ == "QuorumNotReached"
    assert stores[0].get("k") == b"v"
    assert storage.pending() == {NAMES[1]: 1, NAMES[2]: 1}


def test_an_unmapped_error_from_every_target_is_raised_unchanged_and_nothing_is_journaled(tmp_path: Path) -> None:
    storage, stores = storage_with(tmp_path, "all", broken=[0, 1, 2])
    with pytest.raises(UnicodeEncodeError):
        storage.put("k", b"v")
    assert storage.pending() == {}
    assert all(not list(s.list()) for s in stores)
