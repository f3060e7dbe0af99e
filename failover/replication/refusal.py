"""Exceptions no adapter mapped, raised by a target during a replicated write: a refusal.

An SDK may raise its own exception for input it cannot send (a ``UnicodeEncodeError``
for a header, a ``TypeError`` deep in a serializer).  During a write that other targets
take, or a repair, it is mapped here, at the boundary, to a permanent `InvalidRequest`
naming the target, so the write is journaled for that target (and a repair of it is
quarantined) instead of escaping past the targets that already hold the object.
"""

from __future__ import annotations

from failover.errors import InvalidRequest


def refusal(exc: Exception, *, target: str, operation: str) -> InvalidRequest:
    """``exc``, raised by ``target``'s SDK during ``operation``, as a permanent refusal."""
    error = InvalidRequest(f"{type(exc).__name__}: {exc}", target=target, operation=operation)
    error.__cause__ = exc
    return error


__all__ = ["refusal"]
