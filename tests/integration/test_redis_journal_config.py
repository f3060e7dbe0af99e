"""The Redis repair journal from the set-up file, with a password that is never shown, and
its arguments checked, on real redis-servers started here."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

import pytest

from failover.config import parse
from failover.errors import ConfigError, Unavailable
from failover.fleet.redis_journal import RedisJournal
from failover.testing.redis import RedisServer


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:10]}:"


# ---------------------------------------------------------------- configuration and secrets

CONFIG = """
[storage]
[[storage.targets]]
name = "memory:a"
provider = "memory"
[[storage.targets]]
name = "memory:b"
provider = "memory"
[storage.replication]
mode = "all"
journal_url_env = "JOURNAL_REDIS_URL"
journal_prefix = "{prefix}"
journal_lease = 7.5
"""


class PasswordRedis(RedisServer):
    """A redis-server that wants a password: ready once it answers PING with NOAUTH."""

    ready_reply = b"-NOAUTH"


def password_redis() -> RedisServer:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"

    def argv(port: int, workdir: Path) -> list[str]:
        return [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--requirepass",
            "s3cret-pw",
        ]

    return PasswordRedis("redis-password", argv)


def test_the_file_selects_the_redis_journal_and_never_shows_its_password(
    prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = password_redis()
    server.start()
    try:
        url = f"redis://:s3cret-pw@127.0.0.1:{server.port}/0"
        setup = parse(CONFIG.format(prefix=prefix), base=tmp_path, environ={"JOURNAL_REDIS_URL": url})
        storage = setup.storage
        assert storage is not None and storage.replication is not None
        journal = storage.replication.journal
        assert isinstance(journal, RedisJournal) and journal.lease == 7.5 and journal.prefix == prefix
        storage.put("k", b"v")
        assert not list(tmp_path.iterdir())  # no SQLite file
        server.kill()
        with caplog.at_level(logging.DEBUG), pytest.raises(Unavailable) as caught:
            storage.put("k2", b"v")
        shown = [repr(journal), repr(setup), str(caught.value), repr(caught.value), caplog.text]
        assert all("s3cret-pw" not in text for text in shown)
        assert f"127.0.0.1:{server.port}" in str(caught.value)
        setup.close()
    finally:
        server.close()


def test_the_file_refuses_a_password_inline_and_redis_keys_without_redis(prefix: str, tmp_path: Path) -> None:
    inline = CONFIG.format(prefix=prefix).replace(
        'journal_url_env = "JOURNAL_REDIS_URL"', 'journal_url = "redis://:pw-inline@127.0.0.1:1/0"'
    )
    with pytest.raises(ConfigError, match="journal_url: this value holds a credential") as caught:
        parse(inline, base=tmp_path)
    assert "pw-inline" not in str(caught.value)
    lonely = CONFIG.format(prefix=prefix).replace('journal_url_env = "JOURNAL_REDIS_URL"\n', "")
    with pytest.raises(ConfigError, match="journal_lease, journal_prefix need the Redis journal"):
        parse(lonely, base=tmp_path)
    with pytest.raises(ConfigError, match="JOURNAL_REDIS_URL is not set"):
        parse(CONFIG.format(prefix=prefix), base=tmp_path, environ={})
    both = CONFIG.format(prefix=prefix) + 'journal = "j.sqlite"\n'
    with pytest.raises(ConfigError, match="for the SQLite file"):
        parse(both, base=tmp_path, environ={"JOURNAL_REDIS_URL": "redis://127.0.0.1:1/0"})


def test_bad_arguments_are_config_errors(redis_server: RedisServer) -> None:
    with pytest.raises(ConfigError, match="lease"):
        RedisJournal(redis_server.client(), lease=0)
    with pytest.raises(ConfigError, match="wait_replicas"):
        RedisJournal(redis_server.client(), wait_replicas=-1)
    with pytest.raises(ConfigError, match="journal url"):
        RedisJournal.from_url("http://127.0.0.1:1")
    assert os.environ.get("JOURNAL_REDIS_URL") is None


def test_a_lease_under_three_attempt_timeouts_is_warned_about(
    redis_server: RedisServer, prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    environ = {"JOURNAL_REDIS_URL": redis_server.url}
    short = CONFIG.format(prefix=prefix) + "[storage.execution]\nattempt_timeout = 3\n"
    with caplog.at_level(logging.WARNING, logger="failover.redis"):
        parse(short, base=tmp_path, environ=environ).close()  # lease 7.5 < 3 x 3
        assert "lease 7.5s is under 3 x the attempt timeout (3s)" in caplog.text
        caplog.clear()
        parse(short.replace("= 3\n", "= 2.5\n"), base=tmp_path, environ=environ).close()
    assert "lease" not in caplog.text


def test_opening_the_journal_while_redis_is_down_raises_unavailable() -> None:
    with pytest.raises(Unavailable, match=r"repair journal \(redis 127\.0\.0\.1:1/0\) unreachable"):
        RedisJournal.from_url("redis://127.0.0.1:1/0")
