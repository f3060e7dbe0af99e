"""`failover.fleet` names its whole surface, and loads redis-py only with a Redis name."""

from __future__ import annotations

import subprocess
import sys

import failover.fleet
from failover.fleet.leader import FileLeaderLock
from failover.fleet.redis_journal import RedisJournal
from failover.fleet.redis_store import RedisBreakerStore, RedisLeaderLock


def test_importing_the_fleet_package_loads_no_redis_until_a_redis_name_is_asked_for() -> None:
    code = (
        "import sys, failover.fleet as fleet; before = 'redis' in sys.modules; fleet.FileLeaderLock; "
        "lock_only = 'redis' in sys.modules; fleet.RedisBreakerStore; print(before, lock_only, 'redis' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "True"]


def test_the_fleet_package_exports_the_classes_of_its_modules() -> None:
    assert failover.fleet.FileLeaderLock is FileLeaderLock
    assert failover.fleet.RedisBreakerStore is RedisBreakerStore
    assert failover.fleet.RedisLeaderLock is RedisLeaderLock
    assert failover.fleet.RedisJournal is RedisJournal
    assert set(failover.fleet.__all__) <= set(dir(failover.fleet))
