"""OpenTelemetry traces: a span per facade call, an event per attempt, nothing private in them.

Spans go to an in-memory exporter on a private `TracerProvider`; the global provider is
never set.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

from failover import ExecutionConfig, FailoverDNS, FailoverStorage, FakeClock, Record, Target
from failover.errors import ConfigError, NotFound
from failover.layers import Attempt, AttemptTimeout, Invoke, Skip
from failover.providers.chaos import ChaosProvider
from failover.providers.memory import MemoryDnsZone, MemoryObjectStore
from failover.routing.router import Member
from failover.telemetry.tracing import INSTALL, OpenTelemetryTracing
from tests.unit.test_extras import python
from tests.unit.test_hedging import Gate

KEY = "users/alice@example.com/cv.pdf"  # a key that is personal data


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider


class Slow(MemoryObjectStore):
    """A store whose reads take ``seconds`` on the fake clock."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        super().__init__(clock=clock)
        self.clock, self.seconds = clock, seconds
        self.spans: list[trace.Span] = []  # the current span, as each read saw it
        self.threads: list[str] = []

    def get(self, key: str) -> bytes:
        self.spans.append(trace.get_current_span())
        self.threads.append(threading.current_thread().name)
        self.clock.advance(self.seconds)
        return super().get(key)


def pair(
    tracing: OpenTelemetryTracing, **execution: Any
) -> tuple[ChaosProvider, ChaosProvider, Slow, FailoverStorage]:
    """A primary on AWS and a backup on Google Cloud, each holding ``KEY``."""
    clock = FakeClock()
    backup_store = Slow(clock, 0.25)
    primary = ChaosProvider(MemoryObjectStore(clock=clock), clock=clock)
    backup = ChaosProvider(backup_store, clock=clock)
    for store in (primary, backup):
        store.put(KEY, b"v")
    storage = FailoverStorage(
        [Target("aws:us-east-1", primary), Target("gcp:europe-west1", backup, priority=1)],
        clock=clock,
        execution=ExecutionConfig(**execution),
        instruments=[tracing],
    )
    return primary, backup, backup_store, storage


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def attempts(span: ReadableSpan) -> list[dict[str, Any]]:
    return [dict(e.attributes or {}) for e in span.events if e.name == "failover.attempt"]


def everything_said(span: ReadableSpan) -> str:
    """Every attribute value of the span and its events, and its status, as one text."""
    values = [*(span.attributes or {}).values(), span.status.description or ""]
    values += [v for event in span.events for v in (event.attributes or {}).values()]
    return "\n".join(map(str, values))


# ---------------------------------------------------------------- the span of a call


def test_a_healthy_get_is_one_span_with_one_attempt(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    *_, storage = pair(OpenTelemetryTracing(provider))
    assert storage.get(KEY) == b"v"
    span = only_span(exporter)
    assert span.name == "failover.storage get" and span.kind is SpanKind.INTERNAL
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "failover.facade": "storage",
        "failover.operation": "get",
        "failover.attempts": 1,
        "failover.failed_over": False,
        "failover.target": "aws:us-east-1",
        "cloud.provider": "aws",
        "cloud.region": "us-east-1",
    }
    assert attempts(span) == [
        {
            "failover.target": "aws:us-east-1",
            "failover.outcome": "ok",
            "failover.attempt.order": 0,
            "failover.attempt.reason": "first",
            "failover.attempt.duration": 0.0,
            "cloud.provider": "aws",
            "cloud.region": "us-east-1",
        }
    ]


def test_a_failover_is_one_span_with_the_failed_attempt_then_the_answer(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    primary, _, _, storage = pair(OpenTelemetryTracing(provider))
    primary.down()
    assert storage.get(KEY) == b"v"
    span = only_span(exporter)
    first, second = attempts(span)
    assert (first["failover.target"], first["failover.outcome"], first["error.type"]) == (
        "aws:us-east-1",
        "unavailable",
        "unavailable",
    )
    assert (second["failover.target"], second["failover.outcome"], second["failover.attempt.reason"]) == (
        "gcp:europe-west1",
        "ok",
        "retry",
    )
    assert second["failover.attempt.order"] == 1 and "error.type" not in second
    assert second["failover.attempt.duration"] == pytest.approx(0.25)  # the backup's read, on the fake clock
    attributes = span.attributes or {}
    assert attributes["failover.failed_over"] is True and attributes["failover.attempts"] == 2
    assert (attributes["failover.target"], attributes["cloud.provider"]) == ("gcp:europe-west1", "gcp")
    assert span.status.status_code is StatusCode.UNSET


def test_a_call_that_fails_everywhere_is_an_error_with_the_exception_recorded(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    primary, backup, _, storage = pair(OpenTelemetryTracing(provider))
    primary.down()
    backup.down()
    with pytest.raises(Exception) as raised:
        storage.get(KEY)
    span = only_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == raised.value.kind == "all_targets_failed"  # type: ignore[attr-defined]
    assert "failover.target" not in (span.attributes or {})
    assert [a["failover.outcome"] for a in attempts(span)] == ["unavailable", "unavailable"]
    (exception,) = [e for e in span.events if e.name == "exception"]
    said = dict(exception.attributes or {})
    assert said["exception.type"] == "failover.errors.AllTargetsFailed"
    assert said["exception.message"] == (
        "all_targets_failed (operation=get) [aws:us-east-1: unavailable; gcp:europe-west1: unavailable]"
    )
    assert "Traceback" in str(said["exception.stacktrace"])


def test_a_hedge_is_marked_on_the_callers_span_though_it_ran_on_a_worker_thread(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    clock = FakeClock()
    slow, fast = Gate(), Slow(clock, 0.0)
    for store in (slow, fast):
        store.put(KEY, b"v")
    storage = FailoverStorage(
        [Target("memory:slow", slow), Target("memory:fast", fast, priority=1)],
        execution=ExecutionConfig(hedge_after=0.01, attempt_timeout=3.0),
        instruments=[OpenTelemetryTracing(provider)],
    )
    try:
        assert storage.get(KEY) == b"v"
    finally:
        slow.gate.set()
        storage.close()
    span = only_span(exporter)
    hedge, primary = attempts(span)
    assert (hedge["failover.target"], hedge["failover.outcome"], hedge["failover.attempt.reason"]) == (
        "memory:fast",
        "ok",
        "hedge",
    )
    # The slow attempt was still in flight when the hedge answered and the span ended.
    assert (primary["failover.target"], primary["failover.outcome"]) == ("memory:slow", "unfinished")
    assert fast.threads[0] != threading.current_thread().name
    assert fast.spans[0].get_span_context().span_id == span.context.span_id
    assert (span.attributes or {})["failover.failed_over"] is True
    assert "cloud.provider" not in (span.attributes or {})  # "memory:" names no cloud


def test_the_calls_span_is_the_parent_of_what_the_provider_traces(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracer = provider.get_tracer("the application")
    *_, storage = pair(OpenTelemetryTracing(provider))
    with tracer.start_as_current_span("request") as request:
        storage.get(KEY)
    get = next(s for s in exporter.get_finished_spans() if s.name == "failover.storage get")
    assert get.parent is not None and get.parent.span_id == request.get_span_context().span_id


# ---------------------------------------------------------------- privacy


def test_no_object_key_is_in_the_trace_by_default(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    primary, backup, _, storage = pair(OpenTelemetryTracing(provider))
    storage.put(KEY, b"v")
    storage.head(KEY)
    storage.copy(KEY, KEY + ".bak")
    backup.delete(KEY)
    primary.delete(KEY)
    with pytest.raises(NotFound, match="alice"):  # the error itself names the key...
        storage.get(KEY)
    spans = exporter.get_finished_spans()
    assert len(spans) >= 4
    for span in spans:
        assert "alice" not in everything_said(span), span.name  # ...its trace does not
    failed = spans[-1]
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "not_found"
    assert (failed.attributes or {})["failover.target"] == "aws:us-east-1"  # the preferred target's answer


def test_record_keys_puts_the_key_and_the_message_in_the_trace(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    primary, backup, _, storage = pair(OpenTelemetryTracing(provider, record_keys=True))
    storage.copy(KEY, "elsewhere")
    list(storage.list("users/"))
    for store in (primary, backup):
        store.delete(KEY)
    with pytest.raises(NotFound):
        storage.get(key=KEY)
    by_name = {s.name: s for s in exporter.get_finished_spans()}
    copy = by_name["failover.storage copy"].attributes or {}
    assert (copy["failover.key"], copy["failover.destination_key"]) == (KEY, "elsewhere")
    assert (by_name["failover.storage list"].attributes or {})["failover.prefix"] == "users/"
    failed = by_name["failover.storage get"]
    assert (failed.attributes or {})["failover.key"] == KEY
    (exception,) = [e for e in failed.events if e.name == "exception"]
    assert KEY in str((exception.attributes or {})["exception.message"])


def test_a_dns_change_made_on_every_zone_has_an_event_per_zone(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    zones = [Target(name, MemoryDnsZone("example.test.")) for name in ("azure:westeurope", "bind:primary")]
    dns = FailoverDNS(zones, instruments=[OpenTelemetryTracing(provider)])
    dns.upsert_record(Record("www", "A", 60, ("192.0.2.1",)))
    span = only_span(exporter)
    assert span.name == "failover.dns upsert_record"
    assert sorted((a["failover.target"], a["failover.outcome"]) for a in attempts(span)) == [
        ("azure:westeurope", "ok"),
        ("bind:primary", "ok"),
    ]
    clouds = {a["failover.target"]: a.get("cloud.provider") for a in attempts(span)}
    assert clouds == {"azure:westeurope": "azure", "bind:primary": None}  # "bind" names no cloud
    assert (span.attributes or {})["failover.failed_over"] is False  # every zone's write is a first attempt


# ---------------------------------------------------------------- iterators, skips, sampling


def test_an_iterator_calls_span_ends_when_the_method_returns(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    *_, storage = pair(OpenTelemetryTracing(provider))
    chunks: Iterator[bytes] = storage.get_stream(KEY)
    listing = storage.list()
    stream, listed = exporter.get_finished_spans()
    # get_stream opens the stream within the call; list fetches as the caller iterates.
    assert [a["failover.outcome"] for a in attempts(stream)] == ["ok"]
    assert (listed.attributes or {})["failover.attempts"] == 0
    assert b"".join(chunks) == b"v" and [i.key for i in listing] == [KEY]
    assert len(exporter.get_finished_spans()) == 2


class SkipFirst:
    """A layer that passes the first target by, as a full rate limiter would."""

    def wrap(self, member: Member, inner: Invoke) -> Invoke | None:
        if member.name != "aws:us-east-1":
            return None

        def invoke(attempt: Attempt) -> Any:
            raise Skip("full")

        return invoke


def test_a_target_a_layer_passes_by_is_skipped_not_counted(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    *_, storage = pair(OpenTelemetryTracing(provider), layers=(SkipFirst(), AttemptTimeout()))
    assert storage.get(KEY) == b"v"
    span = only_span(exporter)
    assert [(a["failover.target"], a["failover.outcome"]) for a in attempts(span)] == [
        ("aws:us-east-1", "skipped"),
        ("gcp:europe-west1", "ok"),
    ]
    assert (span.attributes or {})["failover.attempts"] == 1
    assert (span.attributes or {})["failover.failed_over"] is False  # the first target tried answered


def test_a_sampled_out_call_and_the_no_op_api_trace_nothing_and_change_nothing(
    exporter: InMemorySpanExporter,
) -> None:
    sampled_out = TracerProvider(sampler=ALWAYS_OFF)
    sampled_out.add_span_processor(SimpleSpanProcessor(exporter))
    for tracer_provider in (sampled_out, trace.NoOpTracerProvider()):
        primary, _, _, storage = pair(OpenTelemetryTracing(tracer_provider))
        primary.down()
        assert storage.get(KEY) == b"v"
    assert exporter.get_finished_spans() == ()


# ---------------------------------------------------------------- configuration


def test_bad_arguments_are_config_errors_naming_them() -> None:
    with pytest.raises(ConfigError, match="tracer_provider has no get_tracer"):
        OpenTelemetryTracing(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="record_keys must be True or False"):
        OpenTelemetryTracing(record_keys="yes")  # type: ignore[arg-type]


def test_without_opentelemetry_api_building_it_names_the_tracing_extra() -> None:
    code = """
        import failover, failover.telemetry.tracing
        from failover.errors import ConfigError
        assert not [m for m in sys.modules if m.startswith("opentelemetry")]
        try:
            failover.telemetry.tracing.OpenTelemetryTracing()
        except ConfigError as exc:
            print(exc)
    """
    done = python(code, blocked=("opentelemetry",))
    assert done.returncode == 0, done.stderr
    assert INSTALL in done.stdout and "opentelemetry-api" in done.stdout
