"""The shape of a layer, the attempt it runs, and how a stack is put together."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from failover.errors import ConfigError

if TYPE_CHECKING:
    from failover.routing.router import Member

# Runs one attempt; what every layer returns and what every layer calls.
Invoke = Callable[["Attempt"], Any]


class Attempt:
    """One try of one call on one target.

    ``call(member)`` is what the facade asked for; ``started`` and ``deadline`` are on the
    executor's clock (``now``), ``deadline`` being the end of this attempt: the attempt
    timeout or the call's overall deadline, whichever comes first.  ``order`` is the
    attempt's place among those of its call (0 for the first).  ``hedge`` is True for an
    attempt launched beside a slow one still in flight; an attempt with ``order > 0``
    that is not a hedge is a retry after a failure.
    """

    __slots__ = ("call", "deadline", "member", "now", "operation", "order", "started")
    hedge = False  # a hedged call's attempts say otherwise (`failover.execution.hedging.Raced`)

    def __init__(
        self,
        member: Member,
        operation: str,
        call: Callable[[Member], Any],
        started: float,
        deadline: float,
        now: Callable[[], float],
        order: int = 0,
    ) -> None:
        self.member = member
        self.operation = operation
        self.call = call
        self.started = started
        self.deadline = deadline
        self.now = now
        self.order = order

    def __repr__(self) -> str:
        return f"<Attempt {self.operation} on {self.member.name} #{self.order}>"


class Layer(Protocol):
    def wrap(self, member: Member, inner: Invoke) -> Invoke | None:
        """The function that runs an attempt on ``member`` around ``inner``, or None to
        stay out of this target's stack."""
        ...


class Skip(Exception):  # not an error of the target: a decision to pass it by
    """Raised by a layer: do not try this target for this call, go on to the next one.

    Nothing is recorded against the target (its breaker and health never hear of it);
    the call's error, if every target is passed by, names it among those skipped.
    """


def call_provider(attempt: Attempt) -> Any:
    """The bottom of every stack: the facade's call, on the target's provider."""
    return attempt.call(attempt.member)


def compose(layers: Sequence[Layer], member: Member) -> Invoke | None:
    """The stack of ``layers`` (outermost first) over ``member``'s provider, or None when
    no layer takes part for it: the caller then calls the provider directly."""
    invoke: Invoke = call_provider
    for layer in reversed(layers):
        wrapped = layer.wrap(member, invoke)
        if wrapped is not None:
            invoke = wrapped
    return None if invoke is call_provider else invoke


class CallLayer(Protocol):
    def wrap_call(self, facade: str, operation: str, call: Callable[..., Any]) -> Callable[..., Any] | None:
        """The function that runs the facade's ``operation`` around ``call`` (the facade's
        own bound method, with its arguments), or None to leave that operation alone.
        ``facade`` names the facade's kind: ``"storage"``, ``"dns"`` or ``"compute"``."""
        ...


INSTRUMENT_HOOKS = ("wrap", "wrap_call", "on_event", "attach")


def check_instruments(instruments: object) -> tuple[Any, ...]:
    """``instruments`` as a tuple, or a `ConfigError` naming the entry with no hook.

    An instrument is telemetry attached to a facade in one piece: it has any of
    ``wrap`` (a `Layer`, placed outermost in every target's stack), ``wrap_call`` (a
    `CallLayer` around each of the facade's calls), ``on_event`` (a listener) and
    ``attach(facade)`` (called once the facade is built)."""
    if isinstance(instruments, (str, bytes)) or not isinstance(instruments, Iterable):
        raise ConfigError(f"instruments must be a sequence of instruments, not {instruments!r}")
    found = tuple(instruments)
    for i, instrument in enumerate(found):
        if not any(callable(getattr(instrument, hook, None)) for hook in INSTRUMENT_HOOKS):
            raise ConfigError(f"instruments[{i}] has none of {', '.join(INSTRUMENT_HOOKS)}: {instrument!r}")
    return found


def check_layers(layers: object) -> tuple[Layer, ...]:
    """``layers`` as a tuple, or a `ConfigError` naming the entry that is not a layer."""
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise ConfigError(f"ExecutionConfig: layers must be a sequence of layers, not {layers!r}")
    for i, layer in enumerate(layers):
        if not callable(getattr(layer, "wrap", None)):
            raise ConfigError(f"ExecutionConfig: layers[{i}] has no wrap(member, inner) method: {layer!r}")
    return tuple(layers)


__all__ = [
    "INSTRUMENT_HOOKS",
    "Attempt",
    "CallLayer",
    "Invoke",
    "Layer",
    "Skip",
    "call_provider",
    "check_instruments",
    "check_layers",
    "compose",
]
