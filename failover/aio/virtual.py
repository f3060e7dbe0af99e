"""An event loop on virtual time, for tests of async code that waits.

`run` drives a coroutine on a loop whose clock is a `failover.clock.FakeClock`: when
nothing is ready, instead of waiting for the next timer the loop moves the clock to
it.  A hedge after 50 ms, an attempt timeout of 5 s or an ``asyncio.sleep(3600)`` all
take no wall-clock time, and the facade's ``clock=`` (the same `FakeClock`) agrees with
the loop's.  Sockets and threads still work (their readiness is polled), but time spent
waiting on them is not counted: keep such tests on the real loop.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

from failover.clock import FakeClock

R = TypeVar("R")
_QUANTUM = 1e-9


class _AdvancingSelector(selectors.DefaultSelector):
    """A selector that, asked to wait, polls and then moves the clock by the wait."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:  # no timer at all: only I/O or another thread can wake the loop
            return super().select(None)
        ready = super().select(0)
        if not ready and timeout > 0:
            # At least a nanosecond: a wait shorter than the clock's float can add
            # (1e-14 s at 1000 s) would leave time standing and the loop spinning.
            self._clock.advance(max(timeout, _QUANTUM))
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose ``time()`` is ``clock.monotonic()``."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(_AdvancingSelector(clock))
        self._virtual_clock = clock

    def time(self) -> float:
        return self._virtual_clock.monotonic()


def run(main: Coroutine[Any, Any, R], clock: FakeClock, *, debug: bool = True) -> R:
    """Run ``main`` to completion on a `VirtualTimeLoop` over ``clock``, in debug mode by
    default; fails if any task is still pending when ``main`` returns (a leak)."""
    loop = VirtualTimeLoop(clock)
    loop.set_debug(debug)
    try:
        result = loop.run_until_complete(main)
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        if pending:
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            raise AssertionError(f"{len(pending)} task(s) left pending: {pending!r}")
        loop.run_until_complete(loop.shutdown_asyncgens())
        return result
    finally:
        loop.close()


__all__ = ["VirtualTimeLoop", "run"]
