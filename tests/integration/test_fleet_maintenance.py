"""`failover force-open|release TARGET --config FILE` reaching a running service through the fleet's
breaker store on a real redis-server: the service's own facade adopts the state by itself."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

from failover import BreakerState
from failover.config import load
from failover.testing.redis import RedisServer
from failover.testing.servers import free_port

FILE = """
[[storage.targets]]
name = "aws:us-east-1"
provider = "memory"

[[storage.targets]]
name = "gcp:europe-west1"
provider = "memory"
priority = 1

[storage.fleet]
breaker_store = "{url}"
prefix = "{prefix}"
sync_interval = 0.1
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "failover", *args], capture_output=True, text=True, timeout=60, check=False
    )


def wait_for(predicate: object, seconds: float = 10.0) -> bool:
    tick = threading.Event()
    for _ in range(int(seconds / 0.05)):
        if predicate():  # type: ignore[operator]
            return True
        tick.wait(0.05)
    return False


def test_the_fleet_adopts_a_forced_open_target_and_its_release(tmp_path: Path, redis_server: RedisServer) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(FILE.format(url=redis_server.url, prefix=f"test:{uuid.uuid4().hex}:"))
    with load(path) as service:  # started: it syncs with the store on its own
        assert service.storage is not None
        breaker = service.storage.pool.member("aws:us-east-1").breaker
        done = run("force-open", "aws:us-east-1", "--config", str(path), "--reason", "kernel upgrade", "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["saved"] == {"storage": {"aws:us-east-1": "forced_open"}}
        assert wait_for(lambda: breaker.state is BreakerState.FORCED_OPEN), "the service never adopted it"
        assert "kernel upgrade" in breaker.reason
        done = run("release", "aws:us-east-1", "--config", str(path))
        assert done.returncode == 0, done.stdout + done.stderr
        assert wait_for(lambda: breaker.state is BreakerState.CLOSED)


def test_an_unreachable_store_is_said_not_claimed(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(FILE.format(url=f"redis://127.0.0.1:{free_port()}/0", prefix="test:"))
    done = run("force-open", "aws:us-east-1", "--config", str(path), "--reason", "maintenance")
    assert done.returncode == 1
    assert "NOT saved" in done.stdout


def test_without_a_fleet_store_the_command_refuses(tmp_path: Path) -> None:
    path = tmp_path / "one.toml"
    path.write_text(FILE.split("[storage.fleet]")[0])
    done = run("force-open", "aws:us-east-1", "--config", str(path), "--reason", "maintenance")
    assert done.returncode == 2 and "has no [storage.fleet] breaker store" in done.stderr
    unknown = run("release", "aws:eu-west-9", "--config", str(path))
    assert unknown.returncode == 2 and "no target 'aws:eu-west-9'" in unknown.stderr
