"""Write modes, read-your-writes, versions and tombstones, on memory + chaos stores and a FakeClock."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from failover import FailoverStorage, Target
from failover.errors import AllTargetsFailed, ConfigError, InvalidInput, NotFound, QuorumNotReached
from failover.providers.memory import MemoryObjectStore
from failover.replication.journal import Payload
from failover.replication.versioning import VERSION_KEY, Versioner, version_of
from tests.unit.replicas import NAMES, make_replicas


def test_primary_acknowledges_after_one_target_and_replicates_on_drain(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    info = r.storage.put("k", b"v1", content_type="text/plain", metadata={"owner": "me"})
    assert r.stores[0].get("k") == b"v1"
    assert "k" not in r.contents(1) and "k" not in r.contents(2)
    assert r.storage.pending() == {NAMES[1]: 1, NAMES[2]: 1}
    assert version_of(info) != ""
    report = r.storage.repair()
    assert (report.repaired, report.remaining) == (2, 0)
    for store in r.stores:
        head = store.head("k")
        assert store.get("k") == b"v1"
        assert head.content_type == "text/plain"
        assert (head.metadata, head.version) == ({"owner": "me"}, version_of(info))
    assert r.storage.pending() == {}


def test_primary_fails_over_and_the_recovered_target_is_repaired(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    r.chaos[0].down()
    r.storage.put("k", b"during outage")
    assert r.stores[1].get("k") == b"during outage"
    assert r.storage.pending() == {NAMES[0]: 1, NAMES[2]: 1}
    r.heal()
    # a is preferred again but lacks the object: the read goes where it exists.
    assert r.storage.get("k") == b"during outage"
    r.storage.repair()
    assert [s.get("k") for s in r.stores] == [b"during outage"] * 3


def test_read_your_writes_skips_a_target_holding_an_older_version(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    r.storage.put("k", b"old")
    r.storage.repair()
    r.chaos[0].down()
    r.storage.put("k", b"new")
    r.heal()
    assert r.stores[0].get("k") == b"old"  # a still holds the old bytes...
    assert r.storage.get("k") == b"new"  # ...so reads avoid it until it is repaired
    assert r.storage.get_range("k", 0, 2) == b"ne"
    assert r.storage.head("k").size == 3


def test_a_delete_replicates_as_a_tombstone_and_reads_do_not_see_the_stale_copy(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    r.storage.put("k", b"v")
    r.storage.repair()
    r.chaos[0].down()
    r.storage.delete("k")
    r.heal()
    assert r.stores[0].get("k") == b"v"
    with pytest.raises(NotFound):
        r.storage.get("k")
    r.storage.repair()
    assert all("k" not in r.contents(i) for i in range(3))
    assert r.storage.replication.journal.tombstone("k") is not None  # type: ignore[union-attr]


def test_a_late_repair_never_resurrects_a_deleted_object(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    r.chaos[2].down()
    r.storage.put("k", b"v")  # c owes the put...
    r.storage.delete("k")  # ...then the delete, which replaces it
    r.heal()
    r.storage.repair()
    assert all("k" not in r.contents(i) for i in range(3))


def test_a_stale_repair_never_overwrites_a_newer_object(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    r.chaos[2].down()
    old = r.storage.put("k", b"old")
    # Another writer put a newer version on c behind our back.
    newer = Versioner("other", floor=version_of(old)).next()
    r.stores[2].put("k", b"newer", metadata={VERSION_KEY: newer})
    r.heal()
    r.storage.repair()
    assert r.stores[2].get("k") == b"newer"
    assert r.storage.pending() == {}


def test_all_writes_every_healthy_target_and_journals_the_down_one(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, "all")
    r.storage.put("k", b"v")
    assert [s.get("k") for s in r.stores] == [b"v"] * 3
    assert r.storage.pending() == {}
    r.chaos[1].down()
    r.storage.put("k2", b"v2")
    assert r.storage.pending() == {NAMES[1]: 1}
    r.heal()
    r.storage.repair()
    assert r.stores[1].get("k2") == b"v2"


def test_all_failing_everywhere_raises_and_leaves_no_intent(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, "all")
    for chaos in r.chaos:
        chaos.down()
    with pytest.raises(AllTargetsFailed):
        r.storage.put("k", b"v")
    assert r.storage.pending() == {}
    assert r.storage.replication.owing == {}  # type: ignore[union-attr]


def test_quorum_acknowledges_after_w_targets(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, "quorum", w=2)
    r.storage.put("k", b"v")
    assert [("k" in r.contents(i)) for i in range(3)] == [True, True, False]
    assert r.storage.pending() == {NAMES[2]: 1}


def test_quorum_not_reached_keeps_the_write_and_converges(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, "quorum", w=2)
    r.chaos[1].down()
    r.chaos[2].down()
    with pytest.raises(QuorumNotReached) as caught:
        r.storage.put("k", b"v")
    assert caught.value.acked == (NAMES[0],)
    assert caught.value.status == "persistent" and caught.value.fails_over
    r.heal()
    r.storage.repair()
    assert [s.get("k") for s in r.stores] == [b"v"] * 3


@pytest.mark.parametrize("w", [0, 4, True])
def test_a_bad_quorum_is_a_config_error(tmp_path: Path, w: int) -> None:
    with pytest.raises(ConfigError, match="Quorum"):
        make_replicas(tmp_path, "quorum", w=w)


def test_writes_must_be_a_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="writes must be"):
        FailoverStorage([Target("m:a", MemoryObjectStore())], writes="primary")  # type: ignore[arg-type]


def test_a_failed_write_restores_what_its_intent_replaced(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    r.chaos[1].down()
    r.chaos[2].down()
    r.storage.put("k", b"v1")  # b and c owe v1
    r.chaos[0].down()
    with pytest.raises(AllTargetsFailed):
        r.storage.put("k", b"v2")
    assert r.storage.pending() == {NAMES[1]: 1, NAMES[2]: 1}
    r.heal()
    r.storage.repair()
    assert [s.get("k") for s in r.stores] == [b"v1"] * 3


def test_the_version_key_is_reserved(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    with pytest.raises(InvalidInput, match="reserved"):
        r.storage.put("k", b"v", metadata={"FailoverVersion": "1"})


def test_streams_and_copies_are_replicated(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    r.storage.put("src", io.BytesIO(b"streamed"), metadata={"a": "b"})
    r.storage.copy("src", "dst")
    r.storage.repair()
    for store in r.stores:
        assert store.get("dst") == b"streamed"
        assert store.head("dst").metadata["a"] == "b"
    assert version_of(r.stores[0].head("dst")) > version_of(r.stores[0].head("src"))


def test_reads_of_keys_nobody_owes_never_touch_sqlite(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    r.storage.put("k", b"v")
    r.storage.repair()
    journal = r.storage.replication.journal  # type: ignore[union-attr]

    class NoSql:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"the read path used SQLite ({name})")

    real, journal._db = journal._db, NoSql()
    try:
        assert r.storage.get("k") == b"v"
        assert r.storage.head("k").size == 1
    finally:
        journal._db = real


def test_large_objects_are_copied_from_a_target_that_has_them(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, inline_limit=0)
    r.storage.put("k", b"big", metadata={"m": "1"})
    assert r.storage.replication.journal.payload("k", version_of(r.stores[0].head("k"))).data is None  # type: ignore[union-attr]
    r.chaos[0].down()
    report = r.storage.repair()
    assert report.waiting == 2  # the only copy is on a target that is down
    r.heal()
    r.storage.repair()
    assert [s.get("k") for s in r.stores] == [b"big"] * 3
    assert r.stores[2].head("k").metadata["m"] == "1"


def test_an_intent_whose_write_never_landed_is_dropped_when_no_copy_exists(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, inline_limit=0)
    journal = r.storage.replication.journal  # type: ignore[union-attr]
    # A crash between the intent and the write: nobody holds the object.
    journal.record("ghost", "00000000000000000001-x", "put", NAMES, payload=Payload(None, None, {}))
    r.rebuild()
    r.outlast_inherited_writes()
    assert r.storage.repair().remaining == 0
    assert all("ghost" not in r.contents(i) for i in range(3))


def test_an_intent_with_its_payload_is_completed_after_a_crash(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    journal = r.storage.replication.journal  # type: ignore[union-attr]
    version = r.storage.replication.versioner.next()  # type: ignore[union-attr]
    meta = {VERSION_KEY: version}
    journal.record("k", version, "put", NAMES, payload=Payload(b"v", None, meta))
    r.stores[0].put("k", b"v", metadata=meta)  # the write landed on a, then the process died
    r.rebuild()
    assert r.storage.get("k") == b"v"
    r.outlast_inherited_writes()
    r.storage.repair()
    assert [s.get("k") for s in r.stores] == [b"v"] * 3


def test_read_repair_fixes_the_owed_targets_on_read(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, read_repair=True)
    r.storage.put("k", b"v")
    assert r.storage.get("k") == b"v"
    assert r.storage.pending() == {}
    assert r.stores[2].get("k") == b"v"


def test_a_rebuilt_facade_continues_above_the_journaled_versions(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    first = version_of(r.storage.put("k", b"v"))
    storage = r.rebuild()
    assert storage.replication.versioner.next() > first  # type: ignore[union-attr]


def test_versions_never_go_backwards_even_when_the_wall_clock_does() -> None:
    times = iter([100, 50, 50])
    versioner = Versioner("w", time_ns=lambda: next(times))
    versions = [versioner.next() for _ in range(3)]
    assert versions == sorted(versions) and len(set(versions)) == 3
    with pytest.raises(ConfigError):
        Versioner("not-ok")


def test_without_a_write_mode_nothing_changes(tmp_path: Path) -> None:
    stores = [MemoryObjectStore(), MemoryObjectStore()]
    storage = FailoverStorage([Target(f"m:{i}", s, priority=i) for i, s in enumerate(stores)])
    storage.put("k", b"v")
    assert "failoverversion" not in stores[0].head("k").metadata
    assert not list(stores[1].list())
    with pytest.raises(InvalidInput, match="no writes= mode"):
        storage.repair()


def test_the_drainer_thread_starts_and_stops_with_the_facade(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    drainer = r.storage.replication.drainer  # type: ignore[union-attr]
    with r.storage:
        assert drainer.running
    assert not drainer.running
    report = drainer.run_once()  # the loop's body, without a thread
    assert report.remaining == 0
