"""Attempt deadlines under one timer per event loop, instead of one timer per attempt.

``asyncio.timeout`` puts a timer handle on the loop's heap for every attempt and
cancels it when the attempt ends; with a thousand attempts in flight every push and
pop sifts through a thousand entries, and the scope costs more than the rest of the
call.  A `Watchdog` keeps its attempts' deadlines in a deque, in the order they fall
due (one executor's attempts mostly share one attempt timeout, so each new deadline is
the latest), and arms a single timer for the earliest one still running.  An attempt
that ends marks its entry done, which costs nothing on the heap.  When the timer fires,
the overdue attempts are cancelled inside their own tasks, as ``asyncio.timeout``
does, and only that cancellation becomes the library's `Timeout`: the caller's own
cancellation, and a ``TimeoutError`` the provider raised, pass through unchanged.

A deadline earlier than the latest one queued (the call's deadline cutting an attempt
short) would break the order, so it gets an ``asyncio.timeout`` scope of its own
(`failover.aio._time.bounded`).  Needs ``Task.cancelling`` (Python 3.11+); on 3.10
every attempt is `bounded`.
"""

from __future__ import annotations

import asyncio
import operator
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from failover.aio._time import bounded, expired

R = TypeVar("R")

if sys.version_info >= (3, 11):
    # C callables: no Python frame of their own on every attempt.
    _cancelling: Callable[[asyncio.Task[object]], int] = operator.methodcaller("cancelling")
    _uncancel: Callable[[asyncio.Task[object]], int] = operator.methodcaller("uncancel")

else:  # the executor bounds every attempt with its own scope there

    def _cancelling(task: asyncio.Task[object]) -> int:
        raise NotImplementedError("the watchdog needs Task.cancelling (Python 3.11+)")

    _uncancel = _cancelling

if sys.version_info >= (3, 12):
    _current_task: Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None] = asyncio.current_task
else:
    # On 3.11 `asyncio.current_task` is Python code around this dict, which the C tasks
    # keep up to date: its ``get`` is the same answer without a frame (3.12 has it in C).
    _current_task = asyncio.tasks._current_tasks.get  # type: ignore[attr-defined]

# An entry's state: the attempt runs, has ended, or was cancelled when it fell due.
_RUNNING, _DONE, _EXPIRED = 0, 1, 2
# An entry is a list, [when, task, state]: the cheapest object to make per attempt.
_WHEN, _TASK, _STATE = 0, 1, 2


class Watchdog:
    """The deadlines of the attempts awaited on ``loop``, cancelled when they fall due."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        # The standard loops' clock is time.monotonic: read directly, one frame less.
        self._time = time.monotonic if getattr(type(loop), "time", None) is asyncio.BaseEventLoop.time else loop.time
        self._due: deque[list[Any]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._armed = 0.0  # the loop time the timer was set for

    def __len__(self) -> int:
        """Attempts still queued (running, or ended behind one that runs)."""
        return len(self._due)

    async def bounded(self, awaitable: Awaitable[R], seconds: float, target: str, operation: str) -> R:
        """``await awaitable``, cancelled after ``seconds`` (loop time) with `Timeout`;
        must be awaited in a task on ``loop``."""
        when = self._time() + seconds
        due = self._due
        while due and due[0][_STATE]:  # ended attempts leave from the front
            due.popleft()
        task = _current_task(self.loop)
        if task is None or (due and when < due[-1][_WHEN]):
            return await bounded(awaitable, seconds, target, operation)
        entry = [when, task, _RUNNING]
        cancelling = _cancelling(task)
        due.append(entry)
        if self._timer is None:
            self._arm(when)
        try:
            result = await awaitable
        except asyncio.CancelledError:
            expired_now = entry[_STATE] == _EXPIRED
            entry[_STATE] = _DONE
            # Ours only if no one else asked to cancel the task meanwhile.
            if expired_now and _uncancel(task) <= cancelling:
                raise expired(seconds, target, operation) from None
            raise
        except BaseException:
            if entry[_STATE] == _EXPIRED:
                _uncancel(task)
            entry[_STATE] = _DONE
            raise
        if entry[_STATE] == _EXPIRED:
            _uncancel(task)  # expired as it answered: the answer stands
        entry[_STATE] = _DONE
        return result

    def _arm(self, when: float) -> None:
        self._armed = when
        self._timer = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        """Cancel every running attempt due by now, then arm for the next one."""
        self._timer = None
        # The loop runs a timer up to its clock's resolution early: what it was set for is due.
        now = max(self.loop.time(), self._armed)
        due = self._due
        while due:
            entry = due[0]
            if entry[_STATE] == _RUNNING:
                if entry[_WHEN] > now:
                    self._arm(entry[_WHEN])
                    return
                entry[_STATE] = _EXPIRED
                entry[_TASK].cancel()
            due.popleft()

    def close(self) -> None:
        """Stop the timer; attempts still queued run on unbounded."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._due.clear()


__all__ = ["Watchdog"]
