"""The caller's per-attempt deadline, visible to whatever runs inside the attempt.

A provider that reads it says so with a ``reads_deadline = True`` attribute; the
executor publishes the deadline only to those, since setting a context variable on
every call of a provider that ignores it would be pure overhead.

The executor sets it around each attempt (``with attempt_deadline(now + timeout): ...``)
and layers below read it with `current_deadline`: the chaos provider's blackhole hangs
exactly until it, and adapters may cut their SDK timeouts to it.  The value is an
absolute time on the executor's clock (``Clock.monotonic``), or None when no timeout
is set.  A `contextvars.ContextVar` keeps it per thread and per asyncio task, so
concurrent attempts never see each other's deadline.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from types import TracebackType

_deadline: ContextVar[float | None] = ContextVar("failover_attempt_deadline", default=None)


# The executor sets and resets the variable directly around each attempt: the
# context manager below is for code off the hot path.
DEADLINE = _deadline


def current_deadline() -> float | None:
    """The running attempt's absolute deadline, or None when it has no timeout."""
    return _deadline.get()


class attempt_deadline:
    """Set the deadline for the block and restore the previous one after it.

    Lower-case because it reads like a function at the call site.  A class rather than
    ``@contextmanager``: this runs around every attempt, and a generator-based context
    manager costs several times more.
    """

    __slots__ = ("_deadline", "_token")

    def __init__(self, deadline: float | None) -> None:
        self._deadline = deadline
        self._token: Token[float | None] | None = None

    def __enter__(self) -> float | None:
        self._token = _deadline.set(self._deadline)
        return self._deadline

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _deadline.reset(self._token)
            self._token = None
