"""A circuit breaker that is cheap when closed and never holds a lock across a call.

States::

            failures reach a threshold                open time elapsed
    CLOSED ─────────────────────────────▶ OPEN ──────────────────────────▶ HALF_OPEN
      ▲                                    ▲                                   │
      │          enough trial successes    │          a trial fails            │
      └────────────────────────────────────┼───────────────────────────────────┘
                                           └──────────────────────────────────-┘
    FORCED_OPEN / FORCED_CLOSED: set by an operator, left only by `reset()`.

A call first takes a permit (`try_acquire`), runs with no lock held, then reports
its outcome (`on_success` / `on_failure`) or gives the permit back (`release`) if it
was abandoned.  Half-open trial permits that are never returned expire after
``permit_timeout`` so a lost permit cannot wedge the breaker (resilience4j #903).
Each time the breaker opens again without closing in between, it stays open longer:
``open_base * open_multiplier ** n``, capped at ``open_max``, with jitter so a fleet
of clients does not probe a recovering target in lockstep.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from failover.breaker._admission import PASS as PASS  # the executors take the shared permit from here
from failover.breaker._admission import Permit, rejection_error
from failover.breaker.config import BreakerConfig, BreakerState
from failover.breaker.store import BreakerStore, FleetFailures, StoredState
from failover.classification import Classifier, judge
from failover.clock import Clock, SystemClock
from failover.errors import CircuitOpen, ConfigError, FailoverError
from failover.events import BreakerTransition, Emitter, Listener

P = ParamSpec("P")
R = TypeVar("R")


# Enum attribute lookups cost ~100 ns each; the hot path compares against these.
_CLOSED = BreakerState.CLOSED
_FORCED_CLOSED = BreakerState.FORCED_CLOSED
_FORCED_OPEN = BreakerState.FORCED_OPEN
_OPEN = BreakerState.OPEN


class CircuitBreaker:
    """One breaker, usually per target (optionally per target and operation class)."""

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Clock | None = None,
        listeners: Iterable[Listener] = (),
        store: BreakerStore | None = None,
        rng: random.Random | None = None,
        classifier: Classifier | None = None,
        on_trial: Callable[[], object] | None = None,
    ) -> None:
        if not name:
            raise ConfigError("a breaker needs a name")
        self.name = name
        self.config = config or BreakerConfig()
        self.classifier = classifier  # for `call`; see `failover.classification`
        # Told of each trial call's outcome before it is recorded: a pool's health counts
        # trial calls apart from the traffic the router sends (`TargetHealth.record_unrouted`).
        self._on_trial = on_trial
        self._clock = clock or SystemClock()
        self._emitter = Emitter(listeners)
        self._store = store
        self._fleet = store if isinstance(store, FleetFailures) else None
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._window = self.config.new_window(self._clock)
        self._slow_after = self.config.slow_call_duration
        # The fast path for a closed-state success after another success, which the
        # executor inlines: ``count_success()``.  None when a slow-call rule needs the
        # duration, and then `on_success` must be called (as after a failure: the end of
        # a failure streak is news for a store that counts failures across a fleet).
        self.count_success: Callable[[], object] | None = (
            self._window.record_success if self._slow_after is None else None
        )
        # A count window never holds more than window_size calls: a larger minimum
        # would switch the rate rules off without a word (resilience4j clamps it too).
        cfg = self.config
        self._minimum_calls = min(cfg.minimum_calls, cfg.window_size) if cfg.window == "count" else cfg.minimum_calls
        self.state = BreakerState.CLOSED  # read without a lock; written under it
        self.consecutive_failures = 0
        self._opens = 0  # times opened since last closed: drives the growing open time
        self._opened_at = 0.0
        self._open_until = 0.0
        self.closed_since = -math.inf  # last close after a trial; -inf: never opened
        self._trials: list[Permit] = []
        self._trial_successes = 0
        self.last_failure: str | None = None  # the last one since a reset or force
        self.reason = "new"  # why the breaker is in its state: the last transition's reason

    # ------------------------------------------------------------ taking permits

    def try_acquire(self) -> Permit | None:
        """A permit to make one call, or ``None`` if the breaker rejects it."""
        state = self.state
        if state is _CLOSED or state is _FORCED_CLOSED:
            return PASS
        if state is _FORCED_OPEN:
            return None
        now = self._clock.monotonic()
        if state is _OPEN and now < self._open_until:
            return None
        return self._acquire_trial(now)

    def is_available(self) -> bool:
        """Would a call be let through now?  Takes nothing; for routers and status."""
        state = self.state
        if state is _CLOSED or state is _FORCED_CLOSED:
            return True
        if state is _FORCED_OPEN:
            return False
        if state is _OPEN:
            return self._clock.monotonic() >= self._open_until
        # Expired permits do not count, as in `_acquire_trial`: a lost permit must not
        # make the target look unavailable forever.
        stale_before = self._clock.monotonic() - self.config.permit_timeout
        return sum(p.taken_at > stale_before for p in self._trials) < self.config.half_open_permits

    @property
    def open_until(self) -> float:
        """Clock time at which an OPEN breaker starts letting trial calls through."""
        return self._open_until

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a trial call through (0 if it would now)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._open_until - self._clock.monotonic())

    def _acquire_trial(self, now: float) -> Permit | None:
        events: list[BreakerTransition] = []
        with self._lock:
            if self.state is BreakerState.OPEN:
                if now < self._open_until:
                    return None
                self._set_state(BreakerState.HALF_OPEN, "open time elapsed", events)
            if self.state is not BreakerState.HALF_OPEN:
                # Another thread closed it (or an operator forced it) meanwhile.
                return PASS if self.state is not BreakerState.FORCED_OPEN else None
            stale_before = now - self.config.permit_timeout
            self._trials = [p for p in self._trials if p.taken_at > stale_before]
            if len(self._trials) >= self.config.half_open_permits:
                permit = None
            else:
                permit = Permit(trial=True, taken_at=now)
                self._trials.append(permit)
        self._publish(events)
        return permit

    # ------------------------------------------------------------ outcomes

    def on_success(self, permit: Permit, duration: float) -> None:
        slow_after = self._slow_after
        if permit is PASS and (slow_after is None or duration < slow_after):
            # No lock: the window takes an atomic sequence number, and a racing
            # failure that reads a stale count is the same race as calls in flight.
            if self.consecutive_failures:
                self._end_streak()
            self._window.record_success()
            return
        self._record(permit, failed=False, slow=slow_after is not None, reason="slow call")

    def on_failure(self, permit: Permit, duration: float, reason: str) -> None:
        slow_after = self.config.slow_call_duration
        slow = slow_after is not None and duration >= slow_after
        self._record(permit, failed=True, slow=slow, reason=reason)

    def release(self, permit: Permit) -> None:
        """Give back a permit whose call was abandoned (hedged loser, cancelled)."""
        if permit.trial:
            with self._lock:
                if permit in self._trials:
                    self._trials.remove(permit)

    def _record(self, permit: Permit, *, failed: bool, slow: bool, reason: str) -> None:
        if permit.trial and self._on_trial is not None:
            self._on_trial()
        events: list[BreakerTransition] = []
        now = self._clock.monotonic()
        with self._lock:
            if failed:
                self.last_failure = reason
            if permit.trial:
                self._record_trial(permit, failed, reason, now, events)
            elif self.state is BreakerState.CLOSED:
                self._record_closed(failed, slow, now, events)
        self._publish(events)

    def _record_trial(
        self, permit: Permit, failed: bool, reason: str, now: float, events: list[BreakerTransition]
    ) -> None:
        if permit not in self._trials or self.state is not BreakerState.HALF_OPEN:
            return  # expired or overtaken by another transition: the outcome is stale
        self._trials.remove(permit)
        if failed:
            self._open(now, f"trial call failed: {reason}", events)
            return
        self._trial_successes += 1
        if self._trial_successes >= self.config.half_open_successes:
            self._opens = 0
            self.consecutive_failures = 0
            self._window.clear()
            self.closed_since = now
            self._set_state(BreakerState.CLOSED, "trial calls succeeded", events)

    def _record_closed(self, failed: bool, slow: bool, now: float, events: list[BreakerTransition]) -> None:
        cfg = self.config
        if not failed and self.consecutive_failures:
            self._end_streak()
        self.consecutive_failures = self.consecutive_failures + 1 if failed else 0
        calls, failures, slow_calls = self._window.record(failed, slow, now)
        if cfg.consecutive_failures and self.consecutive_failures >= cfg.consecutive_failures:
            self._open(now, f"{self.consecutive_failures} consecutive failures", events)
            return
        if failed and cfg.consecutive_failures and self._fleet is not None:
            # The fleet's processes together may reach the threshold first: the store
            # opens the shared state then, and every process adopts it.
            self._fleet.failed(
                self.name, cfg.consecutive_failures, self._opens + 1, self._open_duration(), self.last_failure or ""
            )
        if calls < self._minimum_calls:
            return
        # Divide rather than multiply: `failures / calls` is correctly rounded, so a rate
        # exactly at the threshold trips it (0.14 * 100 is 14.000000000000002 > 14).
        if cfg.failure_rate is not None and failures / calls >= cfg.failure_rate:
            self._open(now, f"failure rate {failures}/{calls}", events)
        elif cfg.slow_call_duration is not None and slow_calls / calls >= cfg.slow_call_rate:
            self._open(now, f"slow call rate {slow_calls}/{calls}", events)

    # ------------------------------------------------------------ transitions (lock held)

    def _end_streak(self) -> None:
        """A success after failures: the streak is over, here and, for a store that
        counts failures across a fleet, there too."""
        self.consecutive_failures = 0
        if self._fleet is not None:
            self._fleet.recovered(self.name)

    def _open_duration(self) -> float:
        """How long the next opening lasts before jitter: it grows with each opening in a row."""
        cfg = self.config
        try:
            return min(cfg.open_max, cfg.open_base * cfg.open_multiplier**self._opens)
        except OverflowError:  # ~1,024 opens in a row (days down) at 2x: long past the cap
            return cfg.open_max

    def _open(self, now: float, reason: str, events: list[BreakerTransition]) -> None:
        cfg = self.config
        base = self._open_duration()
        spread = base * cfg.jitter
        open_for = min(cfg.open_max, base + self._rng.uniform(-spread, spread))
        self._opens += 1
        self._opened_at = now
        self._open_until = now + open_for
        self.consecutive_failures = 0
        self._trials.clear()
        self._trial_successes = 0
        self._set_state(BreakerState.OPEN, reason, events)

    def _set_state(self, new: BreakerState, reason: str, events: list[BreakerTransition]) -> None:
        old = self.state
        self.state = new
        self.reason = reason
        if new is BreakerState.HALF_OPEN:
            self._trials.clear()
            self._trial_successes = 0
        if self._store is not None:
            remaining = max(0.0, self._open_until - self._clock.monotonic())
            self._store.save(self.name, StoredState(new.value, self._opens, remaining, reason))
            if self._fleet is not None:
                # After this process's failure reports, on their queue: a transition ends
                # the fleet's streak, so the failures before it never count towards the next.
                self._fleet.recovered(self.name)
        if old is not new:
            events.append(BreakerTransition(self.name, old.value, new.value, reason))

    def _publish(self, events: list[BreakerTransition]) -> None:
        for event in events:
            self._emitter.emit(event)

    # ------------------------------------------------------------ operator controls

    def force_open(self, reason: str = "forced open") -> None:
        self._force(BreakerState.FORCED_OPEN, reason)

    def force_closed(self, reason: str = "forced closed") -> None:
        self._force(BreakerState.FORCED_CLOSED, reason)

    def reset(self, reason: str = "reset") -> None:
        """Back to CLOSED with empty windows, from any state."""
        self._force(BreakerState.CLOSED, reason)

    def _force(self, state: BreakerState, reason: str) -> None:
        events: list[BreakerTransition] = []
        with self._lock:
            self._window.clear()
            self.consecutive_failures = 0
            self._opens = 0
            self._trials.clear()
            # A failure from before the operator acted would be reported as the reason
            # for the new state (a forced-open target "failed over: unavailable").
            self.last_failure = None
            if state is BreakerState.FORCED_OPEN and self.state is not state:
                self._opened_at = self._clock.monotonic()  # `rejection()` reports time since then
            self._set_state(state, reason, events)
        self._publish(events)

    @property
    def store(self) -> BreakerStore | None:
        """The shared store this breaker saves its transitions to, if any."""
        return self._store

    def sync(self) -> None:
        """Adopt the state another process saved in the shared store, if it differs."""
        if self._store is None:
            return
        stored = self._store.load(self.name)
        if stored is None or stored.state == self.state.value:
            return
        events: list[BreakerTransition] = []
        now = self._clock.monotonic()
        with self._lock:
            self._opens = stored.opens
            self._open_until = now + stored.open_for
            self._opened_at = now  # the store keeps no start time; adoption is the best we know
            # As on a local transition: outcomes from before another process decided must
            # not re-open a breaker it just closed.
            self._window.clear()
            self.consecutive_failures = 0
            self._trials.clear()
            self._trial_successes = 0
            old = self.state
            self.state = BreakerState(stored.state)
            self.reason = f"shared: {stored.reason}"
            events.append(BreakerTransition(self.name, old.value, stored.state, f"shared: {stored.reason}"))
        self._publish(events)

    # ------------------------------------------------------------ convenience

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn`` under the breaker; raise `CircuitOpen` when it rejects the call.

        Counted as the executor counts (`failover.classification`): errors that fail over
        are failures, permanent ones such as NotFound show the target is alive, and
        unrecognised exceptions are not counted unless the breaker's ``classifier`` says so.
        """
        permit = self.try_acquire()
        if permit is None:
            raise self.rejection()
        start = self._clock.monotonic()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            duration = self._clock.monotonic() - start
            operation = getattr(fn, "__name__", "call")
            judged = judge(exc, target=self.name, operation=operation, classifier=self.classifier)
            if not isinstance(exc, Exception) or judged is None:
                self.release(permit)
            elif isinstance(judged, FailoverError) and judged.fails_over:
                self.on_failure(permit, duration, type(exc).__name__)
            else:
                self.on_success(permit, duration)
            raise
        self.on_success(permit, self._clock.monotonic() - start)
        return result

    def rejection(self, operation: str | None = None) -> CircuitOpen:
        """The error for a rejected call: which breaker, since when, how long, last failure."""
        retry_in = self.retry_in()
        since = self._clock.monotonic() - self._opened_at
        return rejection_error(
            self.name, self.state, self.reason, self.last_failure, since=since, retry_in=retry_in, operation=operation
        )

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state.value})"


__all__ = ["BreakerConfig", "BreakerState", "CircuitBreaker", "Permit"]
