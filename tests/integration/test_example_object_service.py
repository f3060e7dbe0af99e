"""The object service for real: moto, Azurite and fake-gcs-server behind it, HTTP in front.

A cloud is taken down through the chaos control while a client keeps reading and writing
(no request may fail); once it is back, every object written is read from each cloud with
that cloud's own SDK, straight from the server.  Then the one command a newcomer runs,
``python -m examples.object_service --local``, is started, used and stopped with Ctrl-C.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from examples.object_service.cli import CHAOS_TOKEN_ENV, LOCAL_JOURNAL
from examples.object_service.service import local_service
from failover.testing.clouds import LocalClouds
from failover.testing.servers import free_port, raw_blob_service, raw_gcs_client, raw_s3_client
from tests.integration.service_process import served_until_ctrl_c

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TOKEN = "integration-chaos-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PRIMARY = "aws:us-east-1"


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, LocalClouds]]:
    """The service on the local clouds, served by uvicorn on a free port in this process."""
    with local_service(journal=tmp_path / "journal.sqlite", chaos_token=TOKEN) as (service, clouds):
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(service.app, host="127.0.0.1", port=port, log_config=None))
        thread = threading.Thread(target=server.run, name="object-service", daemon=True)
        thread.start()
        try:
            wait_for("uvicorn started", lambda: server.started, timeout=15)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15) as client:
                yield client, clouds
        finally:
            server.should_exit = True
            thread.join(timeout=15)


def on_every_cloud(clouds: LocalClouds, key: str) -> dict[str, bytes]:
    """The object as each cloud's own SDK reads it from the server (no adapter, no service)."""
    assert clouds.s3 and clouds.azure and clouds.gcs
    bucket = clouds.bucket
    return {
        "s3": raw_s3_client(clouds.s3).get_object(Bucket=bucket, Key=key)["Body"].read(),
        "azure": raw_blob_service(clouds.azure).get_container_client(bucket).download_blob(key).readall(),
        "gcs": raw_gcs_client(clouds.gcs).bucket(bucket).blob(key).download_as_bytes(),
    }


def healthz(client: httpx.Client) -> dict[str, Any]:
    answer = client.get("/healthz")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def role_of(client: httpx.Client, target: str) -> str:
    return str(next(t["role"] for t in healthz(client)["targets"] if t["name"] == target))


def test_a_cloud_taken_down_loses_no_request_and_is_repaired_on_its_return(
    served: tuple[httpx.Client, LocalClouds], caplog: pytest.LogCaptureFixture
) -> None:
    client, clouds = served
    caplog.set_level(logging.INFO)
    written: dict[str, bytes] = {}

    def write(key: str, data: bytes) -> None:
        answer = client.put(f"/objects/{key}", content=data, headers={"Content-Type": "text/plain"})
        assert answer.status_code == 200, answer.text
        written[key] = data

    def read_all() -> None:
        for key, data in written.items():
            answer = client.get(f"/objects/{key}")
            assert (answer.status_code, answer.content) == (200, data), answer.text

    write("before/report one.txt", b"written while all is well")
    data = b"written while all is well"
    assert on_every_cloud(clouds, "before/report one.txt") == {"s3": data, "azure": data, "gcs": data}
    etag = client.get("/objects/before/report one.txt").headers["etag"]  # served by the primary
    assert etag == f'"{hashlib.sha256(data).hexdigest()}"'

    assert client.post(f"/chaos/{PRIMARY}/down", headers=AUTH).status_code == 200
    for n in range(12):  # the first calls fail on the primary and move on within the request
        write(f"during/{n}.txt", f"written during the outage {n}".encode())
        read_all()
    assert role_of(client, PRIMARY) == "down"
    failed_over = client.get("/objects/before/report one.txt")  # served by Azure now
    assert (failed_over.content, failed_over.headers["etag"]) == (data, etag)
    cached = client.get("/objects/before/report one.txt", headers={"If-None-Match": etag})
    assert cached.status_code == 304  # a client's cached copy stays good across the failover
    assert healthz(client)["pending"].get(PRIMARY, 0) > 0  # journaled for the cloud that is down
    ranged = client.get("/objects/during/3.txt", headers={"Range": "bytes=0-6"})
    assert (ranged.status_code, ranged.content) == (206, b"written")

    assert client.post(f"/chaos/{PRIMARY}/up", headers=AUTH).status_code == 200
    write("after/back.txt", b"written once it is back")
    wait_for("the journal repaired the primary", lambda: healthz(client)["pending"] == {})
    wait_for("traffic failed back to the primary", lambda: role_of(client, PRIMARY) == "preferred")
    read_all()
    assert client.head("/objects/before/report one.txt").headers["etag"] == etag  # after the failback

    for key, data in written.items():
        assert on_every_cloud(clouds, key) == {"s3": data, "azure": data, "gcs": data}, key
    listed = client.get("/objects", params={"prefix": "during/", "limit": 1000}).json()["objects"]
    assert sorted(row["key"] for row in listed) == sorted(k for k in written if k.startswith("during/"))
    failovers = [r for r in caplog.records if r.getMessage().startswith(f"traffic failed over from {PRIMARY}")]
    assert len(failovers) == 1  # logged once, by the LoggingListener
    metrics = client.get("/metrics").text
    assert re.search(rf'failover_failovers_total{{[^}}]*from_target="{PRIMARY}"[^}}]*}} 1\.0', metrics)
    assert TOKEN not in caplog.text


def test_the_one_command_serves_the_local_clouds_and_stops_them_on_ctrl_c(tmp_path: Path) -> None:
    def use(client: httpx.Client) -> None:
        assert client.put("/objects/hello.txt", content=b"hi").status_code == 200
        assert client.get("/objects/hello.txt").content == b"hi"
        assert client.post("/chaos/gcp:local/down").status_code == 401

    text = served_until_ctrl_c("examples.object_service", tmp_path, use, env={CHAOS_TOKEN_ENV: TOKEN})
    assert (tmp_path / LOCAL_JOURNAL).exists()  # durable, in the working directory
    assert TOKEN not in text
