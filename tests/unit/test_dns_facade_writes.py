"""FailoverDNS writes: every zone takes them, or the error names the zones that did."""

from __future__ import annotations

import pytest

from failover import FailoverDNS, Record, Target
from failover.errors import AllTargetsFailed, ConfigError, InvalidInput, NotFound, QuorumNotReached
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryDnsZone

RECORD = Record("www.example.com.", "A", 60, ("192.0.2.10",))


def zones(**options: object) -> tuple[FailoverDNS, list[ChaosProvider]]:
    pair = [ChaosProvider(MemoryDnsZone("example.com."), seed=i) for i in range(2)]
    targets = [Target("route53:global", pair[0], priority=0), Target("bind:primary", pair[1], priority=1)]
    return FailoverDNS(targets, **options), pair  # type: ignore[arg-type]


def held(zone: ChaosProvider) -> tuple[str, ...] | None:
    try:
        return zone.inner.get_record(RECORD.name, "A").values  # type: ignore[attr-defined,no-any-return]
    except NotFound:
        return None


def test_an_upsert_reaches_every_zone() -> None:
    dns, pair = zones()
    assert dns.upsert_record(RECORD).values == RECORD.values
    assert [held(z) for z in pair] == [RECORD.values, RECORD.values]


def test_a_delete_reaches_every_zone() -> None:
    dns, pair = zones()
    dns.upsert_record(RECORD)
    dns.delete_record(RECORD.name, "A")
    assert [held(z) for z in pair] == [None, None]


def test_an_upsert_while_one_zone_is_down_names_the_zones_that_took_it() -> None:
    dns, pair = zones()
    pair[0].down()
    with pytest.raises(QuorumNotReached, match=r"written to bind:primary; not to route53:global") as caught:
        dns.upsert_record(RECORD)
    assert caught.value.acked == ("bind:primary",)
    assert [held(z) for z in pair] == [None, RECORD.values]
    pair[0].heal()
    dns.upsert_record(RECORD)  # repeating the idempotent write brings the zones in step
    assert [held(z) for z in pair] == [RECORD.values, RECORD.values]


def test_a_write_no_zone_takes_raises_the_zones_error() -> None:
    dns, pair = zones()
    for zone in pair:
        zone.down()
    with pytest.raises(AllTargetsFailed, match="no zone took it") as caught:
        dns.upsert_record(RECORD)
    assert not isinstance(caught.value, QuorumNotReached), "no zone took it: nothing was partly written"
    assert "route53:global" in str(caught.value) and "bind:primary" in str(caught.value)


def test_bad_input_is_rejected_before_any_zone_is_written() -> None:
    dns, pair = zones()
    with pytest.raises(InvalidInput):
        dns.upsert_record(Record("www.example.com.", "A", 60, ("not-an-address",)))
    assert [z.calls for z in pair][1] == 0


def test_writes_one_goes_to_one_zone() -> None:
    dns, pair = zones(writes="one")
    dns.upsert_record(RECORD)
    assert [held(z) for z in pair] == [RECORD.values, None]


def test_an_unknown_write_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="writes"):
        zones(writes="quorum")
