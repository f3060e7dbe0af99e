"""What an exception raised by a target means: a failure of the target, or its answer.

One rule for the executor and for `CircuitBreaker.call`:

* a `FailoverError` that `fails_over` (temporary or persistent) is a **failure**: it
  counts against the target's breaker and health, and the call moves on;
* a permanent `FailoverError` (not found, bad request) is the target's **answer**:
  the target is alive, so it counts as a success, and the caller gets the error;
* an OS-level error (refused, reset, timed out, `FileNotFoundError`...) is mapped by
  `failover.errors.classify` and then follows the two rules above;
* anything else (a `KeyError`, a `TypeError`) is **unrecognised**: most likely a bug in
  the calling code, not an outage, so it is not counted either way, the permit is
  given back, and it propagates unchanged.

A `Classifier` changes the rule for the exceptions it names, in the spirit of Polly's
``ShouldHandle`` and pybreaker's ``exclude``::

    Classifier(failures=(requests.HTTPError,), answers=(MyValidationError,))
    Classifier(failures=(Exception,))              # count everything, as pybreaker does
    Classifier(should_handle=lambda exc: Verdict.FAILURE if is_flaky(exc) else None)

``should_handle`` is asked first; its ``None`` falls through to ``failures`` and
``answers`` (checked in that order), then to the default rule.  A foreign exception
judged a failure reaches the caller as an `Unavailable` naming it (its cause is
kept); one judged an answer reaches the caller unchanged.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from failover.errors import ConfigError, FailoverError, Unavailable, classify


class Verdict(enum.Enum):
    FAILURE = "failure"  # the target failed: count it, fail over
    ANSWER = "answer"  # the target answered: it is alive, the caller gets the exception


ShouldHandle = Callable[[BaseException], "Verdict | None"]


@dataclass(frozen=True, slots=True)
class Classifier:
    """Which exceptions count as target failures and which as answers, beyond the defaults."""

    failures: tuple[type[BaseException], ...] = ()
    answers: tuple[type[BaseException], ...] = ()
    should_handle: ShouldHandle | None = None

    def __post_init__(self) -> None:
        for name in ("failures", "answers"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not all(
                isinstance(t, type) and issubclass(t, BaseException) for t in value
            ):
                raise ConfigError(f"Classifier: {name} must be a tuple of exception classes, got {value!r}")
        if self.should_handle is not None and not callable(self.should_handle):
            raise ConfigError(f"Classifier: should_handle must be callable, got {self.should_handle!r}")

    def verdict(self, exc: BaseException) -> Verdict | None:
        if self.should_handle is not None:
            said = self.should_handle(exc)
            if said is not None:
                if not isinstance(said, Verdict):
                    raise ConfigError(f"Classifier: should_handle must return a Verdict or None, got {said!r}")
                return said
        if self.failures and isinstance(exc, self.failures):
            return Verdict.FAILURE
        if self.answers and isinstance(exc, self.answers):
            return Verdict.ANSWER
        return None


def judge(
    exc: BaseException, *, target: str, operation: str, classifier: Classifier | None = None
) -> FailoverError | Verdict | None:
    """How a failed attempt counts.

    Returns a `FailoverError` (a failure when it `fails_over`, an answer otherwise),
    `Verdict.ANSWER` for a foreign exception to re-raise unchanged as an answer, or
    ``None`` for an unrecognised exception (not counted, re-raised unchanged).
    """
    verdict = classifier.verdict(exc) if classifier is not None else None
    if verdict is None:
        return classify(exc, target=target, operation=operation)
    mapped = classify(exc, target=target, operation=operation)
    if verdict is Verdict.FAILURE:
        if mapped is None:
            message = f"{type(exc).__name__} (a failure by the classifier)"
            mapped = Unavailable(message, target=target, operation=operation)
            mapped.__cause__ = exc
        elif not mapped.fails_over:
            mapped.temporary = True
        return mapped
    if mapped is None:
        return Verdict.ANSWER
    mapped.temporary = False
    mapped.persistent = False
    return mapped


__all__ = ["Classifier", "ShouldHandle", "Verdict", "judge"]
