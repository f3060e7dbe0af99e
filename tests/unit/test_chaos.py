"""ChaosProvider: deterministic, controllable fault injection.  Nothing here really sleeps."""

from __future__ import annotations

import math
import threading
from collections import Counter

import pytest

from failover.capabilities import Capability, ObjectInfo, capabilities_of, supported_operations
from failover.clock import FakeClock
from failover.deadline import attempt_deadline, current_deadline
from failover.errors import (
    ConfigError,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    Throttled,
    Timeout,
    Unavailable,
    Unsupported,
)
from failover.providers.chaos import FAULT_KINDS, ChaosProvider, ChaosSettings
from failover.providers.memory import MemoryCompute, MemoryDnsZone, MemoryObjectStore

# ------------------------------------------------------------------ helpers


def make(seed: int = 0, start: float = 1000.0) -> tuple[ChaosProvider, FakeClock]:
    clock = FakeClock(start)
    store = MemoryObjectStore(clock=clock)
    store.put("k", b"value")
    return ChaosProvider(store, seed=seed, clock=clock), clock


def outcome(call: object) -> str:
    """``"ok"`` or the kind of the error the call raised."""
    try:
        call()  # type: ignore[operator]
    except (Unavailable, Timeout) as exc:
        return exc.kind
    return "ok"


def sequence(chaos: ChaosProvider, n: int) -> list[str]:
    return [outcome(lambda: chaos.get("k")) for _ in range(n)]


# ------------------------------------------------------------------ delegation


def test_passes_calls_through_when_healed() -> None:
    chaos, _ = make()
    assert chaos.get("k") == b"value"
    assert chaos.put("k2", b"x").size == 1
    assert [i.key for i in chaos.list()] == ["k", "k2"]
    with pytest.raises(NotFound):
        chaos.get("missing")
    assert chaos.calls == 4
    assert chaos.injected == dict.fromkeys(FAULT_KINDS, 0)


def test_put_conditions_reach_the_inner_store_and_bad_ones_fail_before_any_fault() -> None:
    chaos, _ = make()
    etag = chaos.head("k").etag
    with pytest.raises(PreconditionFailed):
        chaos.put("k", b"again", if_absent=True)
    chaos.put("k", b"newer", if_match=etag)
    with pytest.raises(PreconditionFailed):
        chaos.put("k", b"rolled back", if_match=etag)
    assert chaos.get("k") == b"newer"
    chaos.down()
    calls = chaos.calls
    with pytest.raises(InvalidInput, match="not both"):
        chaos.put("k", b"x", if_match=etag, if_absent=True)
    assert chaos.calls == calls  # refused as input, not drawn as a fault


def test_plain_puts_reach_a_store_without_conditions() -> None:
    class PlainStore(MemoryObjectStore):
        def put(self, key: str, data: object, **kwargs: object) -> ObjectInfo:  # type: ignore[override]
            assert "if_match" not in kwargs and "if_absent" not in kwargs
            return super().put(key, data, **kwargs)  # type: ignore[arg-type]

    chaos = ChaosProvider(PlainStore())
    assert chaos.put("k", b"plain").size == 5


def test_exposes_only_the_inner_operations() -> None:
    zone = ChaosProvider(MemoryDnsZone())
    assert zone.supported_operations == supported_operations(MemoryDnsZone())
    assert capabilities_of(zone) == {Capability.DNS_ZONE}
    assert zone.zone == "example.com."
    with pytest.raises(Unsupported):
        zone.get("k")
    assert zone.calls == 0
    assert capabilities_of(ChaosProvider(MemoryCompute())) == {Capability.COMPUTE}


def test_probe_only_when_the_inner_provider_has_one() -> None:
    class NoProbe:
        def get(self, key: str) -> bytes:
            return b""

    chaos, _ = make()
    chaos.probe()  # returns None; raising would fail the test
    bare = ChaosProvider(NoProbe())
    assert not hasattr(bare, "probe")
    assert not hasattr(bare, "zone")
    assert bare.supported_operations == {"get"}


def test_repr_shows_no_internals() -> None:
    chaos, _ = make(seed=7)
    assert repr(chaos) == "ChaosProvider(MemoryObjectStore(objects=1), seed=7)"


# ------------------------------------------------------------------ determinism and rates


def test_same_seed_same_fault_sequence() -> None:
    runs = []
    for _ in range(2):
        chaos, _ = make(seed=42)
        chaos.configure(error_rate=0.2, throttle_rate=0.1, blackhole=0.05, blackhole_max=0)
        runs.append(sequence(chaos, 500))
    assert runs[0] == runs[1]
    assert set(runs[0]) == {"ok", "unavailable", "throttled", "timeout"}
    other, _ = make(seed=43)
    other.configure(error_rate=0.2, throttle_rate=0.1, blackhole=0.05, blackhole_max=0)
    assert sequence(other, 500) != runs[0]


def test_out_of_scope_calls_still_consume_the_sequence() -> None:
    # Every call draws, in scope or not, so the n-th call gets the n-th number of the seed.
    scoped, _ = make(seed=3)
    scoped.configure(error_rate=0.5, operations={"get"})
    got = []
    for _ in range(200):
        got.append(outcome(lambda: scoped.get("k")))
        assert scoped.head("k").size == 5  # out of scope: never fails, still draws
    replay, _ = make(seed=3)
    replay.configure(error_rate=0.5)
    assert got == sequence(replay, 400)[0::2]
    assert scoped.calls == 400


def test_rates_are_honoured_over_10k_calls() -> None:
    chaos, clock = make(seed=11)
    chaos.configure(error_rate=0.10, throttle_rate=0.05, blackhole=0.02, blackhole_max=0.0)
    counts = Counter(sequence(chaos, 10_000))
    for kind, rate in (("unavailable", 0.10), ("throttled", 0.05), ("timeout", 0.02)):
        sigma = math.sqrt(10_000 * rate * (1 - rate))
        assert abs(counts[kind] - 10_000 * rate) < 4 * sigma, (kind, counts)
    assert chaos.injected == {
        "error": counts["unavailable"],
        "throttle": counts["throttled"],
        "blackhole": counts["timeout"],
        "latency": 0,
    }
    assert chaos.calls == 10_000
    assert clock.monotonic() == 1000.0


def test_error_classes_are_picked_from_the_list() -> None:
    chaos, _ = make(seed=5)
    chaos.configure(error_rate=1.0, errors=(Timeout, ConnectionResetError))
    seen: Counter[str] = Counter()
    for _ in range(2000):
        with pytest.raises((Timeout, ConnectionResetError)) as caught:
            chaos.get("k")
        seen[type(caught.value).__name__] += 1
        if isinstance(caught.value, Timeout):
            assert caught.value.operation == "get"
    assert 900 < seen["Timeout"] < 1100
    assert 900 < seen["ConnectionResetError"] < 1100
    chaos.configure(errors=NotFound)  # a single class is accepted
    with pytest.raises(NotFound):
        chaos.get("k")


def test_throttle_carries_retry_after() -> None:
    chaos, _ = make()
    chaos.configure(throttle_rate=1.0, retry_after=2.5)
    with pytest.raises(Throttled) as caught:
        chaos.head("k")
    assert caught.value.retry_after == 2.5
    assert caught.value.temporary


# ------------------------------------------------------------------ time: latency, blackhole, windows


def test_latency_advances_the_clock() -> None:
    chaos, clock = make()
    chaos.configure(latency=0.25)
    assert chaos.get("k") == b"value"
    chaos.configure(error_rate=1.0)
    with pytest.raises(Unavailable):
        chaos.get("k")
    assert clock.monotonic() == pytest.approx(1000.5)
    assert chaos.injected["latency"] == 2


def test_blackhole_hangs_until_the_attempt_deadline() -> None:
    chaos, clock = make()
    chaos.configure(blackhole=1.0, latency=5.0)
    with attempt_deadline(1002.5), pytest.raises(Timeout) as caught:
        chaos.get("k")
    assert clock.monotonic() == pytest.approx(1002.5)  # to the deadline, no latency on top
    assert caught.value.temporary and caught.value.operation == "get"
    with attempt_deadline(1000.0), pytest.raises(Timeout):  # deadline already past
        chaos.get("k")
    assert clock.monotonic() == pytest.approx(1002.5)
    assert chaos.injected["blackhole"] == 2


def test_blackhole_without_deadline_hangs_blackhole_max() -> None:
    chaos, clock = make()
    chaos.configure(blackhole=1.0)
    with pytest.raises(Timeout):
        chaos.get("k")
    assert clock.monotonic() == pytest.approx(1030.0)  # default blackhole_max is 30 s
    chaos.configure(blackhole_max=4)
    with pytest.raises(Timeout):
        chaos.get("k")
    assert clock.monotonic() == pytest.approx(1034.0)


@pytest.mark.parametrize(("kind", "error", "name"), [
    ("unavailable", Unavailable, "error"),
    ("throttle", Throttled, "throttle"),
    ("blackhole", Timeout, "blackhole"),
])
def test_outage_window_by_clock_time(kind: str, error: type[Exception], name: str) -> None:
    chaos, clock = make()
    chaos.schedule_outage(1010.0, 1020.0, kind)  # type: ignore[arg-type]
    assert chaos.get("k") == b"value"
    clock.advance(10.0)
    with attempt_deadline(clock.monotonic() + 1.0), pytest.raises(error) as caught:
        chaos.get("k")
    if isinstance(caught.value, Throttled):
        assert caught.value.retry_after == pytest.approx(10.0)
    clock.advance(20.0 - (clock.monotonic() - 1000.0))
    assert clock.monotonic() == pytest.approx(1020.0)
    assert chaos.get("k") == b"value"  # the end is exclusive
    assert chaos.injected[name] == 1
    assert chaos.outages == ()  # past windows are dropped


def test_outage_is_seen_by_probe() -> None:
    chaos, clock = make()
    chaos.schedule_outage(1000.0, 1005.0)
    with pytest.raises(Unavailable):
        chaos.probe()
    clock.advance(5.0)
    chaos.probe()


# ------------------------------------------------------------------ run-time control


def test_configure_changes_only_what_is_given() -> None:
    chaos, _ = make()
    chaos.configure(error_rate=0.3, latency=0.1)
    settings = chaos.configure(throttle_rate=0.2)
    assert (settings.error_rate, settings.latency, settings.throttle_rate) == (0.3, 0.1, 0.2)
    assert chaos.settings is settings


def test_down_and_heal() -> None:
    chaos, _ = make()
    chaos.configure(throttle_rate=0.5)
    chaos.down()
    for _ in range(20):
        with pytest.raises(Unavailable) as caught:
            chaos.get("k")
        assert not isinstance(caught.value, Throttled)
    chaos.schedule_outage(1000.0, 2000.0)
    chaos.heal()
    assert chaos.settings == ChaosSettings()
    assert chaos.outages == ()
    assert chaos.get("k") == b"value"
    assert chaos.injected["error"] == 20  # heal keeps the counters
    chaos.reset_counters()
    assert (chaos.calls, chaos.injected["error"]) == (0, 0)


def test_operations_restrict_faults() -> None:
    chaos, _ = make()
    chaos.configure(error_rate=1.0, operations={"get", "probe"})
    with pytest.raises(Unavailable):
        chaos.get("k")
    with pytest.raises(Unavailable):
        chaos.probe()
    assert chaos.head("k").size == 5
    assert chaos.put("other", b"x").size == 1
    chaos.configure(operations=None)
    with pytest.raises(Unavailable):
        chaos.head("k")


def test_list_fails_at_the_call() -> None:
    chaos, _ = make()
    chaos.down()
    with pytest.raises(Unavailable):
        chaos.list()


def test_wraps_dns_and_compute() -> None:
    zone = ChaosProvider(MemoryDnsZone(), seed=1)
    compute = ChaosProvider(MemoryCompute(), seed=1)
    zone.down()
    compute.configure(error_rate=1.0, operations={"create_instance"})
    with pytest.raises(Unavailable):
        zone.list_records()
    with pytest.raises(Unavailable):
        compute.create_instance(None)  # type: ignore[arg-type]  # fails before validation
    assert list(compute.list_instances()) == []


# ------------------------------------------------------------------ threads


def test_counters_add_up_across_threads() -> None:
    chaos, _ = make(seed=9)
    chaos.configure(error_rate=0.3, throttle_rate=0.1, latency=0.001)
    outcomes: list[Counter[str]] = [Counter() for _ in range(8)]
    barrier = threading.Barrier(8)

    def work(slot: int) -> None:
        barrier.wait()
        for _ in range(2000):
            outcomes[slot][outcome(lambda: chaos.get("k"))] += 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(outcomes, Counter())
    assert chaos.calls == 16_000
    assert sum(total.values()) == 16_000
    injected = chaos.injected
    assert injected["error"] == total["unavailable"]
    assert injected["throttle"] == total["throttled"]
    assert injected["latency"] == 16_000
    # The same seed gives the same multiset of faults, however the threads interleave.
    single, _ = make(seed=9)
    single.configure(error_rate=0.3, throttle_rate=0.1)
    assert Counter(sequence(single, 16_000)) == total


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "settings",
    [
        {"error_rate": -0.1},
        {"error_rate": 1.5},
        {"error_rate": math.nan},
        {"error_rate": True},
        {"error_rate": "0.5"},
        {"throttle_rate": 2},
        {"blackhole": -1},
        {"latency": -0.001},
        {"latency": math.inf},
        {"retry_after": -1},
        {"blackhole_max": -5},
        {"error_rate": 0.6, "throttle_rate": 0.5},
        {"errors": ()},
        {"errors": (ValueError, "nope")},
        {"errors": (KeyboardInterrupt,)},
        {"errors": 42},
        {"operations": {"gett"}},
        {"operations": "get"},
        {"operations": {"upsert_record"}},
    ],
)
def test_bad_settings_raise_config_error(settings: dict[str, object]) -> None:
    chaos, _ = make()
    chaos.configure(error_rate=0.1)
    before = chaos.settings
    with pytest.raises(ConfigError):
        chaos.configure(**settings)  # type: ignore[arg-type]
    assert chaos.settings is before  # a rejected change leaves the old settings in place


@pytest.mark.parametrize(
    ("start", "end", "kind"),
    [(10.0, 5.0, "unavailable"), (0.0, math.inf, "unavailable"), (0.0, 1.0, "flaky"), ("0", 1.0, "throttle")],
)
def test_bad_outages_raise_config_error(start: object, end: object, kind: str) -> None:
    chaos, _ = make()
    with pytest.raises(ConfigError):
        chaos.schedule_outage(start, end, kind)  # type: ignore[arg-type]
    assert chaos.outages == ()


def test_needs_a_provider() -> None:
    with pytest.raises(ConfigError):
        ChaosProvider(None)


# ------------------------------------------------------------------ failover.deadline


def test_attempt_deadline_sets_and_restores() -> None:
    assert current_deadline() is None
    with attempt_deadline(5.0) as outer:
        assert outer == 5.0 and current_deadline() == 5.0
        with attempt_deadline(None):
            assert current_deadline() is None
        assert current_deadline() == 5.0
        seen: list[float | None] = []
        thread = threading.Thread(target=lambda: seen.append(current_deadline()))
        thread.start()
        thread.join()
        assert seen == [None]  # another thread does not inherit it
    assert current_deadline() is None
    with pytest.raises(RuntimeError), attempt_deadline(1.0):
        raise RuntimeError("boom")
    assert current_deadline() is None
