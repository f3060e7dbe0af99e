"""When a read's `NotFound` is the truth: the rules for reads of one object by key.

A `NotFound` reaches the caller only when a target that would hold the object said
so.  A read made with a `Lookup` treats each target's `NotFound` as that target's
answer, not yet the call's:

* without ``fall_through`` (a facade with no ``writes=``: an object lives on the target
  that took its write), the first target of the plan that answers is authoritative
  when every target before it was reachable.  If one before it was down, timed out or
  behind an open breaker, the object may be there, so the read goes on to the next
  targets, and if none has it the caller gets `NotFoundUnconfirmed`, which names the
  unreachable targets and is deliberately not a `NotFound`;
* with ``fall_through`` (replicated writes: every target should hold every object), a
  target that says `NotFound` may simply lack it (restored from an old backup, written
  before replication was turned on), so the read always goes on to the next target.
  ``missed`` then names the targets that lacked the object, for read repair.

Moving on after a `NotFound` is not a retry: the target answered, so its breaker counts
a success and the retry budget is not spent.
"""

from __future__ import annotations

from collections.abc import Sequence

from failover.errors import FailoverError, NotFound, NotFoundUnconfirmed


class Lookup:
    """The state of one read by key across targets; see the module docstring."""

    __slots__ = ("fall_through", "first", "missed", "shared")

    def __init__(self, *, fall_through: bool = False, shared: bool = False) -> None:
        self.fall_through = fall_through
        # A shared lookup (`PREFERRED`) is never written to: a call that needs state
        # takes a fresh one (`for_call`), so the common read allocates nothing.
        self.shared = shared
        self.missed: list[str] = []
        self.first: NotFound | None = None

    def for_call(self) -> Lookup:
        """This lookup, or a fresh one with its rule if it is shared between calls."""
        return Lookup(fall_through=self.fall_through) if self.shared else self

    def goes_on(self, error: FailoverError, unreachable: bool) -> bool:
        """Should the call go on to the next target after ``error``, a permanent answer?"""
        if not isinstance(error, NotFound):
            return False
        assert not self.shared, "a shared Lookup must be replaced by for_call() first"
        if self.first is None:
            self.first = error
        if error.target is not None:
            self.missed.append(error.target)
        return self.fall_through or unreachable

    def answer(self, operation: str, errors: Sequence[FailoverError], skipped: Sequence[str]) -> FailoverError | None:
        """The call's error once no target had the object, or None if no target said `NotFound`."""
        if self.first is None:
            return None
        unreachable = [e.target for e in errors if e.target] + list(skipped)
        if not unreachable:
            return self.first
        answered = ", ".join(self.missed)
        which = ", ".join(unreachable)
        return NotFoundUnconfirmed(
            f"{operation}: not on the targets that answered ({answered}); "
            f"{which}, which may hold it, {'is' if len(unreachable) == 1 else 'are'} unreachable",
            operation=operation,
            attempts=errors,
            skipped=skipped,
            answered=self.missed,
            unreachable=unreachable,
        )


# Reads of a facade without a write mode: the preferred target's NotFound is the answer.
PREFERRED = Lookup(shared=True)

__all__ = ["PREFERRED", "Lookup"]
