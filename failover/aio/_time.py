"""Bounding one awaited attempt in time, on every supported Python.

``asyncio.timeout`` (3.11+) cancels the attempt inside its own task, so the provider's
connection is released where it stands; on 3.10, ``asyncio.wait_for`` does the same
with a task of its own.  Either way only the expiry of this scope becomes the library's
`Timeout`: a ``TimeoutError`` the provider raised itself is left to the classifier.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

from failover.errors import Timeout

R = TypeVar("R")


def expired(seconds: float, target: str, operation: str) -> Timeout:
    return Timeout(f"no answer within {seconds:.3g}s", target=target, operation=operation)


if sys.version_info >= (3, 11):

    async def bounded(awaitable: Awaitable[R], seconds: float, target: str, operation: str) -> R:
        """``await awaitable``, cancelled after ``seconds`` (loop time) with `Timeout`."""
        scope = asyncio.timeout(seconds)
        try:
            async with scope:
                return await awaitable
        except TimeoutError:
            if scope.expired():
                raise expired(seconds, target, operation) from None
            raise

else:

    async def bounded(awaitable: Awaitable[R], seconds: float, target: str, operation: str) -> R:
        """``await awaitable``, cancelled after ``seconds`` (loop time) with `Timeout`."""
        try:
            return await asyncio.wait_for(awaitable, seconds)
        except asyncio.TimeoutError as exc:  # on 3.10 not the builtin a provider raises
            if isinstance(exc, TimeoutError):
                raise
            raise expired(seconds, target, operation) from None


__all__ = ["bounded", "expired"]
