"""A `ChaosProvider` around a zone that fences its writes fences too, so a DNS controller
with a fencing lock keeps its fencing through fault injection; around anything else it
claims no fencing it cannot do."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from failover import FakeClock
from failover.errors import Fenced, Unavailable
from failover.fleet.leader import FencedDnsZone, FileLeaderLock, fence_name
from failover.providers.chaos import ChaosProvider, FencedChaosProvider
from failover.providers.memory import MemoryDnsZone, MemoryObjectStore
from tests.unit.test_fencing import NAME, PRIMARY, SECONDARY, Switch, Unfenced, controller, record


def test_chaos_around_a_fencing_zone_is_a_fenced_zone_and_around_others_is_not() -> None:
    fenced = ChaosProvider(MemoryDnsZone("example.com."))
    assert isinstance(fenced, FencedChaosProvider) and isinstance(fenced, FencedDnsZone)
    for inner in (Unfenced(), MemoryObjectStore()):
        chaos = ChaosProvider(inner)
        assert type(chaos) is ChaosProvider and not isinstance(chaos, FencedDnsZone)


def test_a_fenced_write_through_chaos_reaches_the_zone_and_a_stale_token_is_refused() -> None:
    zone = MemoryDnsZone("example.com.")
    chaos = ChaosProvider(zone)
    assert isinstance(chaos, FencedChaosProvider)
    chaos.upsert_fenced(record(PRIMARY), 5)
    with pytest.raises(Fenced):
        chaos.upsert_fenced(record(SECONDARY), 4, seen=4)
    assert zone.get_record(NAME, "A").values == (PRIMARY,)
    assert zone.get_record(fence_name(NAME), "TXT").values == ("5",)


def test_faults_apply_to_fenced_writes_and_leave_the_zone_untouched() -> None:
    zone = MemoryDnsZone("example.com.")
    chaos = ChaosProvider(zone, seed=1)
    assert isinstance(chaos, FencedChaosProvider)
    chaos.configure(error_rate=1.0, errors=Unavailable, operations=["upsert_fenced"])
    with pytest.raises(Unavailable):
        chaos.upsert_fenced(record(PRIMARY), 1)
    assert [r.name for r in zone.list_records()] == []
    assert chaos.injected["error"] == 1


def test_a_controller_over_chaos_zones_fences_its_writes_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    zone = MemoryDnsZone("example.com.")
    switches = {v: Switch() for v in (PRIMARY, SECONDARY)}
    with caplog.at_level(logging.WARNING, logger="failover.controllers.dns_controller"):
        built = controller(ChaosProvider(zone), FileLeaderLock(tmp_path / "lock"), FakeClock(), switches)
        assert built.run_once().written == ("dns:shared",)
    assert "cannot fence" not in caplog.text
    assert zone.get_record(fence_name(NAME), "TXT").values == ("1",)
