"""OpenTelemetry traces: one span per facade call, one span event per attempt on a target.

::

    tracing = OpenTelemetryTracing()                  # the global tracer provider
    storage = FailoverStorage(targets, instruments=[tracing])

Each call of the facade (``storage.get(key)``) is a span named ``failover.storage get``
of kind INTERNAL: it is one logical operation that may make several remote calls, and
the cloud SDK's own instrumentation, if any, makes the CLIENT spans of those calls as
its children.  Every attempt the call makes on a target is an event ``failover.attempt``
on that span (its target, outcome, duration, order, and whether it was the first
attempt, a retry after a failure or a hedge beside a slow attempt), hedged attempts
included, though they run on worker threads: they carry the caller's context, in which
the call's span is current.  docs/tracing.md lists every attribute.

* **Privacy.** Object keys may be personal data (``users/alice@example.com/cv.pdf``) and
  error messages quote them, so by default no argument of a call goes into the trace and
  a failed call's exception is recorded by its type, kind and targets only.
  ``record_keys=True`` adds the key (or prefix) of storage calls and keeps exception
  messages, with credentials redacted (`failover.redact`).
* **Iterators.** ``list`` and ``get_stream`` return iterators; their span ends when the
  method returns.  ``get_stream`` opens the stream and reads its first chunk within the
  call, so its attempts are on the span; ``list`` fetches its pages as the caller
  iterates, after the span has ended, so its span shows only the argument check.
* **Late attempts.** A hedged call returns with the first success; an attempt still in
  flight then is shown as ``unfinished`` (its real outcome still reaches its breaker,
  health and metrics, but the span has ended).
* **No opentelemetry-api.** Building the instrument raises a `ConfigError` naming the
  ``tracing`` extra, rather than quietly tracing nothing.  The application asked for
  traces; a no-op would hide a missing dependency until someone looks for a trace
  during an outage, while this fails once, at start-up.  Telemetry that should be
  optional is the application's choice: catch the error and pass no instrument.
  Installed but with no SDK configured, the API's own no-op tracer applies, at a
  cost of a few microseconds a call.

Neither ``import failover`` nor importing this module loads opentelemetry: it is
imported when the instrument is built.
"""

from __future__ import annotations

import contextvars
import threading
import traceback
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from failover.errors import AllTargetsFailed, ConfigError, FailoverError, NotFoundUnconfirmed, classify
from failover.layers.base import Attempt, Invoke, Skip
from failover.redact import redact

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider
    from opentelemetry.util.types import AttributeValue

    from failover.routing.router import Member

INSTALL = "pip install 'multicloud-failover[tracing]'"
ATTEMPT_EVENT = "failover.attempt"

# The `cloud.provider` values of the OpenTelemetry semantic conventions.  A target name
# is `cloud:region` by convention only ("memory:a", "bind:primary"), so the cloud and
# region are claimed only when the name starts with one of these.
CLOUD_PROVIDERS = frozenset(
    {"alibaba_cloud", "aws", "azure", "gcp", "heroku", "ibm_cloud", "oracle_cloud", "tencent_cloud"}
)

# With record_keys=True: the storage arguments that go into the span, by parameter name
# and position, and the attribute each becomes.
KEY_PARAMETERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "get": ("key",),
        "get_range": ("key",),
        "get_stream": ("key",),
        "head": ("key",),
        "put": ("key",),
        "delete": ("key",),
        "copy": ("src", "dst"),
        "list": ("prefix",),
    }
)
KEY_ATTRIBUTES: Mapping[str, str] = MappingProxyType(
    {"key": "failover.key", "src": "failover.key", "dst": "failover.destination_key", "prefix": "failover.prefix"}
)


class OpenTelemetryTracing:
    """An instrument (`failover.layers.check_instruments`) that traces a facade's calls.

    ``tracer_provider``: where spans go; None for the global one, looked up through the
    API's proxy, so a provider the application sets after building the facade is used.
    ``record_keys``: put object keys and exception messages in the trace (default off,
    see the module docstring).  One instrument may serve several facades.
    """

    def __init__(self, tracer_provider: TracerProvider | None = None, *, record_keys: bool = False) -> None:
        try:
            from opentelemetry import context, trace
        except ImportError as exc:
            raise ConfigError(
                f"OpenTelemetryTracing needs opentelemetry-api, which is not installed: {INSTALL}"
            ) from exc
        if not isinstance(record_keys, bool):
            raise ConfigError(f"OpenTelemetryTracing: record_keys must be True or False, not {record_keys!r}")
        if tracer_provider is None:
            tracer_provider = trace.get_tracer_provider()
        elif not callable(getattr(tracer_provider, "get_tracer", None)):
            raise ConfigError(f"OpenTelemetryTracing: tracer_provider has no get_tracer method: {tracer_provider!r}")
        from failover import __version__

        self.tracer: Tracer = tracer_provider.get_tracer(__name__, __version__)
        self.record_keys = record_keys
        self._attach = context.attach
        self._detach = context.detach
        self._in_context = trace.set_span_in_context
        self._internal = trace.SpanKind.INTERNAL
        self._status = trace.Status
        self._error_code = trace.StatusCode.ERROR
        # The call being traced, per context (thread, task, or a hedge's copied context);
        # one variable per instrument, so two instruments never see each other's calls.
        self._call: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
            f"failover.tracing.call.{id(self)}", default=None
        )

    def __repr__(self) -> str:
        return f"OpenTelemetryTracing(record_keys={self.record_keys})"

    # ------------------------------------------------------------ around each call

    def wrap_call(self, facade: str, operation: str, call: Callable[..., Any]) -> Callable[..., Any]:
        """``call`` in a span named ``failover.<facade> <operation>``."""
        name = f"failover.{facade} {operation}"
        static: dict[str, AttributeValue] = {"failover.facade": facade, "failover.operation": operation}
        parameters = KEY_PARAMETERS.get(operation, ()) if self.record_keys and facade == "storage" else ()
        tracer, kind, current = self.tracer, self._internal, self._call
        attach, detach, in_context = self._attach, self._detach, self._in_context

        def traced(*args: Any, **kwargs: Any) -> Any:
            attributes = {**static, **_key_attributes(parameters, args, kwargs)} if parameters else static
            span = tracer.start_span(name, kind=kind, attributes=attributes)
            # Current even when not recording (sampled out): its context still propagates.
            token = attach(in_context(span))
            if not span.is_recording():
                try:
                    return call(*args, **kwargs)
                finally:
                    detach(token)
                    span.end()
            record = _Call(span)
            mine = current.set(record)
            try:
                result = call(*args, **kwargs)
            except BaseException as exc:
                self._failed(record, exc)
                raise
            else:
                record.close(None)
                return result
            finally:
                current.reset(mine)
                detach(token)
                span.end()

        return traced

    def _failed(self, record: _Call, exc: BaseException) -> None:
        """The span of a call that raised ``exc``: closed, its status ERROR, the exception recorded."""
        record.close(exc)
        span = record.span
        summary = _summary(exc)
        span.set_attribute("error.type", _error_type(exc))
        if self.record_keys:
            text = redact(_text(exc))
            span.set_status(self._status(self._error_code, text))
            stack = redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
            span.record_exception(exc, {"exception.message": text, "exception.stacktrace": stack}, escaped=True)
            return
        span.set_status(self._status(self._error_code, summary))
        # The frames only: the exception's message (and those of its causes) may quote a key.
        frames = "".join(traceback.format_tb(exc.__traceback__))
        stack = f"Traceback (most recent call last):\n{frames}{_qualified(exc)}: {summary}\n"
        span.record_exception(exc, {"exception.message": summary, "exception.stacktrace": stack}, escaped=True)

    # ------------------------------------------------------------ around each attempt

    def wrap(self, member: Member, inner: Invoke) -> Invoke:
        """A layer, outermost in each target's stack: each attempt an event on the call's span."""
        current = self._call
        place = _cloud_attributes(member.name)

        def invoke(attempt: Attempt) -> Any:
            record = current.get()
            if record is None:  # not within a traced call (a repair, a sampled-out call)
                return inner(attempt)
            record.started(attempt, place)
            try:
                result = inner(attempt)
            except Skip:
                record.finished(attempt, "skipped", None, place)
                raise
            except BaseException as exc:
                record.finished(attempt, _outcome(exc, attempt), exc, place)
                raise
            record.finished(attempt, "ok", None, place)
            return result

        return invoke


class _Call:
    """What the attempts of one traced call have said so far; attempts of a hedged call
    report from worker threads, hence the lock."""

    __slots__ = ("answer", "attempts", "firsts", "later", "lock", "open", "pending", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.lock = threading.Lock()
        self.open = True
        self.attempts = 0
        self.pending: dict[Attempt, dict[str, AttributeValue]] = {}  # in flight, with its cloud attributes
        # Targets of first attempts (several for a write made on every target), and whether
        # a retry or a hedge was made: what `failover.failed_over` is judged by.
        self.firsts: set[str] = set()
        self.later = False
        self.answer: str | None = None  # the target of the attempt that succeeded first

    def started(self, attempt: Attempt, place: dict[str, AttributeValue]) -> None:
        with self.lock:
            self.attempts += 1
            self.pending[attempt] = place

    def finished(
        self, attempt: Attempt, outcome: str, exc: BaseException | None, place: dict[str, AttributeValue]
    ) -> None:
        with self.lock:
            if self.pending.pop(attempt, None) is None or not self.open:
                return  # the call has returned and its span ended: too late to tell
            attributes = _attempt_attributes(attempt, outcome, place)
            if outcome == "skipped":
                self.attempts -= 1  # passed by, not tried: the executor does not count it either
            else:
                self._tried(attempt)
                if outcome == "ok" and self.answer is None:
                    self.answer = attempt.member.name
                if exc is not None:
                    attributes["error.type"] = _error_type(exc) if outcome == "error" else outcome
            self.span.add_event(ATTEMPT_EVENT, attributes)

    def _tried(self, attempt: Attempt) -> None:
        if attempt.order:
            self.later = True
        else:
            self.firsts.add(attempt.member.name)

    def close(self, exc: BaseException | None) -> None:
        """Mark attempts still in flight as unfinished and set the call's own attributes."""
        with self.lock:
            self.open = False
            for attempt, place in self.pending.items():
                self._tried(attempt)
                self.span.add_event(ATTEMPT_EVENT, _attempt_attributes(attempt, "unfinished", place))
            final = self.answer
            if final is None and isinstance(exc, FailoverError) and not isinstance(exc, AllTargetsFailed):
                final = exc.target
            attributes: dict[str, AttributeValue] = {
                "failover.attempts": self.attempts,
                "failover.failed_over": self.later and final not in self.firsts,
            }
            if final is not None:
                attributes["failover.target"] = final
                attributes.update(_cloud_attributes(final))
            self.span.set_attributes(attributes)


def _attempt_attributes(attempt: Attempt, outcome: str, place: dict[str, AttributeValue]) -> dict[str, AttributeValue]:
    reason = "hedge" if attempt.hedge else "retry" if attempt.order else "first"
    return {
        "failover.target": attempt.member.name,
        "failover.outcome": outcome,
        "failover.attempt.order": attempt.order,
        "failover.attempt.reason": reason,
        "failover.attempt.duration": max(0.0, attempt.now() - attempt.started),
        **place,
    }


def _cloud_attributes(target: str) -> dict[str, AttributeValue]:
    """``cloud.provider`` and ``cloud.region`` when the target's name says them."""
    cloud, _, region = target.partition(":")
    if cloud not in CLOUD_PROVIDERS:
        return {}
    return {"cloud.provider": cloud, "cloud.region": region} if region else {"cloud.provider": cloud}


def _key_attributes(parameters: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for i, parameter in enumerate(parameters):
        value = args[i] if i < len(args) else kwargs.get(parameter)
        if isinstance(value, str):
            found[KEY_ATTRIBUTES[parameter]] = value
    return found


def _outcome(exc: BaseException, attempt: Attempt) -> str:
    """The attempt's outcome: the error's kind, as the guard will classify it, or "error"."""
    if isinstance(exc, FailoverError):
        return exc.kind
    if isinstance(exc, Exception):
        mapped = classify(exc, target=attempt.member.name, operation=attempt.operation)
        if mapped is not None:
            return mapped.kind
    return "error"


def _error_type(exc: BaseException) -> str:
    """``error.type``: the library's kind for its errors, else the exception's class."""
    return exc.kind if isinstance(exc, FailoverError) else _qualified(exc)


def _qualified(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _summary(exc: BaseException) -> str:
    """A description built from the error's fields, never its message (which may quote a key)."""
    if not isinstance(exc, FailoverError):
        return _qualified(exc)
    parts = (f"target={exc.target}" if exc.target else "", f"operation={exc.operation}" if exc.operation else "")
    where = ", ".join(part for part in parts if part)
    text = f"{exc.kind} ({where})" if where else exc.kind
    if isinstance(exc, AllTargetsFailed):
        causes = [f"{a.target}: {a.kind}" for a in exc.attempts] + [f"{name}: skipped" for name in exc.skipped]
        if isinstance(exc, NotFoundUnconfirmed):
            causes += [f"{name}: not_found" for name in exc.answered]
        text += f" [{'; '.join(causes)}]" if causes else ""
    return text


def _text(exc: BaseException) -> str:
    try:
        return str(exc) or _qualified(exc)
    except Exception:  # a foreign exception's __str__ may fail; tracing must not
        return _qualified(exc)


__all__ = ["ATTEMPT_EVENT", "CLOUD_PROVIDERS", "INSTALL", "KEY_ATTRIBUTES", "KEY_PARAMETERS", "OpenTelemetryTracing"]
