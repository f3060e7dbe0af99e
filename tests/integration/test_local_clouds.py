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
