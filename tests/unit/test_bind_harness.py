"""The BIND harness leaves nothing behind when it cannot be configured."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from failover.testing import bind
from failover.testing.servers import ServerError


def bind_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("failover-bind-*"))


def test_a_bind_server_whose_key_cannot_be_made_removes_its_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise ServerError(f"{name} is not installed")

    before = bind_folders()
    monkeypatch.setattr(bind, "_tool", missing)
    with pytest.raises(ServerError, match="tsig-keygen is not installed"):
        bind.BindServer()
    assert bind_folders() == before
