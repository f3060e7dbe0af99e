"""The service put together: a set-up file (or the three local clouds) loaded into one
replicated `FailoverStorage`, started, with logging, metrics, the dashboard and chaos."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI

from examples.object_service.app import create_app
from examples.object_service.chaos import chaos_registry
from failover import FailoverStorage, LoggingListener
from failover.config import Setup
from failover.config.setup import Options, build, read
from failover.errors import ConfigError
from failover.events import Listener
from failover.registry import Registry
from failover.testing.clouds import LocalClouds

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_JOURNAL = "object-service-journal.sqlite"
# The local clouds answer in milliseconds: probe them often, so a cloud taken down is
# seen down (and one brought back seen up) within a second or two.
LOCAL_PROBES: Mapping[str, float] = MappingProxyType({"interval": 1.0, "timeout": 0.5})
# A journal in Redis, shared by a fleet (failover.config's [storage.replication]).
SHARED_JOURNAL = ("journal_url", "journal_url_env")


@dataclass(frozen=True)
class Service:
    """The app and the storage behind it (started), with the set-up that owns the storage."""

    app: FastAPI
    storage: FailoverStorage
    setup: Setup


def read_tables(path: Path) -> dict[str, Any]:
    try:
        tables: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--config: {path} is not UTF-8 TOML: {exc}") from None
    return tables


def service_tables(
    tables: dict[str, Any], path: Path, *, journal: Path | None = None, probes: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """The file's tables with what the service adds (see `load_setup`); changed in place."""
    storage = tables.get("storage")
    if not isinstance(storage, dict):
        raise ConfigError(f"--config: {path} has no [storage] section; the service stores objects")
    replication = storage.setdefault("replication", {"mode": "all"})
    if isinstance(replication, dict):  # anything else: the validation names the problem
        set_journal(replication, journal)
    telemetry = tables.setdefault("telemetry", {})
    if isinstance(telemetry, dict):
        telemetry["metrics"] = True  # /metrics serves them
    if probes is not None:
        storage.setdefault("health_checks", dict(probes))
    return tables


def set_journal(replication: dict[str, Any], journal: Path | None) -> None:
    """The SQLite journal at ``journal``, else the file's own, else one in the working
    directory; a journal the file keeps in Redis stays there."""
    shared = [key for key in SHARED_JOURNAL if key in replication]
    if shared and journal is not None:
        raise ConfigError(f"--journal: the set-up file keeps the journal in Redis ({shared[0]}); give one or the other")
    if journal is not None:
        replication["journal"] = str(journal)
    elif not shared:
        replication.setdefault("journal", str(Path.cwd() / DEFAULT_JOURNAL))


def load_setup(
    path: Path,
    *,
    journal: Path | None = None,
    chaos: bool = False,
    probes: Mapping[str, float] | None = None,
    listeners: Iterable[Listener] = (),
) -> Setup:
    """The file's set-up, as the service needs it: replicated writes (``[storage.replication]``,
    ``mode = "all"`` when the file has none; the journal at ``journal`` when given), Prometheus
    metrics on, health checks ``probes`` unless the file has its own, and with ``chaos`` every
    storage provider inside a `ChaosProvider`.  Built, not started."""
    tables = service_tables(read_tables(path), path, journal=journal, probes=probes)
    options = Options(
        source=str(path),
        base=path.parent,
        environ=os.environ,
        registry=chaos_registry() if chaos else Registry(),
        listeners=tuple(listeners),
    )
    return build(read(tables, str(path)), options)


@contextmanager
def configured_service(
    path: Path,
    *,
    journal: Path | None = None,
    chaos_token: str | None = None,
    probes: Mapping[str, float] | None = None,
) -> Iterator[Service]:
    """The service over the set-up file at ``path``, started; stopped on leaving."""
    from failover.dashboard import Dashboard

    dashboard = Dashboard()
    setup = load_setup(
        path,
        journal=journal,
        chaos=chaos_token is not None,
        probes=probes,
        listeners=[LoggingListener(), dashboard],  # each event logged once, and shown
    )
    try:
        if setup.storage is None:  # pragma: no cover - load_setup refuses a file without one
            raise ConfigError(f"--config: {path} has no [storage] section")
        app = create_app(setup.storage, metrics=setup.metrics, dashboard=dashboard, chaos_token=chaos_token)
        setup.start()  # health checks and the replication drainer
        yield Service(app, setup.storage, setup)
    finally:
        setup.close()


@contextmanager
def local_service(
    *, journal: Path, chaos_token: str | None = None, writes: str = "all"
) -> Iterator[tuple[Service, LocalClouds]]:
    """moto, Azurite and fake-gcs-server started, a bucket on each, and the service over
    them; everything stopped on leaving.  The clouds keep their objects in memory."""
    with LocalClouds() as clouds, tempfile.TemporaryDirectory(prefix="object-service-") as folder:
        config = clouds.write_config(Path(folder) / "failover.toml", writes=writes, journal=journal)
        with configured_service(config, journal=journal, chaos_token=chaos_token, probes=LOCAL_PROBES) as service:
            yield service, clouds


__all__ = [
    "DEFAULT_JOURNAL",
    "Service",
    "configured_service",
    "load_setup",
    "local_service",
    "read_tables",
    "service_tables",
]
