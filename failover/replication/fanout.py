"""A replicated write sent to its targets at the same time, not one after another.

``All`` sends to every target in the plan at once, so a write costs the slowest target's
latency, not the sum of them all.  ``Quorum(w)`` sends to the first ``w`` targets of the
plan at once and, for each one that fails, to the next: a write costs the slowest of the
``w`` that take it.  Each send is a call pinned to one target
(`failover.replication.modes.Replication.on`), through its breaker and health like any
call, on a worker thread of the write path's own pool, with the caller's context
variables (a trace's span).

The targets that took the write are reported in plan order, best first, and the answer
is the best one's, so a write's result does not depend on which cloud was fastest.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, TypeVar

from failover.errors import AllTargetsFailed, FailoverError, QuorumNotReached
from failover.replication.refusal import refusal

if TYPE_CHECKING:
    from failover.routing.router import Member

R = TypeVar("R")

# Pinned writes in flight at once, over every caller: beyond it, writes queue.
MAX_WRITERS = 64


class FanOut:
    """The worker threads of replicated writes, started on the first fanned-out write."""

    def __init__(self, send: Callable[[str, str, Callable[[Member], Any]], Any]) -> None:
        self._send = send  # (target, operation, call) -> result, pinned to that target
        self._threads: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def write(
        self, op: str, call: Callable[[Member], R], plan: Sequence[Member], acks: int | None, took: list[str]
    ) -> R:
        """Send to every target of ``plan`` (``acks`` None: the write succeeds if any took
        it, the rest are journaled) or until ``acks`` targets took it; ``took`` is filled
        in plan order.  Raises the one error, every error, or `QuorumNotReached` naming
        who acknowledged."""
        need = len(plan) if acks is None else acks
        order = {member.name: i for i, member in enumerate(plan)}
        waiting = list(plan)
        running: dict[Future[R], str] = {}
        results: dict[str, R] = {}
        # Written by the senders themselves as each target takes the write: an interrupt
        # landing between a submit and its bookkeeping here cannot lose a target that has it.
        landed: dict[str, R] = {}
        errors: list[FailoverError] = []
        foreign: list[Exception] = []  # exceptions no adapter mapped (an SDK's UnicodeEncodeError...)
        try:
            while waiting or running:
                while waiting and len(running) + len(results) < need:
                    name = waiting.pop(0).name
                    running[self._submit(name, op, call, landed)] = name
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    self._collect(op, running.pop(future), future, results, errors, foreign)
        except BaseException:
            # Interrupted (Ctrl-C): a send in flight may still land.  Wait for each one (its
            # attempt timeout bounds it), so that every target that took the write is in
            # ``took`` and the journal keeps the intent for the others.
            for future in wait(running).done:
                self._collect(op, running[future], future, results, errors, foreign, quiet=True)
            raise
        finally:
            with self._lock:
                results.update(landed)
            took.extend(sorted(results, key=order.__getitem__))
        if not took:
            if foreign and len(foreign) == len(errors):
                raise foreign[0]  # refused the same way everywhere: the caller's bug, unchanged
            if len(errors) == 1:
                raise errors[0]
            raise AllTargetsFailed(f"{op}: no target took the write", operation=op, attempts=errors)
        if acks is not None and len(took) < acks:
            raise QuorumNotReached(
                f"{op}: {len(took)} of the {need} acknowledgements wanted ({', '.join(took)})",
                operation=op,
                attempts=errors,
                acked=tuple(took),
            )
        return results[took[0]]

    @staticmethod
    def _collect(
        op: str,
        name: str,
        future: Future[R],
        results: dict[str, R],
        errors: list[FailoverError],
        foreign: list[Exception],
        *,
        quiet: bool = False,
    ) -> None:
        """Note one send's outcome; an interrupt of the send itself is re-raised unless ``quiet``."""
        exc = future.exception()
        if exc is None:
            results[name] = future.result()
        elif isinstance(exc, FailoverError):
            errors.append(exc)
        elif isinstance(exc, Exception):
            # Mapped here, so that one target's unmapped error neither hides the
            # targets that took the write nor stops the others from taking it.
            foreign.append(exc)
            errors.append(refusal(exc, target=name, operation=op))
        elif not quiet:
            raise exc

    def _submit(self, target: str, op: str, call: Callable[[Member], R], landed: dict[str, R]) -> Future[R]:
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(MAX_WRITERS, thread_name_prefix="failover-replica-write")
            threads = self._threads

        def send() -> R:
            result: R = self._send(target, op, call)
            with self._lock:
                landed[target] = result
            return result

        return threads.submit(contextvars.copy_context().run, send)

    def close(self) -> None:
        """Stop the worker threads once the writes in flight are done."""
        with self._lock:
            threads, self._threads = self._threads, None
        if threads is not None:
            threads.shutdown(wait=False)


__all__ = ["MAX_WRITERS", "FanOut"]
