"""`ChaosProvider`: a layer that makes any provider fail on demand, deterministically."""

from __future__ import annotations

import enum
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import BinaryIO, TypeVar, cast

from failover.capabilities import (
    Compute,
    DnsZone,
    Instance,
    InstanceSpec,
    ObjectInfo,
    ObjectStore,
    Record,
    check_condition,
    supported_operations,
)
from failover.clock import Clock, SystemClock
from failover.deadline import current_deadline
from failover.errors import ConfigError, FailoverError, Throttled, Timeout, Unavailable, Unsupported
from failover.fleet.leader import FencedDnsZone
from failover.providers.chaos.settings import FAULT_KINDS, ChaosSettings, Outage, OutageKind

_T = TypeVar("_T")


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET = _Unset.UNSET  # an immutable sentinel: "leave this setting as it is"


def _pick(value: _T | _Unset, current: _T) -> _T:
    return current if isinstance(value, _Unset) else value


class ChaosProvider:
    """Wraps any provider and injects faults before delegating each call.

    Offers the operations of ``supported_operations(inner)`` (others raise `Unsupported`)
    and ``probe`` when the inner provider has one, so active health checks see the
    outage too.  Per call, in this order:

    1. an outage window (`schedule_outage`) covering ``clock.monotonic()`` decides;
    2. otherwise one draw from ``random.Random(seed)`` picks blackhole, error, throttle
       or nothing (see `ChaosSettings`);
    3. ``latency`` is slept on ``clock`` (not for a blackhole), then the fault is raised
       or the call delegated.

    A blackhole hangs until the caller's attempt deadline
    (`failover.deadline.current_deadline`), or ``blackhole_max`` seconds without one,
    then raises `Timeout`.  Faults of ``list``/``list_*`` and ``get_stream`` happen at the
    call, not while iterating.  The lock guards the settings, the random draw and the
    counters only: sleeping and delegating happen outside it.

    The class defines every capability's methods, so ``isinstance(chaos, ObjectStore)``
    holds even around a DNS zone: ask `capabilities_of` / ``supported_operations``.
    """

    # Set per instance, only when the inner provider has ``probe``: health checkers look
    # for the attribute, so a wrapper must not claim a probe its provider lacks.
    probe: Callable[[], None]
    # Operations beyond the capability protocols that this wrapper's class adds.
    _extra_operations: frozenset[str] = frozenset()

    def __new__(cls, inner: object, **options: object) -> ChaosProvider:
        # Around a zone that fences its writes, the wrapper fences too (and says so to
        # ``isinstance(chaos, FencedDnsZone)``, which the DNS controller asks); around any
        # other provider it has no ``upsert_fenced`` to claim.
        if cls is ChaosProvider and isinstance(inner, FencedDnsZone):
            cls = FencedChaosProvider
        return super().__new__(cls)

    def __init__(self, inner: object, *, seed: int = 0, clock: Clock | None = None) -> None:
        if inner is None:
            raise ConfigError("ChaosProvider needs a provider to wrap")
        self._inner = inner
        # Typed views of the same object; `_enter` makes sure only supported ones are used.
        self._store = cast(ObjectStore, inner)
        self._dns = cast(DnsZone, inner)
        self._compute = cast(Compute, inner)
        self.supported_operations: frozenset[str] = supported_operations(inner)
        # The blackhole waits for the caller's attempt deadline, so ask for it.
        self.reads_deadline = True
        self._seed = seed
        self._rng = random.Random(seed)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.Lock()
        self._settings = ChaosSettings()
        self._outages: tuple[Outage, ...] = ()
        self._calls = 0
        self._injected = dict.fromkeys(FAULT_KINDS, 0)
        inner_probe = getattr(inner, "probe", None)
        if callable(inner_probe):
            self._inner_probe: Callable[[], object] = inner_probe
            self.probe = self._probe

    # ------------------------------------------------------------ control

    @property
    def inner(self) -> object:
        return self._inner

    @property
    def settings(self) -> ChaosSettings:
        return self._settings

    @property
    def outages(self) -> tuple[Outage, ...]:
        return self._outages

    @property
    def calls(self) -> int:
        """Calls that reached the fault injector (all operations, ``probe`` included)."""
        return self._calls

    @property
    def injected(self) -> dict[str, int]:
        """A snapshot of how many faults of each kind were injected (see `FAULT_KINDS`)."""
        with self._lock:
            return dict(self._injected)

    def configure(
        self,
        *,
        error_rate: float | _Unset = _UNSET,
        errors: type[Exception] | Iterable[type[Exception]] | _Unset = _UNSET,
        throttle_rate: float | _Unset = _UNSET,
        retry_after: float | _Unset = _UNSET,
        latency: float | _Unset = _UNSET,
        blackhole: float | _Unset = _UNSET,
        blackhole_max: float | _Unset = _UNSET,
        operations: Iterable[str] | _Unset | None = _UNSET,
    ) -> ChaosSettings:
        """Change the given settings, keep the others; atomic, and valid or `ConfigError`."""
        with self._lock:
            current = self._settings
            self._settings = ChaosSettings(
                error_rate=_pick(error_rate, current.error_rate),
                errors=current.errors if isinstance(errors, _Unset) else _error_classes(errors),
                throttle_rate=_pick(throttle_rate, current.throttle_rate),
                retry_after=_pick(retry_after, current.retry_after),
                latency=_pick(latency, current.latency),
                blackhole=_pick(blackhole, current.blackhole),
                blackhole_max=_pick(blackhole_max, current.blackhole_max),
                operations=(current.operations if isinstance(operations, _Unset) else self._operations(operations)),
            )
            return self._settings

    def down(self) -> ChaosSettings:
        """Fail every call in scope with one of ``errors`` (other random faults are cleared)."""
        return self.configure(error_rate=1.0, throttle_rate=0.0, blackhole=0.0)

    def heal(self) -> None:
        """Clear every fault and outage window; the counters are kept."""
        with self._lock:
            self._settings = ChaosSettings()
            self._outages = ()

    def schedule_outage(self, start: float, end: float, kind: OutageKind = "unavailable") -> Outage:
        """Fail calls made while ``start <= clock.monotonic() < end`` as ``kind`` says."""
        outage = Outage(start, end, kind)
        with self._lock:
            self._outages = (*self._outages, outage)
        return outage

    def reset_counters(self) -> None:
        with self._lock:
            self._calls = 0
            self._injected = dict.fromkeys(FAULT_KINDS, 0)

    def _operations(self, operations: Iterable[str] | None) -> frozenset[str] | None:
        if operations is None:
            return None
        if isinstance(operations, str):
            raise ConfigError(f"operations must be a collection of names, not the single str {operations!r}")
        names = frozenset(operations)
        known = self.supported_operations | self._extra_operations | {"probe"}
        unknown = names - known
        if unknown:
            raise ConfigError(
                f"unknown operations {sorted(unknown)!r} for {self._inner!r}: use some of {sorted(known)!r}"
            )
        return names

    # ------------------------------------------------------------ injection

    def _enter(self, operation: str) -> None:
        """Decide this call's fault under the lock, then act on it outside the lock."""
        if (
            operation != "probe"
            and operation not in self.supported_operations
            and operation not in self._extra_operations
        ):
            raise Unsupported(f"{self._inner!r} does not support {operation}", operation=operation)
        with self._lock:
            self._calls += 1
            # Always draw, even out of scope, so the n-th call gets the same number
            # whatever the settings: runs with one seed stay comparable.
            draw = self._rng.random()
            settings = self._settings
            if settings.operations is not None and operation not in settings.operations:
                return
            outage = self._current_outage()
            if outage is not None:
                fault: str | None = "error" if outage.kind == "unavailable" else outage.kind
                retry_after = outage.end - self._clock.monotonic()
            else:
                fault, draw = _band(settings, draw)
                retry_after = settings.retry_after
            latency = 0.0 if fault == "blackhole" else settings.latency
            if fault is not None:
                self._injected[fault] += 1
            if latency > 0:
                self._injected["latency"] += 1
        if latency > 0:
            self._clock.sleep(latency)
        if fault == "blackhole":
            self._blackhole(operation, settings.blackhole_max)
        elif fault == "throttle":
            raise Throttled(f"chaos: throttled {operation}", operation=operation, retry_after=retry_after)
        elif fault == "error":
            if outage is not None:
                raise Unavailable(f"chaos: scheduled outage for {operation}", operation=operation)
            # Where the draw fell inside the error band picks the class: no extra draw.
            errors = settings.errors
            raise _make_error(errors[min(int(draw * len(errors)), len(errors) - 1)], operation)

    def _current_outage(self) -> Outage | None:
        # Called under the lock.  Past windows are dropped: the clock never goes back.
        if not self._outages:
            return None
        now = self._clock.monotonic()
        self._outages = tuple(o for o in self._outages if o.end > now)
        return next((o for o in self._outages if o.covers(now)), None)

    def _blackhole(self, operation: str, blackhole_max: float) -> None:
        deadline = current_deadline()
        wait = blackhole_max if deadline is None else max(0.0, deadline - self._clock.monotonic())
        self._clock.sleep(wait)
        raise Timeout(f"chaos: blackholed {operation}, no answer after {wait:.3f}s", operation=operation)

    def _probe(self) -> None:
        self._enter("probe")
        self._inner_probe()

    # ------------------------------------------------------------ ObjectStore

    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_match: str | None = None,
        if_absent: bool = False,
    ) -> ObjectInfo:
        """Conditions are checked before any fault (bad input is not the target's failure)
        and passed on only when set, so a store without them still takes plain puts."""
        check_condition(if_match, if_absent)
        self._enter("put")
        if if_match is None and not if_absent:
            return self._store.put(key, data, content_type=content_type, metadata=metadata)
        return self._store.put(
            key, data, content_type=content_type, metadata=metadata, if_match=if_match, if_absent=if_absent
        )

    def get(self, key: str) -> bytes:
        self._enter("get")
        return self._store.get(key)

    def get_range(self, key: str, start: int, end: int) -> bytes:
        self._enter("get_range")
        return self._store.get_range(key, start, end)

    def get_stream(self, key: str, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        self._enter("get_stream")
        return self._store.get_stream(key, chunk_size=chunk_size)

    def head(self, key: str) -> ObjectInfo:
        self._enter("head")
        return self._store.head(key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self._enter("list")
        return self._store.list(prefix)

    def delete(self, key: str) -> None:
        self._enter("delete")
        self._store.delete(key)

    def copy(self, src: str, dst: str) -> ObjectInfo:
        self._enter("copy")
        return self._store.copy(src, dst)

    # ------------------------------------------------------------ DnsZone

    @property
    def zone(self) -> str:
        # AttributeError when the inner provider has no zone, so hasattr() tells the truth.
        return self._dns.zone

    def list_records(self) -> Iterator[Record]:
        self._enter("list_records")
        return self._dns.list_records()

    def get_record(self, name: str, type: str) -> Record:
        self._enter("get_record")
        return self._dns.get_record(name, type)

    def upsert_record(self, record: Record) -> Record:
        self._enter("upsert_record")
        return self._dns.upsert_record(record)

    def delete_record(self, name: str, type: str) -> None:
        self._enter("delete_record")
        self._dns.delete_record(name, type)

    # ------------------------------------------------------------ Compute

    def list_instances(self, tags: Mapping[str, str] | None = None) -> Iterator[Instance]:
        self._enter("list_instances")
        return self._compute.list_instances(tags)

    def describe_instance(self, instance_id: str) -> Instance:
        self._enter("describe_instance")
        return self._compute.describe_instance(instance_id)

    def start_instance(self, instance_id: str) -> Instance:
        self._enter("start_instance")
        return self._compute.start_instance(instance_id)

    def stop_instance(self, instance_id: str) -> Instance:
        self._enter("stop_instance")
        return self._compute.stop_instance(instance_id)

    def create_instance(self, spec: InstanceSpec) -> Instance:
        self._enter("create_instance")
        return self._compute.create_instance(spec)

    def terminate_instance(self, instance_id: str) -> None:
        self._enter("terminate_instance")
        self._compute.terminate_instance(instance_id)

    def __repr__(self) -> str:
        return f"ChaosProvider({self._inner!r}, seed={self._seed!r})"


class FencedChaosProvider(ChaosProvider):
    """A `ChaosProvider` around a `FencedDnsZone`: ``upsert_fenced`` is one more operation
    its faults apply to.  ``ChaosProvider(zone)`` makes one when the zone fences."""

    _extra_operations = frozenset({"upsert_fenced"})

    def upsert_fenced(self, record: Record, token: int, *, seen: int | None = None) -> Record:
        self._enter("upsert_fenced")
        return cast(FencedDnsZone, self._inner).upsert_fenced(record, token, seen=seen)


def _band(settings: ChaosSettings, draw: float) -> tuple[str | None, float]:
    """The fault whose band holds ``draw``, and where in that band it fell (0..1)."""
    edge = 0.0
    for kind, width in (
        ("blackhole", settings.blackhole),
        ("error", settings.error_rate),
        ("throttle", settings.throttle_rate),
    ):
        if width and draw < edge + width:
            return kind, (draw - edge) / width
        edge += width
    return None, 0.0


def _error_classes(errors: type[Exception] | Iterable[type[Exception]]) -> tuple[type[Exception], ...]:
    if isinstance(errors, type):
        return (errors,)  # a single class is a common shorthand
    try:
        return tuple(errors)
    except TypeError as exc:
        raise ConfigError(f"errors must be exception classes, not {errors!r}") from exc


def _make_error(cls: type[Exception], operation: str) -> Exception:
    message = f"chaos: injected {cls.__name__} on {operation}"
    if issubclass(cls, FailoverError):
        return cls(message, operation=operation)
    return cls(message)


__all__ = ["ChaosProvider", "FencedChaosProvider"]
