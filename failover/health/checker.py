"""Active health checking: run each target's probe on its interval and feed its health.

``HealthChecker.run_due(now)`` is the whole algorithm and needs no thread, so unit
tests drive it with a `FakeClock` and never sleep::

    checker = HealthChecker([Check("aws:us-east-1", TcpProbe(host, 443), health)], clock=clock)
    next_due = checker.run_due(clock.monotonic())

In production one daemon thread loops over ``run_due``::

    with HealthChecker(checks) as checker:   # start() ... stop()
        serve()

Checks run one after another, so a pass takes at most the sum of their timeouts; a
probe that raises is a failed probe, never a dead worker.  Rise/fall thresholds live
in `TargetHealth.record_probe`, which emits a `HealthChanged` event once per flip.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

from failover.clock import Clock, SystemClock
from failover.deadline import attempt_deadline
from failover.errors import ConfigError
from failover.health.probes import Probe
from failover.health.target_health import TargetHealth
from failover.redact import redact

logger = logging.getLogger("failover.health.checker")

MAX_REASON = 300


def _number(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Check:
    """Probe ``target`` every ``interval`` (plus or minus ``jitter * interval``) seconds, each try
    bounded by ``timeout``, and record the results in ``health``."""

    target: str
    probe: Probe
    health: TargetHealth
    interval: float = 5.0
    timeout: float = 2.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if not isinstance(self.target, str) or not self.target:
            raise ConfigError(f"check target must be a non-empty str, got {self.target!r}")
        if not callable(getattr(self.probe, "check", None)):
            raise ConfigError(f"check {self.target}: probe has no check(timeout) method")
        if not isinstance(self.health, TargetHealth):
            raise ConfigError(f"check {self.target}: health must be a TargetHealth")
        if self.health.target != self.target:
            # Feeding one target's probe into another's health would route on a lie.
            raise ConfigError(f"check {self.target} was given the health of {self.health.target}")
        interval = _number("interval", self.interval)
        timeout = _number("timeout", self.timeout)
        jitter = _number("jitter", self.jitter)
        if interval <= 0:
            raise ConfigError(f"check {self.target}: interval must be > 0, got {interval}")
        if not 0 < timeout <= interval:
            # A timeout longer than the interval would let probes of one target pile up.
            raise ConfigError(f"check {self.target}: need 0 < timeout <= interval, got {timeout}")
        if not 0 <= jitter < 1:
            raise ConfigError(f"check {self.target}: need 0 <= jitter < 1, got {jitter}")


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe run: what `check_now` returns and what the CLI prints."""

    target: str
    ok: bool
    reason: str
    elapsed: float
    changed: bool | None  # the new verdict if this probe flipped it, else None


def describe_failure(exc: BaseException) -> str:
    """A one-line, bounded, credential-free reason for a failed probe."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    # Belt and braces: a foreign exception may quote a URL with credentials in it.
    reason = redact(reason)
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."


class HealthChecker:
    """Runs `Check`s on schedule; ``run_due`` for tests and manual loops, ``start`` for a thread."""

    def __init__(
        self,
        checks: Iterable[Check],
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._checks: dict[str, Check] = {}
        for check in checks:
            if not isinstance(check, Check):
                raise ConfigError(f"HealthChecker takes Check objects, got {type(check).__name__}")
            if check.target in self._checks:
                raise ConfigError(f"two checks for target {check.target}")
            self._checks[check.target] = check
        if not self._checks:
            raise ConfigError("HealthChecker needs at least one check")
        self._clock: Clock = SystemClock() if clock is None else clock
        self._rng = random.Random() if rng is None else rng
        # -inf: every target is probed on the first pass, so health is known at once.
        self._next: dict[str, float] = dict.fromkeys(self._checks, -math.inf)
        # Guards the schedule and rng (worker vs. check_now); never held across a probe.
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop_event: threading.Event | None = None

    @property
    def checks(self) -> tuple[Check, ...]:
        return tuple(self._checks.values())

    def next_run(self, target: str) -> float:
        """When ``target`` is next due (-inf before its first probe)."""
        self._get(target)
        with self._lock:
            return self._next[target]

    # ------------------------------------------------------------ the algorithm

    def run_due(self, now: float) -> float:
        """Run every check due at ``now``, in order; return when the next one is due."""
        with self._lock:
            due = [c for c in self._checks.values() if self._next[c.target] <= now]
        for check in due:
            try:
                self._run(check, now)
            except Exception:  # a bug outside the probe must not starve the other checks
                logger.exception("health check of %s failed unexpectedly", check.target)
                self._reschedule(check, now)
        with self._lock:
            return min(self._next.values())

    def check_now(self, target: str) -> ProbeResult:
        """Probe ``target`` immediately, record the result, and restart its interval."""
        return self._run(self._get(target), self._clock.monotonic())

    def _get(self, target: str) -> Check:
        try:
            return self._checks[target]
        except KeyError:
            known = ", ".join(self._checks)
            raise ConfigError(f"no health check for target {target!r} (known: {known})") from None

    def _run(self, check: Check, now: float) -> ProbeResult:
        started = self._clock.monotonic()
        try:
            # Also published as the attempt deadline: adapters and the chaos provider
            # read it, so a provider probe() with no timeout argument still gives up.
            with attempt_deadline(started + check.timeout, self._clock.monotonic):
                check.probe.check(check.timeout)
        except Exception as exc:  # any failure of the probe is a verdict, not a crash
            ok, reason = False, describe_failure(exc)
        else:
            ok, reason = True, ""
        elapsed = max(0.0, self._clock.monotonic() - started)
        if ok and elapsed > check.timeout:
            # Foreign probes may overrun: an answer after the deadline is not healthy.
            ok, reason = False, f"probe took {elapsed:.3f}s, over its {check.timeout:g}s timeout"
        elif ok:
            reason = f"probe ok in {elapsed * 1000:.1f} ms"
        # The health emits `HealthChanged` itself when this result flips it.
        changed = check.health.record_probe(ok, now, reason)
        self._reschedule(check, now)
        return ProbeResult(check.target, ok, reason, elapsed, changed)

    def _reschedule(self, check: Check, now: float) -> None:
        # Jitter spreads probes from many processes so they do not hit a target in step.
        with self._lock:
            factor = 1.0 + self._rng.uniform(-check.jitter, check.jitter) if check.jitter else 1.0
            self._next[check.target] = now + check.interval * factor

    # ------------------------------------------------------------ background worker

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the daemon worker; a no-op if it is already running."""
        if self.running:
            return
        # A fresh event per thread: an old worker still finishing a probe after a
        # timed-out stop() keeps its own (set) event and exits, never runs twice.
        stop_event = threading.Event()
        thread = threading.Thread(
            target=self._loop, args=(stop_event,), name="failover-health-checker", daemon=True
        )
        self._stop_event, self._thread = stop_event, thread
        thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the worker; wait at most ``timeout`` seconds (default: the longest probe
        timeout + 1 s) for an in-flight probe.  Return True if the worker has exited."""
        thread, stop_event = self._thread, self._stop_event
        if thread is None or stop_event is None:
            return True
        stop_event.set()
        if timeout is None:
            timeout = max(c.timeout for c in self._checks.values()) + 1.0
        if thread is not threading.current_thread():
            thread.join(_number("timeout", timeout))
        exited = not thread.is_alive()
        if not exited:
            logger.warning("health checker still busy with a probe after %.1fs; left as a daemon", timeout)
        self._thread = self._stop_event = None
        return exited

    def _loop(self, stop_event: threading.Event) -> None:
        clock = self._clock
        while not stop_event.is_set():
            try:
                delay = self.run_due(clock.monotonic()) - clock.monotonic()
            except Exception:  # never expected (run_due guards each check), never fatal
                logger.exception("health checker pass failed")
                delay = 1.0
            if delay <= 0:
                continue
            if isinstance(clock, SystemClock):
                stop_event.wait(delay)  # wakes at once on stop()
            else:
                # An injected clock defines time; a FakeClock's sleep advances it, so
                # the worker then replays simulated time as fast as it can.
                clock.sleep(delay)

    def __enter__(self) -> HealthChecker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"HealthChecker({len(self._checks)} checks, {state})"


__all__ = ["Check", "HealthChecker", "ProbeResult", "describe_failure"]
