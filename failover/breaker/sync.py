"""Keeping breakers in step with a shared `BreakerStore`: the facade runs this itself.

A breaker saves its transitions to the store as they happen; what other processes
saved reaches it through `CircuitBreaker.sync`.  `StoreSync` calls ``sync`` on every
breaker of a pool every ``interval`` seconds on one daemon thread, started and stopped
with the facade (``start()`` / ``close()`` or ``with``).  A store that announces changes
(``subscribe(on_change)``, as `failover.fleet.redis_store.RedisBreakerStore` does) is
also listened to: an announced breaker syncs at once, and every breaker after the
announcements resume (``on_change(None)``), so a fleet learns of an opened breaker in
milliseconds and the interval is only the backstop.  ``run_once`` and ``changed`` are
the whole algorithm, so unit tests call them on a fake clock and never wait.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence

from failover.breaker.circuit import CircuitBreaker
from failover.errors import ConfigError

logger = logging.getLogger(__name__)

# How often breakers look at the shared store when the store does not say
# (``sync_interval`` attribute): a second keeps a fleet in step without loading Redis.
DEFAULT_SYNC_INTERVAL = 1.0


class StoreSync:
    """Calls ``sync()`` on ``breakers`` every ``interval`` seconds on a daemon thread."""

    def __init__(
        self, breakers: Sequence[CircuitBreaker], interval: float = DEFAULT_SYNC_INTERVAL, store: object = None
    ) -> None:
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 < interval < math.inf:
            raise ConfigError(f"breaker store sync_interval must be a number of seconds > 0, got {interval!r}")
        self.breakers = tuple(breakers)
        self.interval = float(interval)
        self._by_name: dict[str, list[CircuitBreaker]] = {}
        for breaker in self.breakers:
            self._by_name.setdefault(breaker.name, []).append(breaker)
        self._subscribe = getattr(store, "subscribe", None)
        self._unsubscribe = getattr(store, "unsubscribe", None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run_once(self) -> None:
        """Adopt what the store holds for each breaker; a failure is logged, never raised."""
        for breaker in self.breakers:
            try:
                breaker.sync()
            except Exception:  # a store that misbehaves must not stop the other breakers
                logger.exception("sync of breaker %s with the shared store failed", breaker.name)

    def changed(self, name: str | None) -> None:
        """The store announced ``name``'s new state (None: anything may have changed)."""
        if name is None:
            self.run_once()
            return
        for breaker in self._by_name.get(name, ()):
            try:
                breaker.sync()
            except Exception:
                logger.exception("sync of breaker %s with the shared store failed", breaker.name)

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="failover-breaker-sync", daemon=True)
            self._thread.start()
        if callable(self._subscribe):
            self._subscribe(self.changed)

    def stop(self, timeout: float = 1.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            if callable(self._unsubscribe):
                self._unsubscribe(self.changed)
            self._stop.set()
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()


__all__ = ["DEFAULT_SYNC_INTERVAL", "StoreSync"]
