"""Fleet kill test: four writer processes share the Redis journal over three local clouds;
S3 is blackholed, two writers are SIGKILLed mid-outage, S3 comes back, and every write any
writer acknowledged is on every cloud, byte for byte, read with each cloud's own SDK, with
no manual step: the surviving writers drain what the dead ones still owed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from failover.fleet.redis_journal import RedisJournal
from failover.testing.clouds import LocalClouds
from failover.testing.proxy import TcpProxy
from failover.testing.redis import RedisServer
from failover.testing.servers import raw_blob_service, raw_gcs_client, raw_s3_client
from tests.integration.servers import REPO

WRITERS = 4
KILLED = (0, 1)
JOURNAL_ENV = "FLEET_JOURNAL_URL"
LEASE = 1.5  # seconds before a dead writer's entries pass to a live one


def payload(key: str) -> bytes:
    """The bytes written under ``key``: known to the checker without being logged."""
    seed = hashlib.sha256(key.encode()).digest()
    return seed * (1 + seed[0] % 64)  # 32 B to 2 KiB


def run_writer(config: str, acks: str, name: str, stop_writing: str, stop: str) -> None:
    """One writer process: write until ``stop_writing`` exists, log each acknowledged key
    (flushed before the next write, so a SIGKILL loses none), then drain until ``stop``."""
    from failover.config import load

    with load(config) as setup, open(acks, "a", buffering=1) as log:
        storage = setup.storage
        assert storage is not None
        i = 0
        while not os.path.exists(stop_writing):
            key = f"{name}/{i:05d}"
            i += 1
            try:
                storage.put(key, payload(key))
            except Exception as exc:  # refused: not acknowledged, so not logged
                print(f"{key}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                continue
            log.write(key + "\n")
            log.flush()
            time.sleep(0.02)
        while not os.path.exists(stop):
            time.sleep(0.1)  # the drainer thread repairs meanwhile


@dataclass
class Writer:
    name: str
    acks: Path
    process: subprocess.Popen[bytes]

    def acknowledged(self) -> list[str]:
        return self.acks.read_text().split() if self.acks.exists() else []


def fleet_config(clouds: LocalClouds, proxy: TcpProxy, prefix: str) -> str:
    """The clouds' file, with S3 behind the proxy and the journal in Redis."""
    assert clouds.s3 is not None
    text = clouds.config_text(writes="quorum")
    text = text.replace(f'endpoint = "{clouds.s3.endpoint}"', f'endpoint = "{proxy.endpoint}"')
    text = text.replace("attempt_timeout = 2\n", "attempt_timeout = 0.5\n")
    journal = (
        f'journal_url_env = "{JOURNAL_ENV}"\njournal_prefix = "{prefix}"\njournal_lease = {LEASE}\n'
        "drain_interval = 0.2\nunconfirmed_grace = 1.0\nrestore_check = false\n"
    )
    lines = [journal if line.startswith("journal = ") else line for line in text.splitlines(keepends=True)]
    breaker = "[storage.breaker]\nconsecutive_failures = 2\nopen_base = 0.5\nopen_max = 1.0\njitter = 0.0\n\n"
    return breaker + "".join(lines)


def start_writer(tmp: Path, config: Path, index: int, env: dict[str, str]) -> Writer:
    name = f"w{index}"
    acks = tmp / f"{name}.acks"
    call = (
        "from tests.integration.test_fleet_kill import run_writer; "
        f"run_writer({str(config)!r}, {str(acks)!r}, {name!r}, {str(tmp / 'stop-writing')!r}, {str(tmp / 'stop')!r})"
    )
    errors = open(tmp / f"{name}.err", "wb")  # noqa: SIM115 - the child writes it; closed with the test's tmp
    process = subprocess.Popen([sys.executable, "-c", call], cwd=REPO, env=env, stderr=errors)
    return Writer(name, acks, process)


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    ends = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < ends, f"gave up waiting for {what}"
        time.sleep(0.1)


def readers(clouds: LocalClouds) -> dict[str, Callable[[str], bytes]]:
    """Each cloud read with its own SDK, straight from the server (no proxy, no adapter)."""
    assert clouds.s3 is not None and clouds.azure is not None and clouds.gcs is not None
    s3 = raw_s3_client(clouds.s3)
    container = raw_blob_service(clouds.azure).get_container_client(clouds.bucket)
    bucket = raw_gcs_client(clouds.gcs).bucket(clouds.bucket)

    def from_s3(key: str) -> bytes:
        body: bytes = s3.get_object(Bucket=clouds.bucket, Key=key)["Body"].read()
        return body

    return {
        "aws": from_s3,
        "azure": lambda key: bytes(container.download_blob(key).readall()),
        "gcp": lambda key: bytes(bucket.blob(key).download_as_bytes()),
    }


def missing_or_wrong(clouds: LocalClouds, keys: list[str]) -> list[str]:
    found: list[str] = []
    for cloud, read in readers(clouds).items():

        def check(key: str, read: Callable[[str], bytes] = read, cloud: str = cloud) -> str | None:
            try:
                return None if read(key) == payload(key) else f"{cloud}:{key} differs"
            except Exception as exc:
                return f"{cloud}:{key} {type(exc).__name__}"

        with ThreadPoolExecutor(8) as pool:
            found += [problem for problem in pool.map(check, keys) if problem is not None]
    return found


def test_surviving_writers_drain_what_killed_writers_owed(redis_server: RedisServer, tmp_path: Path) -> None:
    began = time.monotonic()
    prefix = f"fleet-kill:{uuid.uuid4().hex[:8]}:"
    with LocalClouds(bucket="fleet-kill") as clouds:
        assert clouds.s3 is not None
        proxy = TcpProxy(clouds.s3.port).start()
        journal = RedisJournal.from_url(redis_server.url, prefix=prefix, consumer="observer")
        writers: list[Writer] = []
        try:
            config = tmp_path / "fleet.toml"
            config.write_text(fleet_config(clouds, proxy, prefix))
            env = {**os.environ, JOURNAL_ENV: redis_server.url}
            writers = [start_writer(tmp_path, config, i, env) for i in range(WRITERS)]
            wait_for(lambda: all(len(w.acknowledged()) >= 5 for w in writers), 30, "every writer's first writes")

            proxy.blackhole()
            wait_for(lambda: journal.counts().get("aws:us-east-1", 0) >= 40, 15, "S3 to fall behind")
            time.sleep(1.0)
            for index in KILLED:
                writers[index].process.send_signal(signal.SIGKILL)
                writers[index].process.wait(10)
            owed_by_dead = journal.counts().get("aws:us-east-1", 0)
            time.sleep(0.5)
            proxy.pass_through()
            time.sleep(1.0)
            (tmp_path / "stop-writing").touch()

            wait_for(lambda: len(journal) == 0, 30, "the survivors to drain the journal")
            drained_at = time.monotonic()
            acked = {w.name: w.acknowledged() for w in writers}
            keys = [key for names in acked.values() for key in names]
            problems = missing_or_wrong(clouds, keys)
            assert problems == [], f"{len(problems)} acknowledged writes not on every cloud: {problems[:10]}"
            assert all(w.process.poll() is None for i, w in enumerate(writers) if i not in KILLED)
            counts = {name: len(names) for name, names in acked.items()}
            print(
                "fleet kill:",
                json.dumps(
                    {
                        "acknowledged": len(keys),
                        "by_writer": counts,
                        "killed": [writers[i].name for i in KILLED],
                        "acknowledged_by_killed": sum(counts[writers[i].name] for i in KILLED),
                        "owed_to_s3_at_kill": owed_by_dead,
                        "refused": sum(refused(tmp_path / f"{w.name}.err") for w in writers),
                        "checked_reads": 3 * len(keys),
                        "drained_after_s": round(drained_at - began, 1),
                    }
                ),
            )
            assert all(counts[writers[i].name] > 5 for i in KILLED)
        finally:
            (tmp_path / "stop-writing").touch()
            (tmp_path / "stop").touch()
            for writer in writers:
                stop(writer.process)
            journal.close()
            proxy.stop()


def refused(errors: Path) -> int:
    """Writes a writer was refused (not acknowledged, not checked): one line each."""
    return sum(1 for line in errors.read_text(errors="replace").splitlines() if line.startswith("w"))


def stop(process: subprocess.Popen[Any]) -> None:
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
