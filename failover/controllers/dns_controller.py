"""`DnsController`: keep one DNS record pointing at healthy endpoints, on several DNS providers.

Each pass of `run_once`:

1. probes the endpoints that are due (rise/fall thresholds, jitter: `HealthChecker`);
2. computes the answer: in ``failover`` mode the best healthy endpoint by priority, in
   ``multivalue`` mode every healthy endpoint.  A recovered endpoint of better priority
   takes over only after ``failback_after`` seconds of health (hysteresis).  When no
   endpoint is healthy the last good answer stays: an empty record set would turn a
   partial outage into a total one;
3. writes that answer to every provider whose copy differs, each guarded by its own
   breaker.  A provider that fails is retried on the next pass while the others are
   updated now, so one DNS provider's outage never blocks another's update.

Only the holder of the leader lock writes, so two controllers never fight over the
record.  Writes are idempotent upserts, issued only on change.

Fencing: with a lock that hands out fencing tokens (`failover.fleet.leader.FencingLock`)
each write to a zone that can fence (`FencedDnsZone`) carries the token, and the zone
refuses it once a newer leader has written (`Fenced`): a leader paused past its lease
cannot overwrite its successor.  A new leader writes to every such zone once, even where
the record is already right, so that its token fences off the one before.  A fenced
controller logs once, stops publishing, gives the lock up and asks for it again on the
next pass, as a standby would.

Start-up (and every time this controller becomes the leader): it reads the record as
the providers hold it and writes nothing until every endpoint has a verdict (``rise``
good probes in a row, ``fall`` failed ones, or ``rise + fall`` probes of flapping).
If the record's value is then a healthy endpoint it is kept, even if an endpoint of
better priority is healthy too (that one takes over after ``failback_after``, as
always).  So a restart never moves a correct record.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

from failover.breaker.circuit import BreakerConfig, CircuitBreaker
from failover.capabilities import Record
from failover.clock import Clock, SystemClock
from failover.controllers._dns_decision import Tally, decide, verdict_in
from failover.controllers._dns_validation import validate
from failover.errors import FailoverError, Fenced, NotFound
from failover.events import DnsPublished, Emitter, Listener
from failover.fleet.leader import FencedDnsZone, FencingLock, LeaderLock
from failover.health.checker import Check, HealthChecker
from failover.health.probes import Probe
from failover.health.target_health import HealthConfig, TargetHealth
from failover.target import Target

logger = logging.getLogger(__name__)

Mode = Literal["failover", "multivalue"]


@dataclass(frozen=True)
class Endpoint:
    """One answer the record may hold (an address for A/AAAA, a name for CNAME)."""

    value: str
    probe: Probe
    priority: int = 0


@dataclass(frozen=True)
class Published:
    """What one pass did: the answer, and per provider whether its copy is current."""

    values: tuple[str, ...]
    healthy: tuple[str, ...]
    written: tuple[str, ...] = ()
    failed: Mapping[str, str] = field(default_factory=dict)
    leader: bool = True
    # True while start-up waits for the endpoints' verdicts: nothing was written.
    deciding: bool = False
    # True when a zone refused a write because a newer leader had written: this controller
    # stepped down (``failed`` names that zone and the ones it then left alone).
    fenced: bool = False


class DnsController:
    def __init__(
        self,
        name: str,
        type: str,
        endpoints: Sequence[Endpoint],
        providers: Sequence[Target],
        *,
        mode: Mode = "failover",
        ttl: int = 60,
        min_ttl: int = 30,
        interval: float = 5.0,
        timeout: float = 2.0,
        jitter: float = 0.1,
        health: HealthConfig | None = None,
        failback_after: float = 60.0,
        lock: LeaderLock | None = None,
        clock: Clock | None = None,
        listeners: Iterable[Listener] = (),
        rng: random.Random | None = None,
    ) -> None:
        validate(name, type, endpoints, providers, mode, ttl, min_ttl, failback_after)
        self.name, self.type, self.mode = name, type.upper(), mode
        self.ttl = max(ttl, min_ttl)
        self.failback_after = failback_after
        self.endpoints = tuple(sorted(endpoints, key=lambda e: e.priority))
        self.providers = tuple(providers)
        self._clock = clock or SystemClock()
        self._emitter = Emitter(listeners)
        self._lock = lock
        # Endpoints start unknown: nothing is published for them before ``rise`` good probes.
        self.healths = {
            e.value: TargetHealth(e.value, health, emitter=self._emitter, healthy=False, clock=self._clock)
            for e in self.endpoints
        }
        self._tallies = {e.value: Tally(e.probe) for e in self.endpoints}
        checks = [
            Check(e.value, self._tallies[e.value], self.healths[e.value], interval, timeout, jitter)
            for e in self.endpoints
        ]
        self.checker = HealthChecker(checks, clock=self._clock, rng=rng)
        self.breakers = {
            t.name: CircuitBreaker(t.name, _PROVIDER_BREAKER, clock=self._clock, listeners=self._emitter.listeners)
            for t in self.providers
        }
        self.current: tuple[str, ...] = ()  # the answer last decided (kept through total outages)
        self._copies: dict[str, tuple[str, ...] | None] = {}  # provider -> values it holds, if known
        self._fences: dict[str, int] = {}  # provider -> the fencing token its fence holds, if known
        self._fencing = _fenced_providers(lock, self.providers, name)
        self._leading: bool | None = None  # None until the first pass has asked the lock
        self._deciding = True  # start-up: wait for every endpoint's verdict before writing
        self.next_due = -math.inf  # when the next probe is due (the loop sleeps until then)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ one pass

    def run_once(self) -> Published:
        now = self._clock.monotonic()
        self.next_due = self.checker.run_due(now)
        healthy = tuple(e.value for e in self.endpoints if self.healths[e.value].healthy)
        if not self._lead():
            return Published(self.current, healthy, leader=False)
        if self._deciding:
            if not all(verdict_in(self.healths[e.value], self._tallies[e.value]) for e in self.endpoints):
                return Published(self.current, healthy, deciding=True)
            self._deciding = False
        self.current = decide(
            self.endpoints, self.healths, self.current, mode=self.mode, failback_after=self.failback_after, now=now
        )
        if not self.current:
            return Published((), healthy)  # never seen a healthy endpoint: publish nothing yet
        token = self._token()
        if token is None and isinstance(self._lock, FencingLock):
            # The lock was let go since try_acquire (a concurrent release): an unfenced
            # write to a zone that could fence would be one a newer leader cannot stop.
            logger.info("dns controller for %s %s: lost the lock before writing", self.name, self.type)
            self._leading = False
            return Published(self.current, healthy, leader=False)
        written, failed, fenced = self._publish(self.current, token)
        return Published(self.current, healthy, written, failed, fenced=fenced)

    def run_until_decided(self) -> Published:
        """Probe until start-up has its verdicts, then publish: one decision (``--once``).

        Returns at once on a standby.  Bounded: every endpoint has a verdict after at
        most ``rise + fall`` probes.
        """
        report = self.run_once()
        while report.leader and report.deciding:
            self._clock.sleep(max(0.0, self.next_due - self._clock.monotonic()))
            report = self.run_once()
        return report

    # ------------------------------------------------------------ leadership and start-up

    def _lead(self) -> bool:
        """Ask the lock; on becoming the leader, adopt the record as the providers hold it."""
        leader = self._lock is None or self._lock.try_acquire()
        if leader is not self._leading:
            self._leading = leader
            if leader:
                logger.info("dns controller for %s %s: leader", self.name, self.type)
                self._adopt()
            else:
                logger.info(
                    "dns controller for %s %s: standby (another controller holds the lock)", self.name, self.type
                )
        return leader

    def _adopt(self) -> None:
        self._copies.clear()  # another leader may have written since we last looked
        self._fences.clear()
        self._deciding = True
        found = self._found()
        known = tuple(v for v in found if v in self.healths)
        if self.mode == "failover" and len(found) != 1:
            known = ()
        self.current = known
        if found:
            logger.info(
                "dns %s %s holds %s; %s",
                self.name,
                self.type,
                ",".join(found),
                "kept if healthy" if known else "not one of the endpoints",
            )

    def _found(self) -> tuple[str, ...]:
        """The record's values on the first provider that has it (``()`` if none does)."""
        for target in self.providers:
            try:
                values = self.breakers[target.name].call(self._copy_of, target)
            except FailoverError as exc:
                self._copies.pop(target.name, None)
                logger.warning("dns read of %s on %s failed (%s)", self.name, target.name, exc.kind)
                continue
            if values:
                return values
        return ()

    def _publish(self, values: tuple[str, ...], token: int | None) -> tuple[tuple[str, ...], dict[str, str], bool]:
        written: list[str] = []
        failed: dict[str, str] = {}
        record = Record(self.name, self.type, self.ttl, values)
        for i, target in enumerate(self.providers):
            try:
                if self.breakers[target.name].call(self._sync, target, record, token):
                    written.append(target.name)
            except Fenced as exc:
                failed[target.name] = f"{exc.kind}: {exc.message}"
                skipped = self.providers[i + 1 :]
                failed.update((t.name, "fenced: not written, this controller stepped down") for t in skipped)
                self._step_down(target, exc)
                return tuple(written), failed, True
            except FailoverError as exc:
                self._copies.pop(target.name, None)  # unknown now: read it again next time
                self._fences.pop(target.name, None)
                failed[target.name] = f"{exc.kind}: {exc.message}"
                logger.warning("dns update of %s on %s failed (%s); will retry", self.name, target.name, exc.kind)
        return tuple(written), failed, False

    def _token(self) -> int | None:
        """The lock's fencing token for this pass's writes (read once: the lock may be let go
        meanwhile); None without a `FencingLock`, or when one no longer holds the lock."""
        return self._lock.token if isinstance(self._lock, FencingLock) else None

    def _sync(self, target: Target, record: Record, token: int | None) -> bool:
        """Make ``target``'s copy equal ``record`` (and its fence ``token``); True if written."""
        wanted = tuple(sorted(record.values))
        fence = token if target.name in self._fencing else None
        # A new leader writes once even where the record is right: its token fences off the last.
        if self._copy_of(target) == wanted and (fence is None or self._fences.get(target.name) == fence):
            return False
        if fence is not None:
            target.provider.upsert_fenced(record, fence, seen=self._fences.get(target.name))
            self._fences[target.name] = fence
        else:
            target.provider.upsert_record(record)
        self._copies[target.name] = wanted
        self._emitter.emit(DnsPublished(target.name, f"{self.name} {self.type}", tuple(record.values)))
        return True

    def _step_down(self, target: Target, exc: Fenced) -> None:
        """A newer leader has written: stop, let the lock go, and ask for it again next pass.

        The lock learns the token that fenced us (`FencingLock.advance`): when the lock's
        own counter was lost (a Redis without persistence restarted), the next acquisition
        gets a larger token than any in the zones, instead of being fenced for ever.
        """
        logger.warning(
            "dns controller for %s %s: fenced by %s (it holds fencing token %d, ours is %d); "
            "a newer leader has written: stepping down",
            self.name,
            self.type,
            target.name,
            exc.current,
            exc.token,
        )
        self._leading = False  # the next pass asks the lock again; standby then logs nothing more
        self._copies.clear()
        self._fences.clear()
        if isinstance(self._lock, FencingLock):
            self._lock.advance(exc.current)
        if self._lock is not None:
            self._lock.release()

    def _copy_of(self, target: Target) -> tuple[str, ...] | None:
        if target.name not in self._copies:
            try:
                self._copies[target.name] = tuple(sorted(target.provider.get_record(self.name, self.type).values))
            except NotFound:
                self._copies[target.name] = None
        return self._copies[target.name]

    # ------------------------------------------------------------ background loop

    def start(self) -> DnsController:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=f"dns-failover {self.name}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._lock is not None:
            self._lock.release()

    def serve(self, stop: threading.Event, passes: int = 0) -> None:
        """Run passes until ``stop`` is set (or ``passes`` passes, if > 0), each as soon as
        a probe is due: the record moves right after the probe that decides it."""
        done = 0
        while not stop.is_set() and (passes <= 0 or done < passes):
            try:
                self.run_once()
                pause = self.next_due - self._clock.monotonic()
            except Exception:  # one bad pass must not end the controller
                logger.exception("dns failover pass for %s failed", self.name)
                pause = min(c.interval for c in self.checker.checks)
            done += 1
            stop.wait(max(pause, _MIN_PAUSE))

    def _loop(self) -> None:
        self.serve(self._stop)

    def __enter__(self) -> DnsController:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        names = [t.name for t in self.providers]
        return f"DnsController({self.name!r}, {self.type}, mode={self.mode}, providers={names})"


# A DNS provider that fails is skipped for a while, then tried again; never forever.
_PROVIDER_BREAKER = BreakerConfig(consecutive_failures=3, failure_rate=None, open_base=5.0, open_max=60.0)

_MIN_PAUSE = 0.001  # seconds: never spin, even when a probe is already due


def _fenced_providers(lock: LeaderLock | None, providers: Sequence[Target], name: str) -> frozenset[str]:
    """The providers whose writes are fenced; a warning for those that cannot be."""
    if not isinstance(lock, FencingLock):
        return frozenset()
    unfenced = [t.name for t in providers if not isinstance(t.provider, FencedDnsZone)]
    if unfenced:
        logger.warning(
            "dns controller for %s: %s cannot fence writes: a leader paused past its lease may still write there",
            name,
            ", ".join(unfenced),
        )
    return frozenset(t.name for t in providers if t.name not in unfenced)


__all__ = ["DnsController", "Endpoint", "Mode", "Published"]
