"""No secret in anything the library writes: errors, status, event and log text, botocore's DEBUG log."""

from __future__ import annotations

import io
import logging
import pickle
from collections.abc import Iterator

import pytest

from failover import FailoverStorage, FakeClock, Target
from failover.errors import AllTargetsFailed, Unavailable
from failover.events import HealthChanged, LoggingListener
from failover.execution.pool import ProbeConfig
from failover.health.checker import HealthChecker
from failover.health.probes import CallableProbe
from failover.health.target_health import HealthConfig
from failover.providers._common import safe_url
from failover.providers.memory import MemoryObjectStore
from failover.redact import RedactingFilter, redact

SECRETS = ("hunter2", "s3cr3tSig", "AKIAEXAMPLE", "IQoJtoken", "Eby8key", "ya29tok", "deadbeef")


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("GET http://user:hunter2@minio.local:9000/b failed", "http://***@minio.local:9000/b"),
        ("http://user:p@hunter2@host/x", "http://***@host/x"),
        ("https://a.blob.core.windows.net/c?sv=2024-11-04&sp=r&sig=s3cr3tSig%3D&se=1", "sp=r&sig=***&se=1"),
        ("AccountName=dev;AccountKey=Eby8key+/==;BlobEndpoint=http://127.0.0.1:10000/dev", "AccountKey=***;Blob"),
        ("url?X-Amz-Credential=AKIAEXAMPLE%2F2026&X-Amz-Security-Token=IQoJtoken&X-Amz-Signature=deadbeef",
         "X-Amz-Credential=***&X-Amz-Security-Token=***&X-Amz-Signature=***"),
        ("Authorization: Bearer ya29tok", "Authorization: ***"),
        ("sent with bearer ya29tok", "bearer ***"),
        (
            "{'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/x, Signature=deadbeef'}",
            "'Authorization': b'***'",
        ),
        ("password=hunter2 token=IQoJtoken", "password=*** token=***"),
        ('{"client_secret": "hunter2", "private_key": "-----BEGIN PRIVATE KEY-----\\nEby8key"}',
         '"client_secret": "***", "private_key": "***"'),
        ("https://storage.googleapis.com/b?key=AIza-hunter2", "?key=***"),
        ("https://fn.azurewebsites.net/api/f?code=hunter2&x=1", "?code=***&x=1"),
        ('key "tsig" { secret "hunter2"; };', 'secret "***"'),
    ],
)
def test_redact_masks_credentials(text: str, kept: str) -> None:
    out = redact(text)
    assert kept in out
    assert not any(secret in out for secret in SECRETS)


@pytest.mark.parametrize(
    "text",
    [
        "get reports/q3.pdf: NoSuchKey (target=aws:us-east-1, operation=get) key=reports/q3.pdf",
        "breaker memory:a: closed -> open (5 consecutive failures)",
        "retry budget exhausted (20% of calls); 2 tokens left, design: fine",
        "mail a@b.example about http://host/path?x=1",
        "InvalidRequest: error code=400, key=a/b",
    ],
)
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text


def test_error_message_hides_credentials() -> None:
    error = Unavailable("connect to http://admin:hunter2@10.0.0.1:9000 refused", target="aws:x", operation="get")
    for text in (str(error), repr(error), error.message, str(error.args)):
        assert "hunter2" not in text
    assert "http://***@10.0.0.1:9000" in str(error)
    assert "hunter2" not in str(pickle.loads(pickle.dumps(error)))


def test_all_targets_failed_hides_the_attempts_credentials() -> None:
    attempt = Unavailable("GET https://a.blob.core.windows.net/c?sig=s3cr3tSig: 503", target="azure:x")
    error = AllTargetsFailed(f"get: all failed: {attempt}", operation="get", attempts=[attempt])
    assert "s3cr3tSig" not in str(error) and "s3cr3tSig" not in str(error.attempts[0])


def test_status_last_error_hides_a_probe_failures_credentials() -> None:
    clock = FakeClock()

    def probe() -> None:
        raise ConnectionError("GET https://health.example/ping?token=IQoJtoken&password=hunter2 refused")

    store = FailoverStorage(
        [Target("memory:a", MemoryObjectStore())],
        clock=clock,
        health=HealthConfig(fall=1),
        health_checks=ProbeConfig(interval=1.0, timeout=0.5, jitter=0.0, probes={"memory:a": CallableProbe(probe)}),
    )
    checker = store.pool.checker
    assert isinstance(checker, HealthChecker)
    checker.run_due(clock.monotonic())
    status = store.status()
    assert status["memory:a"].last_error is not None and "token=***" in status["memory:a"].last_error
    assert not any(secret in str(status) for secret in SECRETS)


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    log = logging.getLogger("test_redact.listener")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log, stream
    log.removeHandler(handler)


def test_logged_event_text_hides_credentials(captured: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = captured
    LoggingListener(log).on_event(HealthChanged("memory:a", False, "probe: http://u:hunter2@h/ refused"))
    assert "hunter2" not in stream.getvalue() and "http://***@h/" in stream.getvalue()


def test_filter_redacts_message_args_and_traceback(captured: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = captured
    log.handlers[0].addFilter(RedactingFilter())
    try:
        raise ValueError("Invalid endpoint: http://minio:hunter2@localhost:9000")
    except ValueError:
        log.exception("connecting with %s", {"password": "hunter2"})
    text = stream.getvalue()
    assert "hunter2" not in text and "'password': '***'" in text and "ValueError" in text


def test_filter_redacts_a_real_botocore_debug_line(captured: tuple[logging.Logger, io.StringIO]) -> None:
    import boto3
    from botocore.awsrequest import AWSResponse

    _, stream = captured
    botolog = logging.getLogger("botocore")
    old_level = botolog.level
    botolog.setLevel(logging.DEBUG)
    # The filter rewrites the record itself: a handler that runs before it sees the original.
    unfiltered = io.StringIO()
    raw = logging.StreamHandler(unfiltered)
    botolog.addHandler(raw)
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    botolog.addHandler(handler)
    try:
        client = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url="http://127.0.0.1:9",
            aws_access_key_id="AKIAEXAMPLE",
            aws_secret_access_key="hunter2",
            aws_session_token="IQoJtoken",
        )

        class Body:
            def stream(self, **_: object) -> Iterator[bytes]:
                yield b"<ListBucketResult><Name>bucket</Name></ListBucketResult>"

        def answer(**_: object) -> AWSResponse:  # no network: botocore has signed and logged by now
            return AWSResponse("http://127.0.0.1:9/bucket", 200, {}, Body())

        client.meta.events.register("before-send", answer)
        client.list_objects_v2(Bucket="bucket")
    finally:
        botolog.removeHandler(handler)
        botolog.removeHandler(raw)
        botolog.setLevel(old_level)
    assert "'X-Amz-Security-Token': b'IQoJtoken'" in unfiltered.getvalue(), "botocore logs the token"
    text = stream.getvalue()
    assert "Sending http request" in text and "'X-Amz-Security-Token': b'***'" in text
    assert "IQoJtoken" not in text and "AKIAEXAMPLE" not in text


def test_an_invalid_s3_endpoint_with_credentials_is_a_config_error_that_does_not_repeat_them() -> None:
    from failover.errors import ConfigError
    from failover.providers.aws import S3Store

    with pytest.raises(ConfigError, match="endpoint_url") as caught:
        S3Store("bucket", region="us-east-1", endpoint_url="minio:hunter2@localhost:9000")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:secret@host:1/x?sig=abc", "http://host:1/x"),
        ("user:secret@host:1", "//host:1"),
        ("user:secret@host:1/path", "//host:1/path"),
        ("host:10000", "host:10000"),
    ],
)
def test_a_url_shown_in_a_repr_never_carries_its_password(url: str, shown: str) -> None:
    assert safe_url(url) == shown
    assert "secret" not in (safe_url(url) or "")
