"""Conditional writes for the library's own repairs: write only over what was seen.

A repair or a reconcile looks at a target (``head`` or a listing), decides to copy, and
writes.  Between the look and the write, another write may land: an abandoned attempt
finishing late, another process.  Writing conditionally on what was seen (the etag, or
"absent") makes the target refuse the copy with `PreconditionFailed` instead of rolling
that newer write back; the caller looks again.
"""

from __future__ import annotations

import inspect
from typing import Any

from failover.capabilities import ObjectInfo


def condition_on(there: ObjectInfo | None) -> dict[str, Any]:
    """The put condition that makes a repair apply only to what it saw on the target."""
    if there is None:
        return {"if_absent": True}
    return {"if_match": there.etag} if there.etag else {}


def takes_conditions(provider: object) -> bool:
    """Does ``provider.put`` take ``if_match``/``if_absent`` (every bundled store does; a
    user's own store written before conditions existed may not)?  A wrapper that passes
    them on (the chaos provider's ``inner``) takes them only if what it wraps does."""
    inner = getattr(provider, "inner", None)
    if inner is not None and inner is not provider and not takes_conditions(inner):
        return False
    try:
        parameters = inspect.signature(provider.put).parameters  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        return False
    return "if_match" in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


__all__ = ["condition_on", "takes_conditions"]
