"""One exception tree for everything the library raises.

::

    FailoverError                       kind, target, operation, temporary, status
    ├── InvalidInput (ValueError)       bad arguments to a call: an invalid key, a bad range
    │   └── ConfigError                 bad configuration: no targets, a negative timeout
    ├── ProviderError                   a provider call failed (mapped at one boundary per adapter)
    │   ├── NotFound (FileNotFoundError)
    │   ├── AlreadyExists
    │   ├── PreconditionFailed          conflict, etag / generation mismatch
    │   │   └── Fenced                  a newer leader's fencing token holds the record
    │   ├── PermissionDenied (PermissionError) denied, no or expired credentials [temporary]
    │   ├── InvalidRequest (ValueError) the provider rejected the input
    │   ├── Unsupported                 the provider lacks this operation
    │   ├── IntegrityError              checksum mismatch            [temporary]
    │   ├── Unavailable (ConnectionError) refused, reset, 5xx, DNS  [temporary]
    │   │   └── Throttled               429, SlowDown, 503           [temporary]
    │   └── Timeout (TimeoutError)      connect / read timeout       [temporary]
    ├── CircuitOpen                     the target's breaker rejected the call [temporary]
    ├── DeadlineExceeded (TimeoutError) the caller's overall deadline passed
    ├── RetryBudgetExhausted            retries were capped to protect the fleet     [persistent]
    └── AllTargetsFailed                every eligible target failed; ``.attempts`` says why [persistent]
        ├── NotFoundUnconfirmed         not on the targets that answered; one that may hold it did not
        └── QuorumNotReached            fewer than w targets took a write; ``.acked`` names them

Every error has a ``status``, as in OpenDAL:

* ``"temporary"``: the target failed (down, slow, throttled, refusing our credentials).
  It counts against that target's breaker and health, and the call moves on to the
  next target.  Retrying the whole call later may succeed.
* ``"permanent"``: the target answered (not found, bad request, precondition failed).
  The answer is returned as it is: another cloud would say the same.
* ``"persistent"``: the error was temporary, but it persisted after the library had
  already tried every eligible target within its retry budget.  An outer retry
  (tenacity, a nested facade's caller) would only multiply the load on an outage, so
  ``temporary`` is False.  A facade used as another facade's provider still counts it
  against itself and fails over (see `FailoverError.fails_over`).

A permission or credential failure is temporary: on one target while the others
serve, it is that target's failure (a revoked key, an expired token, a bucket policy
changed by one region's deploy), so the call fails over and the breaker learns of it.

Secrets never go into messages: adapters pass only names, keys and status codes.
"""

from __future__ import annotations

from collections.abc import Sequence

from failover.redact import redact


class FailoverError(Exception):
    """Root of every error raised by multicloud-failover."""

    kind: str = "failover"
    default_temporary: bool = False
    # Retried everywhere already (see the module docstring).
    persistent: bool = False

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        operation: str | None = None,
        temporary: bool | None = None,
    ) -> None:
        message = redact(message)  # a foreign exception's text may quote a URL with credentials
        super().__init__(message)
        self.message = message
        self.target = target
        self.operation = operation
        self.temporary = self.default_temporary if temporary is None else temporary

    @property
    def status(self) -> str:
        """``"temporary"``, ``"permanent"`` or ``"persistent"`` (see the module docstring)."""
        if self.persistent:
            return "persistent"
        return "temporary" if self.temporary else "permanent"

    @property
    def fails_over(self) -> bool:
        """Does this error move a call on to the next target (temporary or persistent)?"""
        return self.temporary or self.persistent

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                f"target={self.target}" if self.target else "",
                f"operation={self.operation}" if self.operation else "",
            )
            if part
        )
        return f"{self.message} ({where})" if where else self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses add keyword-only fields (retry_after, attempts...): rebuild from
        # the message and restore every attribute, so pickling works for all of them.
        return _rebuild, (type(self), self.message), self.__dict__.copy()


def _rebuild(cls: type[FailoverError], message: str) -> FailoverError:
    error = cls.__new__(cls, message)
    Exception.__init__(error, message)
    return error


class InvalidInput(FailoverError, ValueError):
    """Bad arguments, caught before any provider is called."""

    kind = "invalid_input"


class ConfigError(InvalidInput):
    """Bad configuration: an empty target list, a negative timeout, an unknown target name."""

    kind = "config"


class ProviderError(FailoverError):
    """A provider call failed; subclasses say how."""

    kind = "provider"


class NotFound(ProviderError, FileNotFoundError):
    kind = "not_found"


class AlreadyExists(ProviderError):
    kind = "already_exists"


class PreconditionFailed(ProviderError):
    kind = "precondition_failed"


class Fenced(PreconditionFailed):
    """A leader's write was refused: the zone holds a newer leader's fencing token.

    Permanent: this writer has lost its leadership (its lease expired while it was
    paused, partitioned or slow) and must stop writing.  ``token`` is the writer's own,
    ``current`` the larger one the zone holds.
    """

    kind = "fenced"

    def __init__(
        self,
        message: str,
        *,
        token: int,
        current: int,
        target: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message, target=target, operation=operation)
        self.token = token
        self.current = current


class PermissionDenied(ProviderError, PermissionError):
    """Access denied, or credentials missing, expired or refused.  Temporary: on one target
    while others serve, it is that target's failure, and the call fails over."""

    kind = "permission_denied"
    default_temporary = True


class InvalidRequest(ProviderError, ValueError):
    kind = "invalid_request"


class Unsupported(ProviderError):
    kind = "unsupported"


class IntegrityError(ProviderError):
    """The bytes read do not match the checksum written; another replica may be good."""

    kind = "integrity"
    default_temporary = True


class Unavailable(ProviderError, ConnectionError):
    kind = "unavailable"
    default_temporary = True


class Throttled(Unavailable):
    kind = "throttled"

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        operation: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, target=target, operation=operation)
        self.retry_after = retry_after


class Timeout(ProviderError, TimeoutError):
    kind = "timeout"
    default_temporary = True


class CircuitOpen(FailoverError):
    """A breaker rejected the call without trying it."""

    kind = "circuit_open"
    default_temporary = True

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        operation: str | None = None,
        retry_in: float = 0.0,
    ) -> None:
        super().__init__(message, target=target, operation=operation)
        self.retry_in = retry_in


class DeadlineExceeded(FailoverError, TimeoutError):
    kind = "deadline_exceeded"
    default_temporary = True


class RetryBudgetExhausted(FailoverError):
    """Retries were capped to protect a struggling fleet.  Persistent: do not retry it."""

    kind = "retry_budget_exhausted"
    persistent = True


class AllTargetsFailed(FailoverError):
    """Every eligible target failed; ``attempts`` holds each target's error in order."""

    kind = "all_targets_failed"
    persistent = True

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        attempts: Sequence[FailoverError] = (),
        skipped: Sequence[str] = (),
    ) -> None:
        super().__init__(message, operation=operation)
        self.attempts = tuple(attempts)
        # Targets not tried: breaker open (or forced open), or unhealthy.
        self.skipped = tuple(skipped)

    def __str__(self) -> str:
        if not self.attempts and not self.skipped:
            return super().__str__()
        causes = [f"{a.target}: {a.kind}" for a in self.attempts]
        causes += [f"{name}: skipped (breaker open or unhealthy)" for name in self.skipped]
        return f"{super().__str__()} [{'; '.join(causes)}]"


class NotFoundUnconfirmed(AllTargetsFailed):
    """The object is not on the targets that answered, but a target that may hold it
    could not be asked (down, timed out, behind an open breaker).

    Deliberately not a `NotFound`: code that creates a default on `NotFound` must not
    overwrite an object that exists on the unreachable target.  ``answered`` names
    the targets that said "not found"; ``unreachable`` those that may hold it.
    """

    kind = "not_found_unconfirmed"

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        attempts: Sequence[FailoverError] = (),
        skipped: Sequence[str] = (),
        answered: Sequence[str] = (),
        unreachable: Sequence[str] = (),
    ) -> None:
        super().__init__(message, operation=operation, attempts=attempts, skipped=skipped)
        self.answered = tuple(answered)
        self.unreachable = tuple(unreachable)


class QuorumNotReached(AllTargetsFailed):
    """Fewer than the wanted targets took the write; ``acked`` names those that did, and
    they keep it.  For object storage the journal brings the others to it later: the
    write is not lost, but it was not acknowledged.  `FailoverDNS` keeps no journal: the
    zones differ until the call is repeated (upserts and deletes are idempotent)."""

    kind = "quorum_not_reached"

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        attempts: Sequence[FailoverError] = (),
        acked: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, operation=operation, attempts=attempts)
        self.acked = acked


def _is_circuitbreaker_error(exc: BaseException) -> bool:
    # Recognised by name so that the `circuitbreaker` package stays optional.
    cls = type(exc)
    return any(
        c.__name__ == "CircuitBreakerError" and c.__module__.startswith("circuitbreaker")
        for c in cls.__mro__
    )


def _describe(exc: BaseException) -> str:
    # A foreign exception's __str__ may itself fail (circuitbreaker's does when built
    # without its breaker): mapping an error must never raise a new one.
    try:
        return str(exc) or type(exc).__name__
    except Exception:
        return type(exc).__name__


def classify(exc: BaseException, *, target: str, operation: str) -> FailoverError | None:
    """Map an exception raised inside a provider call to a `FailoverError`.

    Returns ``None`` for exceptions that are neither ours nor recognisably about the
    network: those are programming errors and propagate unchanged.
    """
    if isinstance(exc, FailoverError):
        if exc.target is None:
            exc.target = target
        if exc.operation is None:
            exc.operation = operation
        return exc
    if _is_circuitbreaker_error(exc):
        return Unavailable(f"guarded by an open circuitbreaker: {_describe(exc)}", target=target, operation=operation)
    if isinstance(exc, FileNotFoundError):
        return NotFound(f"not found: {_describe(exc)}", target=target, operation=operation)
    if isinstance(exc, PermissionError):
        return PermissionDenied(f"permission denied: {_describe(exc)}", target=target, operation=operation)
    if isinstance(exc, TimeoutError):
        return Timeout(f"timed out: {_describe(exc)}", target=target, operation=operation)
    if isinstance(exc, OSError):  # ConnectionError and friends are OSErrors
        return Unavailable(f"connection failed: {_describe(exc)}", target=target, operation=operation)
    return None


__all__ = [
    "AllTargetsFailed",
    "AlreadyExists",
    "CircuitOpen",
    "ConfigError",
    "DeadlineExceeded",
    "FailoverError",
    "Fenced",
    "IntegrityError",
    "InvalidInput",
    "InvalidRequest",
    "NotFound",
    "NotFoundUnconfirmed",
    "PermissionDenied",
    "PreconditionFailed",
    "ProviderError",
    "QuorumNotReached",
    "RetryBudgetExhausted",
    "Throttled",
    "Timeout",
    "Unavailable",
    "Unsupported",
    "classify",
]
