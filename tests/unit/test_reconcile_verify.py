"""reconcile(verify=True) finds damaged bytes the checksums in listings cannot show; a
key one target cannot read, a phantom key and a refused repair are reported per key
and never stop the run."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from dataclasses import replace

import pytest

from failover import Target
from failover.capabilities import ObjectInfo
from failover.cli.main import main
from failover.errors import InvalidInput, InvalidRequest
from failover.providers.memory import MemoryObjectStore
from failover.replication.reconcile import reconcile
from failover.replication.versioning import VERSION_KEY
from tests.unit.stores import PutHook

V1 = "00000000000000000001-w"


def three(*stores: MemoryObjectStore) -> tuple[list[MemoryObjectStore], list[Target]]:
    kept = list(stores) + [MemoryObjectStore() for _ in range(3 - len(stores))]
    return kept, [Target(f"m:{n}", s, priority=i) for i, (n, s) in enumerate(zip("abc", kept, strict=True))]


def damage(store: MemoryObjectStore, key: str, data: bytes) -> None:
    """Rot the stored bytes behind the store's back; its recorded checksum stays."""
    obj = store._objects[key]
    store._objects[key] = replace(obj, data=data)


def test_reconcile_verify_finds_and_repairs_damaged_bytes_that_checksums_hide() -> None:
    stores, targets = three()
    for store in stores:
        store.put("k", b"intact body", metadata={VERSION_KEY: V1})
    damage(stores[1], "k", b"rotten body")
    assert reconcile(targets).divergent == []  # the recorded checksums agree
    report = reconcile(targets, verify=True)
    [d] = report.divergent
    assert (d.key, d.source, d.targets, d.reason) == ("k", "m:a", ("m:b",), "damaged bytes")
    report = reconcile(targets, verify=True, repair=True)
    assert report.ok and report.verified
    assert stores[1].get("k") == b"intact body"
    assert reconcile(targets, verify=True).ok


def test_reconcile_verify_never_lets_a_damaged_copy_win() -> None:
    stores, targets = three()
    for store in stores:
        store.put("k", b"intact body", metadata={VERSION_KEY: V1})
    damage(stores[0], "k", b"rotten body")  # the best-priority target
    report = reconcile(targets, verify=True, repair=True)
    [d] = report.divergent
    assert (d.source, d.targets) == ("m:b", ("m:a",))
    assert stores[0].get("k") == b"intact body"


def test_reconcile_verify_skips_a_key_whose_every_copy_is_damaged() -> None:
    stores, targets = three()
    for store in stores:
        store.put("k", b"intact body", metadata={VERSION_KEY: V1})
        damage(store, "k", b"rotten")
    report = reconcile(targets, verify=True, repair=True)
    assert report.divergent == [] and not report.ok
    assert [k for k, _ in report.skipped] == ["k"]


def test_cli_reconcile_verify_repairs_damaged_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    stores, targets = three()
    for store in stores:
        store.put("k", b"intact body", metadata={VERSION_KEY: V1})
    damage(stores[2], "k", b"rotten body")
    module = types.ModuleType("reconcile_verify_targets")
    module.targets = targets  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "reconcile_verify_targets", module)
    assert main(["reconcile", "--targets", "reconcile_verify_targets:targets"]) == 0
    assert main(["reconcile", "--targets", "reconcile_verify_targets:targets", "--verify"]) == 1
    assert main(["reconcile", "--targets", "reconcile_verify_targets:targets", "--verify", "--repair"]) == 0
    assert stores[2].get("k") == b"intact body"


class S3Like(MemoryObjectStore):
    """Lists without metadata (a ``head`` per key), and refuses keys it cannot address."""

    def __init__(self, foreign: list[str]) -> None:
        super().__init__()
        self.foreign = foreign

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        infos = [replace(i, checksum=None, version=None) for i in super().list(prefix)]
        infos += [ObjectInfo(key=k, size=1) for k in self.foreign]
        return iter(sorted(infos, key=lambda i: i.key))

    def head(self, key: str) -> ObjectInfo:
        if "\t" in key:
            raise InvalidInput(f"key {key!r} holds a control character")
        return super().head(key)


def test_reconcile_reports_a_key_one_target_cannot_read_and_goes_on() -> None:
    stores, targets = three(S3Like(["a\ttab"]))
    stores[1].put("z", b"z", metadata={VERSION_KEY: V1})
    report = reconcile(targets, repair=True)
    assert [k for k, _ in report.skipped] == ["a\ttab"]
    assert "invalid_input" in report.skipped[0][1]
    assert stores[0].get("z") == stores[2].get("z") == b"z"  # later keys still repaired
    assert not report.ok


class Phantom(MemoryObjectStore):
    """Lists ``back/slash`` (as Azure lists a blob named ``back\\slash``), but has no
    object under that name."""

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        phantom = ObjectInfo(key="back/slash", size=1, checksum="sha256:" + "0" * 64, version=V1)
        return iter(sorted([*super().list(prefix), phantom], key=lambda i: i.key))


@pytest.mark.parametrize("verify", [False, True])
def test_reconcile_never_copies_a_phantom_key(verify: bool) -> None:
    stores, targets = three(Phantom())
    report = reconcile(targets, repair=True, verify=verify)
    assert all(not list(s.list()) for s in stores[1:])
    assert report.failed == [] and not report.ok
    assert [k for k, _ in report.skipped] == ["back/slash"]
    assert "not readable under that name" in report.skipped[0][1]


class Refusing(PutHook):
    def before_put(self, key: str) -> None:
        raise InvalidRequest(f"400 for {key!r}")


def test_reconcile_repairs_every_other_target_when_one_refuses() -> None:
    stores, targets = three(MemoryObjectStore(), Refusing())
    stores[0].put("k", b"v", metadata={VERSION_KEY: V1})
    report = reconcile(targets, repair=True)
    assert [(d.key, d.targets) for d, _ in report.failed] == [("k", ("m:b",))]
    assert stores[2].get("k") == b"v"  # not stopped at the first target
    assert report.repaired == 0 and not report.ok


def test_reconcile_verify_must_be_a_bool() -> None:
    from failover.errors import ConfigError

    _, targets = three()
    with pytest.raises(ConfigError, match="verify"):
        reconcile(targets, verify="yes")  # type: ignore[arg-type]

