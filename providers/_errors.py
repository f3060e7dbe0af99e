"""What a cloud's error means as a `failover.errors` exception: the table every adapter reads.

Each cloud has one boundary, its ``map_errors`` (providers/<cloud>/_client.py), used by all of
its adapters (storage, DNS, compute).  That module names what only its cloud says, in an
`ErrorTable`: error codes, the SDK's exception classes, hints.  This one holds what an HTTP
status means on every cloud, and the order in which the two are read.  For an HTTP answer
the first step that names it decides:

1. for a conditional write, a code the cloud uses for a failed condition (``conditional``:
   S3 says NoSuchKey to an If-Match on a missing key);
2. a code the cloud names (``codes``): a code says more than a status, and some say
   something else (S3's RequestTimeout and EC2's Throttling come as 400s, Route 53's
   NoSuchHostedZone is a configuration error);
3. a status that means something else in answer to a create (`ON_CREATE`);
4. the SDK's exception class, where its SDK raises one per meaning (``answers``: an Azure
   ClientAuthenticationError may carry a 400, or no answer at all);
5. the status (`STATUS`); a status it does not name is the target's failure if it is a 5xx or
   there was none (`Unavailable`, temporary), else the request's (`InvalidRequest`).

An error that is no HTTP answer (refused, timed out, no credentials) is named by its SDK
exception class (``exceptions``, in order: the first class that matches decides).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import failover.errors as err
from failover.providers._common import redact

# A ProviderError, or a ConfigError where the answer shows the adapter is misconfigured.
ErrorType = type[err.FailoverError]
# (SDK exception class or classes, what they mean); the first row that matches decides.
ExceptionRows = tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], ErrorType], ...]

# What a status means on every cloud.  403 is temporary like 401: on one target while the
# others serve, a refused credential is that target's failure (failover.errors).  503 is
# "back off" on all three clouds, as 429 is.
STATUS: Mapping[int, ErrorType] = MappingProxyType(
    {
        400: err.InvalidRequest,
        401: err.PermissionDenied,
        403: err.PermissionDenied,
        404: err.NotFound,
        408: err.Timeout,
        409: err.PreconditionFailed,  # a conflict with the resource's current state
        412: err.PreconditionFailed,
        416: err.InvalidRequest,
        429: err.Throttled,
        503: err.Throttled,
    }
)

# In answer to a create (`is_create`): 409 is a name already taken; 404 is something the
# request refers to (an image, a machine type, a subnet) that is missing, so the request
# is wrong, not the thing being created missing.
ON_CREATE: Mapping[int, ErrorType] = MappingProxyType({404: err.InvalidRequest, 409: err.AlreadyExists})

NO_CODES: Mapping[str, ErrorType] = MappingProxyType({})
NO_HINTS: Mapping[str, str] = MappingProxyType({})


def status_error(status: int) -> ErrorType:
    """What ``status`` means on every cloud (step 5); 0 is "no answer came"."""
    named = STATUS.get(status)
    if named is not None:
        return named
    return err.Unavailable if status >= 500 or status == 0 else err.InvalidRequest


def is_create(operation: str) -> bool:
    """Does ``operation`` create something under a name of its own (``create_instance``)?
    A put is not one: it overwrites, and a conditional put's refusal is a failed condition."""
    return operation == "create" or operation.startswith("create_")


def by_code(groups: Mapping[ErrorType, Iterable[str]]) -> Mapping[str, ErrorType]:
    """Codes grouped by meaning, as one read-only ``code -> error`` table; a code listed
    under two meanings is a mistake in the table and refused at import."""
    table: dict[str, ErrorType] = {}
    for error_type, codes in groups.items():
        for code in codes:
            if code in table:
                raise ValueError(f"error code {code!r} is listed as {table[code].__name__} and {error_type.__name__}")
            table[code] = error_type
    return MappingProxyType(table)


@dataclass(frozen=True)
class Answer:
    """An HTTP error answer as the tables read it, taken from the SDK's exception."""

    status: int  # 0 when no answer came
    code: str = ""  # S3's Code, Azure's x-ms-error-code or ARM error.code, Google's reason
    label: str = ""  # what the message calls it: the code, the reason phrase, the SDK's class
    detail: str = ""  # the service's own words, redacted, on one line
    retry_after: float | None = None


@dataclass(frozen=True)
class ErrorTable:
    """One cloud's names for its errors, read before the shared `STATUS` table."""

    cloud: str
    codes: Mapping[str, ErrorType] = field(default_factory=lambda: NO_CODES)
    conditional: Mapping[str, ErrorType] = field(default_factory=lambda: NO_CODES)
    answers: ExceptionRows = ()
    exceptions: ExceptionRows = ()
    hints: Mapping[str, str] = field(default_factory=lambda: NO_HINTS)

    def error_type(
        self, answer: Answer, operation: str, *, conditional: bool = False, exc: BaseException | None = None
    ) -> ErrorType:
        """What ``answer`` means, read in the module docstring's order."""
        if conditional and answer.code in self.conditional:
            return self.conditional[answer.code]
        if answer.code in self.codes:
            return self.codes[answer.code]
        if is_create(operation) and answer.status in ON_CREATE:
            return ON_CREATE[answer.status]
        by_class = _first_match(self.answers, exc) if exc is not None else None
        return by_class if by_class is not None else status_error(answer.status)

    def from_answer(
        self,
        answer: Answer,
        operation: str,
        where: str,
        *,
        conditional: bool = False,
        exc: BaseException | None = None,
    ) -> err.FailoverError:
        """The error for an HTTP answer; its message names the call, the code and the status."""
        message = f"{operation} {where}: {answer.label or answer.code or 'error'} (HTTP {answer.status or '?'})"
        if answer.detail:
            message += f": {answer.detail}"
        hint = self.hints.get(answer.code)
        if hint:
            message += f" ({hint})"
        error_type = self.error_type(answer, operation, conditional=conditional, exc=exc)
        return build(error_type, message, operation, retry_after=answer.retry_after)

    def from_exception(self, exc: BaseException, operation: str, where: str) -> err.FailoverError | None:
        """The error for an SDK exception that carries no HTTP answer, or None if no row names it."""
        error_type = _first_match(self.exceptions, exc)
        if error_type is None:
            return None
        return build(error_type, f"{operation} {where}: {type(exc).__name__}: {redact(str(exc))}", operation)


def build(
    error_type: ErrorType, message: str, operation: str, *, retry_after: float | None = None
) -> err.FailoverError:
    if issubclass(error_type, err.Throttled):
        return error_type(message, operation=operation, retry_after=retry_after)
    return error_type(message, operation=operation)


def _first_match(rows: ExceptionRows, exc: BaseException) -> ErrorType | None:
    return next((error_type for classes, error_type in rows if isinstance(exc, classes)), None)
