"""The three cloud storage adapters against real local servers (moto, Azurite, fake-gcs-server).

Error mapping, integrity checking and fast failure are tested here on real SDKs and real
sockets; the full ObjectStore behaviour is the contract suite's job (tests/contract).
"""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from failover.capabilities import ObjectStore
from failover.errors import (
    ConfigError,
    IntegrityError,
    InvalidInput,
    InvalidRequest,
    NotFound,
    Throttled,
    Timeout,
    Unavailable,
)
from tests.integration import servers
from tests.integration.servers import LocalServer

pytestmark = pytest.mark.integration

# A dead endpoint must be reported well inside this; the SDK defaults take 80-120 s.
FAST = 2.0


@dataclass
class Cloud:
    """One adapter under test, with what a test needs to go around it."""

    name: str
    store: Any
    server: LocalServer
    corrupt: Callable[[str, bytes], None]  # overwrite the bytes, keep the stored checksum
    recreate: Callable[[], None]  # make the bucket again after a server restart
    at: Callable[..., Any]  # the same adapter aimed at another endpoint: at(endpoint, **timeouts)


def _s3_cloud(request: pytest.FixtureRequest) -> Cloud:
    from failover.providers.aws import S3Store

    server: LocalServer = request.getfixturevalue("moto_east")
    raw = request.getfixturevalue("s3_raw")
    bucket: str = request.getfixturevalue("s3_bucket")

    def corrupt(key: str, data: bytes) -> None:
        meta = raw.head_object(Bucket=bucket, Key=key)["Metadata"]
        raw.put_object(Bucket=bucket, Key=key, Body=data, Metadata=meta)

    def at(endpoint: str, timeout: float | None = None) -> S3Store:
        t = {} if timeout is None else {"connect_timeout": timeout, "read_timeout": timeout}
        return S3Store(bucket, region="us-east-1", endpoint_url=endpoint, **t)

    return Cloud(
        "s3",
        request.getfixturevalue("s3_store"),
        server,
        corrupt,
        lambda: servers.raw_s3_client(server).create_bucket(Bucket=bucket),
        at,
    )


def _azure_cloud(request: pytest.FixtureRequest) -> Cloud:
    from failover.providers.azure import BlobStore

    server: LocalServer = request.getfixturevalue("azurite")
    raw = request.getfixturevalue("blob_raw")
    container: str = request.getfixturevalue("blob_container")

    def corrupt(key: str, data: bytes) -> None:
        blob = raw.get_blob_client(container, key)
        meta = blob.get_blob_properties().metadata
        blob.upload_blob(data, overwrite=True, metadata=meta)

    def at(endpoint: str, timeout: float | None = None) -> BlobStore:
        t = {} if timeout is None else {"connect_timeout": timeout, "read_timeout": timeout}
        cs = servers.azurite_connection_string(server).replace(server.endpoint, endpoint)
        return BlobStore(container=container, connection_string=cs, **t)

    return Cloud(
        "azure",
        request.getfixturevalue("blob_store"),
        server,
        corrupt,
        lambda: servers.raw_blob_service(server).create_container(container),
        at,
    )


def _gcs_cloud(request: pytest.FixtureRequest) -> Cloud:
    from failover.providers.gcp import GCSStore, emulator_client

    server: LocalServer = request.getfixturevalue("fake_gcs")
    raw = request.getfixturevalue("gcs_raw")
    bucket: str = request.getfixturevalue("gcs_bucket")

    def corrupt(key: str, data: bytes) -> None:
        blob = raw.bucket(bucket).get_blob(key)
        meta = blob.metadata
        blob = raw.bucket(bucket).blob(key)
        blob.metadata = meta
        blob.upload_from_string(data)

    def at(endpoint: str, timeout: float | None = None) -> GCSStore:
        t = {} if timeout is None else {"timeout": (timeout, timeout)}
        return GCSStore(bucket, client=emulator_client(endpoint), **t)

    return Cloud(
        "gcs",
        request.getfixturevalue("gcs_store"),
        server,
        corrupt,
        lambda: servers.raw_gcs_client(server).create_bucket(bucket),
        at,
    )


@pytest.fixture(params=["s3", "azure", "gcs"])
def cloud(request: pytest.FixtureRequest) -> Cloud:
    return {"s3": _s3_cloud, "azure": _azure_cloud, "gcs": _gcs_cloud}[request.param](request)


def _timed(call: Callable[[], object]) -> tuple[BaseException, float]:
    began = time.monotonic()
    with pytest.raises(Exception) as caught:
        call()
    return caught.value, time.monotonic() - began


# ---------------------------------------------------------------- the basics, briefly


def test_round_trip_with_checksum(cloud: Cloud) -> None:
    store: ObjectStore = cloud.store
    assert isinstance(store, ObjectStore)
    info = store.put("dir/a.txt", b"hello", content_type="text/plain", metadata={"owner": "ops"})
    assert info.size == 5
    assert info.checksum == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    head = store.head("dir/a.txt")
    assert (head.size, head.checksum, head.content_type) == (5, info.checksum, "text/plain")
    assert dict(head.metadata) == {"owner": "ops"}  # the internal checksum key is hidden
    assert store.get("dir/a.txt") == b"hello"
    assert store.get_range("dir/a.txt", 1, 3) == b"el"
    assert store.get_range("dir/a.txt", 3, 99) == b"lo"
    assert store.get_range("dir/a.txt", 7, 9) == b""
    copied = store.copy("dir/a.txt", "dir/b.txt")
    assert (copied.key, copied.checksum) == ("dir/b.txt", info.checksum)
    assert store.get("dir/b.txt") == b"hello"  # the copy is verified too
    assert [o.key for o in store.list("dir/")] == ["dir/a.txt", "dir/b.txt"]
    store.delete("dir/b.txt")
    store.delete("dir/b.txt")  # idempotent
    assert [o.key for o in store.list("dir/")] == ["dir/a.txt"]


def test_oversize_metadata_is_invalid_input_naming_the_limit(cloud: Cloud) -> None:
    store: ObjectStore = cloud.store
    with pytest.raises(InvalidInput, match="allows at most") as caught:
        store.put("too-much-metadata", b"x", metadata={"note": "m" * 9000})
    assert caught.value.temporary is False
    with pytest.raises(NotFound):
        store.head("too-much-metadata")  # nothing half-written


def test_streamed_upload_from_a_pipe(cloud: Cloud) -> None:
    payload = bytes(range(256)) * (3 * 4096)  # 3 MiB, from a non-seekable stream
    reader, writer = socket.socketpair()
    feeder = threading.Thread(target=lambda: (writer.sendall(payload), writer.close()))
    feeder.start()
    with reader.makefile("rb") as stream:
        info = cloud.store.put("big.bin", stream)
    feeder.join()
    reader.close()
    assert info.size == len(payload)
    assert cloud.store.get("big.bin") == payload


def test_s3_multipart_upload_keeps_the_checksum(s3_store: Any) -> None:
    from failover.providers.aws import s3

    payload = b"\x01" * (s3.MULTIPART_THRESHOLD + 1024)
    info = s3_store.put("multi.bin", io.BytesIO(payload))
    assert info.size == len(payload) and info.checksum is not None
    assert s3_store.get("multi.bin") == payload


def test_two_moto_processes_are_two_regions(moto_east: LocalServer, moto_west: LocalServer) -> None:
    from failover.providers.aws import S3Store

    east_raw = servers.raw_s3_client(moto_east, "us-east-1")
    west_raw = servers.raw_s3_client(moto_west, "us-west-2")
    bucket = f"regions-{time.monotonic_ns()}"
    east_raw.create_bucket(Bucket=bucket)
    west_raw.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    east = S3Store(bucket, region="us-east-1", endpoint_url=moto_east.endpoint)
    west = S3Store(bucket, region="us-west-2", endpoint_url=moto_west.endpoint)
    east.put("k", b"east only")
    with pytest.raises(NotFound):
        west.get("k")


# ---------------------------------------------------------------- error mapping


def test_missing_key_is_not_found_and_permanent(cloud: Cloud) -> None:
    for operation, call in (
        ("get", lambda: cloud.store.get("missing")),
        ("head", lambda: cloud.store.head("missing")),
        ("get_range", lambda: cloud.store.get_range("missing", 0, 10)),
        ("get_range", lambda: cloud.store.get_range("missing", 0, 0)),
        ("copy", lambda: cloud.store.copy("missing", "elsewhere")),
    ):
        with pytest.raises(NotFound) as caught:
            call()
        assert caught.value.operation == operation
        assert isinstance(caught.value, FileNotFoundError)
        assert caught.value.temporary is False
        assert isinstance(caught.value.__cause__, Exception)  # raised `from` the SDK error


def test_missing_bucket_is_reported(cloud: Cloud) -> None:
    name = "no-such-bucket-here"
    other: Any
    if cloud.name == "s3":
        from failover.providers.aws import S3Store

        other = S3Store(name, region="us-east-1", endpoint_url=cloud.server.endpoint)
    elif cloud.name == "azure":
        from failover.providers.azure import BlobStore

        other = BlobStore(container=name, connection_string=servers.azurite_connection_string(cloud.server))
    else:
        from failover.providers.gcp import GCSStore, emulator_client

        other = GCSStore(name, client=emulator_client(cloud.server.endpoint))
    with pytest.raises(NotFound, match=name):
        other.probe()
    with pytest.raises(NotFound):
        other.put("k", b"v")


@pytest.mark.parametrize(
    ("adapter", "bad"),
    [("s3", "ab"), ("s3", "Upper_Case"), ("azure", "a--b"), ("azure", "UP"), ("gcs", "x"), ("gcs", "goog-x")],
)
def test_invalid_bucket_name_is_a_config_error_naming_the_rule(adapter: str, bad: str) -> None:
    if adapter == "s3":
        from failover.providers.aws import S3Store

        make: Callable[[], object] = lambda: S3Store(bad, endpoint_url="http://127.0.0.1:9")  # noqa: E731
    elif adapter == "azure":
        from failover.providers.azure import BlobStore

        make = lambda: BlobStore("http://127.0.0.1:9/acct", container=bad, credential="k")  # noqa: E731
    else:
        from failover.providers.gcp import GCSStore, emulator_client

        make = lambda: GCSStore(bad, client=emulator_client("http://127.0.0.1:9"))  # noqa: E731
    with pytest.raises(ConfigError, match="3-63 characters"):
        make()


def test_server_side_invalid_bucket_name_maps_to_invalid_request(s3_raw: Any, blob_raw: Any) -> None:
    # What the constructors' checks protect against, as the real servers answer it.
    from failover.providers.aws import map_errors as aws_errors
    from failover.providers.azure import map_errors as azure_errors

    with pytest.raises(InvalidRequest, match=r"InvalidBucketName.*3-63"), aws_errors("create", "s3://ab"):
        s3_raw.create_bucket(Bucket="ab")
    with pytest.raises(InvalidRequest, match=r"InvalidResourceName.*3-63"), azure_errors("create", "az://A"):
        blob_raw.create_container("Bad_Name")


def test_connection_refused_is_unavailable_fast(cloud: Cloud) -> None:
    store = cloud.at(f"http://127.0.0.1:{servers.closed_port()}")
    for call in (lambda: store.get("k"), lambda: store.put("k", b"v"), store.probe):
        error, seconds = _timed(call)
        assert isinstance(error, Unavailable), repr(error)
        assert error.temporary is True
        assert seconds < FAST, f"{cloud.name}: refused port took {seconds:.2f} s"


class _Silent:
    """Accepts connections (the kernel does, from the backlog) and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.endpoint = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[_Silent]:
    s = _Silent()
    yield s
    s.close()


def test_silent_endpoint_times_out_at_the_read_timeout(cloud: Cloud, silent: _Silent) -> None:
    store = cloud.at(silent.endpoint, timeout=0.5)
    error, seconds = _timed(lambda: store.get("k"))
    assert isinstance(error, Timeout), repr(error)
    assert error.temporary is True
    # One attempt only: a second one (an SDK retry) would take another 0.5 s at least.
    assert 0.45 < seconds < 0.9, f"{cloud.name}: silent endpoint took {seconds:.2f} s"


def test_integrity_mismatch_is_detected(cloud: Cloud) -> None:
    cloud.store.put("precious", b"the real bytes")
    cloud.corrupt("precious", b"the evil bytes")
    with pytest.raises(IntegrityError, match="checksum mismatch") as caught:
        cloud.store.get("precious")
    assert caught.value.temporary is True  # another replica may be good


def test_killed_server_is_unavailable_quickly_and_recovers(cloud: Cloud) -> None:
    cloud.store.put("k", b"before")
    cloud.server.kill()
    try:
        error, seconds = _timed(lambda: cloud.store.get("k"))
        assert isinstance(error, Unavailable), repr(error)
        assert seconds < FAST, f"{cloud.name}: killed server took {seconds:.2f} s"
        error, seconds = _timed(cloud.store.probe)
        assert isinstance(error, Unavailable) and seconds < FAST
    finally:
        cloud.server.restart()
    cloud.recreate()  # the servers keep state in memory: the bucket went with the process
    # The same adapter object (and its connection pool) works again without rebuilding.
    cloud.store.put("k", b"after")
    assert cloud.store.get("k") == b"after"


# ---------------------------------------------------------------- throttling, on a real socket


class _Throttler(BaseHTTPRequestHandler):
    status = 503
    body = b""
    content_type = "application/xml"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(self.status)
        self.send_header("Retry-After", "7")
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


_THROTTLE_ANSWERS = {
    "s3": (
        503,
        b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>",
        "application/xml",
    ),
    "azure": (
        503,
        b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
        b"<Message>The server is busy.</Message></Error>",
        "application/xml",
    ),
    "gcs": (
        429,
        b'{"error":{"code":429,"message":"rate limit","errors":[{"reason":"rateLimitExceeded"}]}}',
        "application/json",
    ),
}


def test_throttling_maps_to_throttled_with_retry_after(cloud: Cloud) -> None:
    status, body, ctype = _THROTTLE_ANSWERS[cloud.name]
    handler = type("H", (_Throttler,), {"status": status, "body": body, "content_type": ctype})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        store = cloud.at(f"http://127.0.0.1:{httpd.server_address[1]}")
        with pytest.raises(Throttled) as caught:
            store.get("k")
        assert caught.value.retry_after == pytest.approx(7.0)
        assert caught.value.temporary is True
    finally:
        httpd.shutdown()
        httpd.server_close()


# ---------------------------------------------------------------- secrets and packaging


def test_no_secret_in_repr_or_errors(azurite: LocalServer) -> None:
    from failover.providers.azure import BlobStore

    cs = servers.azurite_connection_string(azurite).replace(azurite.endpoint, "http://127.0.0.1:1")
    store = BlobStore(container="secrets", connection_string=cs)
    assert servers.AZURITE_KEY not in repr(store)
    sas_store = BlobStore("http://127.0.0.1:1/acct?sv=2024&sig=SECRETSIG", container="secrets")
    assert "SECRETSIG" not in repr(sas_store)
    with pytest.raises(Unavailable) as refused:
        sas_store.get("k")
    assert "SECRETSIG" not in str(refused.value)
    with pytest.raises(Unavailable) as caught:
        store.get("k")
    assert servers.AZURITE_KEY not in str(caught.value)
    with pytest.raises(ConfigError) as bad:
        BlobStore(container="secrets", connection_string="AccountKey=TOPSECRET;garbage")
    assert "TOPSECRET" not in str(bad.value)


@pytest.mark.parametrize(
    ("package", "name", "module", "extra"),
    [
        ("failover.providers.aws", "S3Store", "boto3", "s3"),
        ("failover.providers.azure", "BlobStore", "azure.storage.blob", "azure-blob"),
        ("failover.providers.gcp", "GCSStore", "google.cloud.storage", "gcs"),
    ],
)
def test_missing_sdk_says_which_extra_to_install(package: str, name: str, module: str, extra: str) -> None:
    # The package itself imports nothing (its names load on first use): the adapter does.
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        f"try:\n    from {package} import {name}\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=servers.REPO
    ).stdout
    assert f"pip install 'multicloud-failover[{extra}]'" in out


# ---------------------------------------------------------------- the attempt deadline
# Every adapter declares ``reads_deadline = True``: each request it makes before returning
# has its socket timeouts cut to the attempt deadline, and none is sent once it has passed.


def _deadline_store(cloud: Cloud, endpoint: str) -> Any:
    # A 5 s read timeout: only the deadline can make the call end in time.
    store = cloud.at(endpoint)
    assert store.reads_deadline is True
    return store


def test_attempt_deadline_cuts_a_call_to_a_silent_endpoint(cloud: Cloud, silent: _Silent) -> None:
    from failover.deadline import attempt_deadline

    store = _deadline_store(cloud, silent.endpoint)
    began = time.monotonic()
    with attempt_deadline(began + 0.3), pytest.raises(Timeout) as caught:
        store.get("k")
    seconds = time.monotonic() - began
    assert caught.value.temporary is True
    assert 0.25 < seconds < 1.5, f"{cloud.name}: took {seconds:.2f} s with a 0.3 s deadline"


def test_passed_attempt_deadline_sends_no_request(cloud: Cloud) -> None:
    from failover.deadline import attempt_deadline

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.2)
        store = _deadline_store(cloud, f"http://127.0.0.1:{listener.getsockname()[1]}")
        began = time.monotonic()
        with attempt_deadline(began - 0.01), pytest.raises(Timeout, match="deadline passed before the request"):
            store.get("k")
        assert time.monotonic() - began < 0.2
        with pytest.raises(socket.timeout):
            listener.accept()[0].close()  # nobody connected


def test_attempt_timeout_moves_a_plain_get_off_a_silent_primary(cloud: Cloud, silent: _Silent) -> None:
    from failover import ExecutionConfig, FailoverStorage, Target, policies
    from failover.providers.memory import MemoryObjectStore

    secondary = MemoryObjectStore()
    secondary.put("k", b"from the secondary")
    primary = _deadline_store(cloud, silent.endpoint)
    storage = FailoverStorage(
        [Target("primary", primary, priority=0), Target("secondary", secondary, priority=1)],
        policy=policies.Priority(),
        execution=ExecutionConfig(attempt_timeout=0.3),
    )
    try:
        began = time.monotonic()
        assert storage.get("k") == b"from the secondary"
        seconds = time.monotonic() - began
    finally:
        storage.close()
    assert seconds < 1.5, f"{cloud.name}: failover took {seconds:.2f} s with attempt_timeout=0.3"
