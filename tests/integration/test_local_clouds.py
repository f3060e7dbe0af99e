"""`failover.testing.clouds.LocalClouds`: three local clouds and the file that points at them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from failover.config import load
from failover.errors import ConfigError
from failover.testing.clouds import AZURITE_CONNECTION_ENV, LocalClouds


def test_local_clouds_serve_a_config_file_whose_writes_land_on_every_cloud(tmp_path: Path) -> None:
    before = os.environ.get(AZURITE_CONNECTION_ENV)
    with LocalClouds("clouds") as clouds:
        path = clouds.write_config(tmp_path / "failover.toml", writes="quorum", journal=tmp_path / "j.sqlite")
        with load(path) as setup:
            storage = setup.storage
            assert storage is not None
            storage.put("hello.txt", b"hi")
            storage.repair()
            held = {t.name: t.provider.get("hello.txt") for t in storage.pool.targets}
        assert held == {"aws:us-east-1": b"hi", "azure:local": b"hi", "gcp:local": b"hi"}
        servers = clouds.servers
    assert all(not server.running() for server in servers)
    assert os.environ.get(AZURITE_CONNECTION_ENV) == before


def test_local_clouds_refuse_an_unknown_write_mode_and_an_unstarted_config() -> None:
    clouds = LocalClouds()
    with pytest.raises(ConfigError, match="writes: must be one of all, quorum, primary, got 'some'"):
        clouds.config_text(writes="some")
    with pytest.raises(ConfigError, match="not running"):
        clouds.config_text()
    with pytest.raises(ConfigError, match="bucket"):
        LocalClouds("")


def test_local_clouds_work_whatever_aws_profile_and_proxy_the_shell_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A profile this machine lacks stops boto3 (and moto, which runs botocore); a proxy
    # would receive the loopback traffic.  Both are the user's, and both come back.
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with (
        LocalClouds("shell") as clouds,
        load(clouds.write_config(tmp_path / "f.toml", journal=tmp_path / "j")) as setup,
    ):
        assert setup.storage is not None
        setup.storage.put("k", b"v")
        assert setup.storage.get("k") == b"v"
        assert "AWS_PROFILE" not in os.environ
    assert os.environ["AWS_PROFILE"] == "no-such-profile"


def test_local_clouds_refuse_a_second_start() -> None:
    with LocalClouds("twice") as clouds, pytest.raises(ConfigError, match="already started"):
        clouds.start()
