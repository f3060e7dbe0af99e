"""Repairs a target refuses for good are quarantined; a pass respects breakers, its time
budget and `close()`; a repair holds a key's lock only around its write."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from failover import FakeClock, replication
from failover.errors import ConfigError, InvalidRequest
from failover.events import RepairQuarantined
from failover.facades.storage import FailoverStorage
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryObjectStore
from failover.replication.anti_entropy import MARKER_PREFIX
from failover.replication.modes import KeyLocks
from tests.unit.replicas import NAMES, build, make_replicas
from tests.unit.stores import PutHook

C = NAMES[2]


class Refusing(PutHook):
    """Answers 400 to any put of a key in ``refuse``."""

    def __init__(self, clock: FakeClock, refuse: set[str]) -> None:
        super().__init__(clock=clock)
        self.refuse = refuse
        self.puts: list[str] = []

    def before_put(self, key: str) -> None:
        self.puts.append(key)
        if key in self.refuse:
            raise InvalidRequest(f"400 InvalidRequest for {key!r}")


class Gated(PutHook):
    """A ``head`` or ``put`` (``gate_on``) of a user's key waits for ``release`` and says so on
    ``entered``; ``calls`` records those calls (the library's marker object is left alone)."""

    def __init__(self, clock: FakeClock, gate_on: str) -> None:
        super().__init__(clock=clock)
        self.gate_on = gate_on
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls: list[str] = []

    def _gate(self, operation: str, key: str) -> None:
        if key.startswith(MARKER_PREFIX):
            return
        self.calls.append(operation)
        if operation == self.gate_on:
            self.entered.set()
            assert self.release.wait(10.0), "test never released the gate"

    def head(self, key: str) -> Any:
        self._gate("head", key)
        return super().head(key)

    def before_put(self, key: str) -> None:
        self._gate("put", key)


class Heard:
    def __init__(self) -> None:
        self.events: list[object] = []

    def on_event(self, event: object) -> None:
        self.events.append(event)


def three(tmp_path: Path, third: MemoryObjectStore, clock: FakeClock, **options: Any) -> FailoverStorage:
    stores = [MemoryObjectStore(clock=clock), MemoryObjectStore(clock=clock), third]
    chaos = [ChaosProvider(s, seed=i, clock=clock) for i, s in enumerate(stores)]
    listeners = options.pop("listeners", ())
    options.setdefault("repair_workers", 1)
    mode = replication.Primary(journal=tmp_path / "j.sqlite", **options)
    return build(chaos, clock, mode, listeners=listeners)


def test_a_permanent_refusal_is_quarantined_reported_and_blocks_no_other_row(tmp_path: Path) -> None:
    clock = FakeClock()
    refusing = Refusing(clock, {"bad"})
    heard = Heard()
    storage = three(tmp_path, refusing, clock, listeners=[heard])
    assert storage.replication is not None
    for key in ("bad", "good1", "good2"):
        storage.put(key, b"v")
    report = storage.repair()
    assert (report.quarantined, report.failed) == (1, 0)
    assert refusing.get("good1") == refusing.get("good2") == b"v"  # the refused row blocked nothing
    assert storage.replication.quarantined() == storage.status().quarantined == 1
    assert "1 repair(s) quarantined" in str(storage.status())
    assert storage.pending() == {C: 1}  # still owed: reads keep avoiding c for "bad"
    [failed] = storage.failed()
    assert (failed.target, failed.key, failed.op) == (C, "bad", "put")
    assert "invalid_request" in failed.error
    [event] = [e for e in heard.events if isinstance(e, RepairQuarantined)]
    assert (event.target, event.key) == (C, "bad")
    puts = len(refusing.puts)
    storage.repair()
    assert len(refusing.puts) == puts  # never retried
    # reconcile skips the quarantined copy and says so, instead of failing on it
    result = storage.reconcile(repair=True)
    assert result.failed == [] and len(refusing.puts) == puts
    assert [k for k, why in result.skipped if "quarantined" in why] == ["bad"]
    # a newer write of the key is tried afresh
    refusing.refuse.clear()
    storage.put("bad", b"v2")
    storage.repair()
    assert refusing.get("bad") == b"v2" and storage.failed() == [] and storage.pending() == {}


def test_a_drain_pass_stops_at_a_breaker_that_opens_during_it(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, repair_workers=4)
    for i in range(120):
        r.storage.put(f"k{i:03}", b"v")
    r.chaos[2].down()
    calls = r.chaos[2].calls
    report = r.storage.repair()
    # The breaker opens after 3 failures; each worker checks it before its next repair.
    assert r.chaos[2].calls - calls <= 3 + 4
    assert report.deferred > 100 and C in report.skipped
    assert r.storage.pending()[C] == 120


def test_a_drain_pass_stops_at_its_time_budget(tmp_path: Path) -> None:
    r = make_replicas(tmp_path, pass_budget=3.0)
    for i in range(20):
        r.storage.put(f"k{i:02}", b"v")
    r.chaos[1].configure(latency=0.25)  # head + put: 0.5 s a repair on the fake clock
    r.chaos[2].configure(latency=0.25)
    report = r.storage.repair()
    assert report.stopped == "budget"
    assert report.repaired == 6 and report.remaining == 34
    report = r.storage.repair()  # the next pass goes on from there
    assert report.repaired == 6 and report.remaining == 28


def test_pass_budget_must_be_positive(tmp_path: Path) -> None:
    for bad in (0, -1.0, float("inf"), True, "3"):
        with pytest.raises(ConfigError, match="pass_budget"):
            make_replicas(tmp_path, pass_budget=bad)


@pytest.mark.parametrize("workers", [1, 2])
def test_close_returns_without_waiting_for_the_pass(tmp_path: Path, workers: int) -> None:
    clock = FakeClock()
    gated = Gated(clock, gate_on="put")
    storage = three(tmp_path, gated, clock, repair_workers=workers)
    rep = storage.replication
    assert rep is not None
    for i in range(10):
        storage.put(f"k{i}", b"v")
    rep.drainer.start()
    thread = rep.drainer._thread
    assert thread is not None
    assert gated.entered.wait(10.0)  # the pass is stuck in its first put to c
    rep.close(timeout=0.01)
    assert not rep.drainer.running  # close returned while the repair was still in flight
    gated.release.set()
    thread.join(10.0)
    assert not thread.is_alive()
    # The pass stopped before its next repairs: only those in flight at close were made.
    made = gated.calls.count("put")
    assert 1 <= made <= workers
    assert rep.drainer.last is not None and rep.drainer.last.stopped == "closing"
    assert storage.pending() == {NAMES[2]: 10 - made}


def test_a_write_of_the_key_being_repaired_does_not_wait_for_the_repairs_reads(tmp_path: Path) -> None:
    clock = FakeClock()
    gated = Gated(clock, gate_on="head")
    storage = three(tmp_path, gated, clock)
    storage.put("k", b"old")
    repairing = threading.Thread(target=storage.repair)
    repairing.start()
    assert gated.entered.wait(10.0)  # the repair is reading c
    gated.gate_on = ""
    writing = threading.Thread(target=storage.put, args=("k", b"new"))
    writing.start()
    writing.join(5.0)
    done = not writing.is_alive()
    gated.release.set()
    repairing.join(10.0)
    writing.join(10.0)
    assert done, "the write waited for the repair's read of another target"
    storage.repair()
    assert gated.get("k") == b"new"  # the repair never wrote the old version over it
    assert storage.pending() == {}


def test_key_locks_are_per_key_and_dropped_when_free() -> None:
    locks = KeyLocks()
    with locks("a"):
        # another key is never behind it, whatever the hashes
        assert all(locks._locks.get(f"k{i}") is None for i in range(200))
        with locks("b"):
            assert len(locks) == 2
    assert len(locks) == 0
