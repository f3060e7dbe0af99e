"""Which targets answered one client call: an `Observe` layer writing into the call's context.

The facade returns the data, not who served it.  Each attempt's outcome is appended to a
list the drill puts in a context variable around the call; replicated writes run their
sends on worker threads with the caller's context copied, so their attempts land in the
same list, while the background drainer's repairs (another context) do not.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from failover.layers import Attempt, AttemptTimeout, Layer, Observe


@dataclass
class Seen:
    answered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class Witness:
    def __init__(self) -> None:
        self._current: contextvars.ContextVar[Seen | None] = contextvars.ContextVar("drill_call", default=None)

    def layers(self) -> tuple[Layer, ...]:
        return (AttemptTimeout(), Observe(self._hook))

    def _hook(self, attempt: Attempt, seconds: float, error: BaseException | None) -> None:
        seen = self._current.get()
        if seen is None:
            return
        # list.append is atomic: fanned-out sends may finish at the same moment.
        (seen.failed if error is not None else seen.answered).append(attempt.member.name)

    @contextmanager
    def call(self) -> Iterator[Seen]:
        seen = Seen()
        token = self._current.set(seen)
        try:
            yield seen
        finally:
            self._current.reset(token)


def ordered(names: list[str], order: dict[str, int]) -> tuple[str, ...]:
    return tuple(sorted(set(names), key=order.__getitem__))


__all__ = ["Seen", "Witness", "ordered"]
