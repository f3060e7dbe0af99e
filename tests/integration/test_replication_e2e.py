"""Replication on the real SDKs and local servers: S3 (moto), Azure Blob (Azurite), GCS (fake-gcs-server).

One cloud goes down in the middle of a write loop (its adapter wrapped in a
`ChaosProvider`), comes back, the journal drains, and every object is then on every
cloud with the right bytes and checksum; deleted ones are nowhere.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from failover import BreakerConfig, ExecutionConfig, FailoverStorage, Target, replication
from failover.providers.chaos import ChaosProvider
from failover.replication.modes import WriteMode

pytestmark = pytest.mark.integration

N = 60


def clouds(s3_store: Any, blob_store: Any, gcs_store: Any) -> list[ChaosProvider]:
    return [ChaosProvider(store, seed=i) for i, store in enumerate((s3_store, blob_store, gcs_store))]


def facade(chaos: list[ChaosProvider], mode: WriteMode) -> FailoverStorage:
    names = ("aws:us-east-1", "azure:westeurope", "gcp:europe-west1")
    return FailoverStorage(
        [Target(name, c, priority=i) for i, (name, c) in enumerate(zip(names, chaos, strict=True))],
        writes=mode,
        breaker=BreakerConfig(consecutive_failures=3, open_base=0.2, jitter=0.0),
        execution=ExecutionConfig(attempt_timeout=5.0, deadline=20.0),
        failback_after=0.0,
    )


def write_loop(storage: FailoverStorage, down: ChaosProvider) -> dict[str, bytes]:
    """N writes and a few deletes; ``down`` is out for the middle third."""
    model: dict[str, bytes] = {}
    for i in range(N):
        if i == N // 3:
            down.down()
        if i == 2 * N // 3:
            down.heal()
        key = f"loop/{i:03d}"
        data = f"object {i} ".encode() * (i + 1)
        storage.put(key, data, content_type="text/plain", metadata={"i": str(i)})
        model[key] = data
        if i % 7 == 3:  # delete an earlier key, sometimes while the cloud is down
            gone = f"loop/{i - 3:03d}"
            storage.delete(gone)
            model.pop(gone)
    return model


def drain_until_done(storage: FailoverStorage, limit: float = 20.0) -> Any:
    """Drain passes until nothing is owed, as the background drainer would.

    One pass may leave repairs to a target whose breaker has not yet let a trial
    call through since it healed; the next pass takes them.
    """
    deadline = time.monotonic() + limit
    report = storage.repair()
    while report.remaining and time.monotonic() < deadline:
        time.sleep(0.1)
        report = storage.repair()
    return report


def assert_converged(chaos: list[ChaosProvider], model: dict[str, bytes]) -> None:
    for cloud in chaos:
        store = cloud.inner
        listed = {info.key for info in store.list("loop/")}  # type: ignore[attr-defined]
        assert listed == set(model), f"{store!r}: {sorted(listed ^ set(model))[:5]}"
        for key, data in model.items():
            info = store.head(key)  # type: ignore[attr-defined]
            assert info.checksum == "sha256:" + hashlib.sha256(data).hexdigest(), (store, key)
            assert store.get(key) == data  # type: ignore[attr-defined]  # the adapter verifies the checksum too
            assert info.metadata["i"] == (key.rsplit("/", 1)[1].lstrip("0") or "0")


@pytest.mark.parametrize("down_index", [0, 1], ids=["primary-s3-down", "azure-down"])
def test_primary_survives_an_outage_and_converges(
    tmp_path: Path, s3_store: Any, blob_store: Any, gcs_store: Any, down_index: int
) -> None:
    chaos = clouds(s3_store, blob_store, gcs_store)
    storage = facade(chaos, replication.Primary(journal=tmp_path / "j.sqlite", repair_workers=4))
    model = write_loop(storage, chaos[down_index])
    assert storage.pending(), "the outage should have left repairs owed"
    for key, data in model.items():
        assert storage.get(key) == data  # read-your-writes before any repair
    report = drain_until_done(storage)
    assert report.remaining == 0, report
    assert_converged(chaos, model)
    assert storage.reconcile().divergent == []


def test_all_with_the_background_drainer(tmp_path: Path, s3_store: Any, blob_store: Any, gcs_store: Any) -> None:
    chaos = clouds(s3_store, blob_store, gcs_store)
    storage = facade(chaos, replication.All(journal=tmp_path / "j.sqlite", drain_interval=0.05))
    with storage:  # starts the drainer thread
        model = write_loop(storage, chaos[2])
        deadline = time.monotonic() + 30
        while storage.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert storage.pending() == {}
    assert_converged(chaos, model)


def test_reconcile_repairs_damage_done_behind_the_librarys_back(
    tmp_path: Path, s3_store: Any, blob_store: Any, gcs_store: Any
) -> None:
    chaos = clouds(s3_store, blob_store, gcs_store)
    storage = facade(chaos, replication.All(journal=tmp_path / "j.sqlite"))
    model = {f"loop/{i:03d}": f"v{i}".encode() for i in range(10)}
    for key, data in model.items():
        storage.put(key, data, metadata={"i": key.rsplit("/", 1)[1].lstrip("0") or "0"})
    s3_store.delete("loop/001")  # lost behind our back
    gcs_store.put("loop/002", b"rotten", metadata={"i": "2"})  # overwritten with no version: older
    report = storage.reconcile()
    assert {(d.key, d.targets) for d in report.divergent} == {
        ("loop/001", ("aws:us-east-1",)),
        ("loop/002", ("gcp:europe-west1",)),
    }
    assert storage.reconcile(repair=True).ok
    assert_converged(chaos, model)
