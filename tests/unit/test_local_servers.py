"""The local-server harness finds its programs, or says what to install."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.testing import servers
from failover.testing.servers import ServerError, azurite_binary


def test_azurite_is_found_where_the_environment_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = tmp_path / "azurite-blob"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("FAILOVER_AZURITE", str(program))
    assert azurite_binary() == program


def test_a_missing_azurite_names_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAILOVER_AZURITE", raising=False)
    monkeypatch.setattr(servers, "_LOCAL_AZURITE", Path("no") / "such" / "azurite-blob")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerError, match="npm install azurite"):
        azurite_binary()


def test_a_missing_moto_names_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(servers.sys, "executable", str(tmp_path / "python3"))
    with pytest.raises(ServerError, match=r"moto\[server\]"):
        servers.moto()
