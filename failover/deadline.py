"""The caller's per-attempt deadline, visible to whatever runs inside the attempt.

A provider that reads it says so with a ``reads_deadline = True`` attribute; the
executor publishes the deadline only to those, since setting a context variable on
every call of a provider that ignores it would be pure overhead.

The executor sets it around each attempt and layers below read it: the chaos provider's
blackhole hangs exactly until `current_deadline` (an absolute time on the executor's
clock, which the chaos provider shares), and the cloud adapters cut their SDK timeouts
to `time_left`, which measures on the clock the deadline was set on.  The adapters must
not compare the absolute time with `time.monotonic` themselves: an executor on a
`FakeClock` would make every real request look late.  A `contextvars.ContextVar` keeps
the deadline per thread and per asyncio task, so concurrent attempts never see each
other's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType


class Deadline:
    """An absolute time ``at`` on the clock whose ``now`` function measured it."""

    __slots__ = ("at", "now")

    def __init__(self, at: float, now: Callable[[], float] = time.monotonic) -> None:
        self.at = at
        self.now = now

    def left(self) -> float:
        return self.at - self.now()

    def __repr__(self) -> str:
        return f"Deadline(at={self.at!r})"


_deadline: ContextVar[Deadline | None] = ContextVar("failover_attempt_deadline", default=None)


# The executor sets and resets the variable directly around each attempt: the
# context manager below is for code off the hot path.
DEADLINE = _deadline


def current_deadline() -> float | None:
    """The running attempt's absolute deadline on the executor's clock, or None."""
    deadline = _deadline.get()
    return None if deadline is None else deadline.at


def time_left() -> float | None:
    """Seconds left before the running attempt's deadline (negative once passed), or None."""
    deadline = _deadline.get()
    return None if deadline is None else deadline.at - deadline.now()


class attempt_deadline:
    """Set the deadline (``at`` on the clock ``now``) for the block, restore the previous one after.

    Lower-case because it reads like a function at the call site.  A class rather than
    ``@contextmanager``: this runs around every probe, and a generator-based context
    manager costs several times more.
    """

    __slots__ = ("_deadline", "_token")

    def __init__(self, at: float | None, now: Callable[[], float] = time.monotonic) -> None:
        self._deadline = None if at is None else Deadline(at, now)
        self._token: Token[Deadline | None] | None = None

    def __enter__(self) -> float | None:
        self._token = _deadline.set(self._deadline)
        return None if self._deadline is None else self._deadline.at

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _deadline.reset(self._token)
            self._token = None


__all__ = ["Deadline", "attempt_deadline", "current_deadline", "time_left"]
