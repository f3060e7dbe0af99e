"""reconcile(): divergence found by listing and checksum, repaired, resumable; the CLI subcommand."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover import Target
from failover.cli.main import main
from failover.errors import ConfigError
from failover.providers.memory import MemoryObjectStore
from failover.replication.journal import Journal
from failover.replication.reconcile import reconcile
from failover.replication.versioning import VERSION_KEY
from tests.unit.replicas import make_replicas

V1 = "00000000000000000001-w"
V2 = "00000000000000000002-w"


def three() -> tuple[list[MemoryObjectStore], list[Target]]:
    stores = [MemoryObjectStore() for _ in range(3)]
    return stores, [Target(f"m:{n}", s, priority=i) for i, (n, s) in enumerate(zip("abc", stores, strict=True))]


def test_agreeing_targets_report_nothing() -> None:
    stores, targets = three()
    for store in stores:
        store.put("k", b"v", metadata={VERSION_KEY: V1})
    report = reconcile(targets)
    assert (report.scanned, report.divergent, report.ok) == (1, [], True)


def test_missing_older_and_different_replicas_are_found_and_repaired() -> None:
    stores, targets = three()
    stores[0].put("missing", b"m", metadata={VERSION_KEY: V1})
    stores[0].put("older", b"old", metadata={VERSION_KEY: V1})
    stores[1].put("older", b"new", metadata={VERSION_KEY: V2}, content_type="text/plain")
    stores[2].put("older", b"new", metadata={VERSION_KEY: V2}, content_type="text/plain")
    for store in stores:
        store.put("bytes", b"same", metadata={VERSION_KEY: V1})
    stores[2].put("bytes", b"rot!", metadata={VERSION_KEY: V1})
    report = reconcile(targets)
    found = {(d.key, d.action, d.source, d.targets) for d in report.divergent}
    assert found == {
        ("missing", "copy", "m:a", ("m:b", "m:c")),
        ("older", "copy", "m:b", ("m:a",)),
        ("bytes", "copy", "m:a", ("m:c",)),
    }
    assert report.dry_run and not report.ok
    assert stores[1].list() and "missing" not in {i.key for i in stores[1].list()}  # a dry run writes nothing
    report = reconcile(targets, repair=True)
    assert report.repaired == 3 and report.ok
    for store in stores:
        assert store.get("missing") == b"m"
        assert store.get("older") == b"new"
        assert store.head("older").content_type == "text/plain"
        assert store.head("older").version == V2  # the version is not user metadata
        assert store.get("bytes") == b"same"
    assert reconcile(targets).divergent == []


def test_a_tombstone_deletes_instead_of_resurrecting(tmp_path: Path) -> None:
    stores, targets = three()
    stores[1].put("k", b"v", metadata={VERSION_KEY: V1})
    journal = Journal(tmp_path / "j.sqlite")
    journal.record("k", V2, "delete", ["m:b"])
    report = reconcile(targets, journal=journal, repair=True)
    assert [(d.action, d.targets) for d in report.divergent] == [("delete", ("m:b",))]
    assert not list(stores[1].list())


def test_a_checkpoint_resumes_after_the_last_key_done(tmp_path: Path) -> None:
    stores, targets = three()
    for i in range(250):
        stores[0].put(f"k{i:03d}", b"x")
    checkpoint = tmp_path / "reconcile.json"

    class Stop(Exception):
        pass

    def interrupt(done: int, total: int) -> None:
        if done == 150:
            raise Stop

    with pytest.raises(Stop):
        reconcile(targets, repair=True, checkpoint=checkpoint, progress=interrupt)
    assert json.loads(checkpoint.read_text())["last_key"] == "k099"
    report = reconcile(targets, repair=True, checkpoint=checkpoint)
    assert report.resumed_after == "k099" and report.scanned == 150
    assert not checkpoint.exists()
    assert reconcile(targets).divergent == []


def test_reconcile_needs_two_targets() -> None:
    with pytest.raises(ConfigError):
        reconcile([Target("m:a", MemoryObjectStore())])


def test_the_facade_reconciles_with_its_journal(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    r.storage.put("k", b"v")
    r.storage.delete("gone")
    r.stores[2].put("gone", b"zombie")  # no version: older than the tombstone
    report = r.storage.reconcile(repair=True)
    assert {(d.key, d.action) for d in report.divergent} == {("k", "copy"), ("gone", "delete")}
    assert "gone" not in r.contents(2)


@pytest.fixture
def cli_targets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MemoryObjectStore]]:
    stores, targets = three()
    module = types.ModuleType("reconcile_fixture_targets")
    module.targets = targets  # type: ignore[attr-defined]
    module.make = lambda: targets  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "reconcile_fixture_targets", module)
    yield stores


def test_cli_reports_then_repairs(cli_targets: list[MemoryObjectStore], tmp_path: Path) -> None:
    cli_targets[0].put("a", b"1")
    out = tmp_path / "report.json"
    assert main(["reconcile", "--targets", "reconcile_fixture_targets:targets", "--json", str(out)]) == 1
    assert json.loads(out.read_text())["divergent"][0]["key"] == "a"
    assert main(["reconcile", "--targets", "reconcile_fixture_targets:make", "--repair"]) == 0
    assert cli_targets[2].get("a") == b"1"
    assert main(["reconcile", "--targets", "reconcile_fixture_targets:targets"]) == 0


def test_cli_bad_targets_is_a_usage_error(cli_targets: list[MemoryObjectStore]) -> None:
    assert main(["reconcile", "--targets", "no_such_module_here:x"]) == 2
    assert main(["reconcile", "--targets", "nocolon"]) == 2
    assert main(["reconcile"]) == 2
