"""`load` a set-up file into ready facades: ``with failover.config.load("failover.toml") as setup:``.

The file (docs/configuration.md) has one section per facade, ``[storage]``, ``[dns]``
and ``[compute]``, each with its ``[[SECTION.targets]]`` and the facade's settings.
Loading reads and validates the whole file first, then builds each provider through
`failover.registry.Registry` and each facade with the library's own config classes, so
an error those classes raise comes out naming the file and the table it came from.
Every problem is one `ConfigError`: ``it.toml: storage.targets[1].weight: must be >= 0,
got -3``.  Secrets are never in the file (a key that could hold one is refused), and
never in a message: an unset variable is named, a value never shown.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from failover.config._classes import CONFIG_CLASSES, build_policy, execution_config
from failover.config._toml import named, parse_toml, read_toml, reject_inline_secrets, validate
from failover.config.providers import Context, FacadeName, build_provider
from failover.config.schema import (
    FacadeSection,
    ReplicationSection,
    SetupConfig,
    StorageSection,
    TelemetrySection,
    set_fields,
)
from failover.errors import ConfigError
from failover.facades.base import Facade
from failover.facades.compute import FailoverCompute
from failover.facades.dns import FailoverDNS
from failover.facades.storage import FailoverStorage
from failover.registry import Registry
from failover.target import Target

if TYPE_CHECKING:
    from failover.clock import Clock
    from failover.events import Listener
    from failover.replication.modes import WriteMode

F = TypeVar("F", bound=Facade[Any])


@dataclass(frozen=True)
class Options:
    """What the file cannot say: the process's environment, the registry, a clock, listeners."""

    source: str
    base: Path  # relative paths in the file (the journal) are relative to this folder
    environ: Mapping[str, str]
    registry: Registry
    clock: Clock | None = None
    listeners: tuple[Listener, ...] = ()
    rng: random.Random | None = None
    telemetry: Telemetry | None = None


@dataclass(frozen=True)
class Telemetry:
    """The ``[telemetry]`` section, built: one metrics registry, one tracing instrument."""

    metrics: Any = None  # a prometheus_client CollectorRegistry
    tracing: Any = None  # an OpenTelemetryTracing

    def instruments(self, facade: FacadeName) -> list[Any]:
        found: list[Any] = []
        if self.metrics is not None:
            from failover.telemetry.metrics import PrometheusMetrics

            found.append(PrometheusMetrics(self.metrics, facade=facade))
        if self.tracing is not None:
            found.append(self.tracing)
        return found


class Setup:
    """The facades a file describes; ``None`` for a section it leaves out.

    `start` starts their background work (health checks, the replication drainer);
    `close` stops it and closes the journal.  As a context manager it does both.
    """

    def __init__(
        self,
        config: SetupConfig,
        *,
        source: str,
        storage: FailoverStorage | None = None,
        dns: FailoverDNS | None = None,
        compute: FailoverCompute | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.storage = storage
        self.dns = dns
        self.compute = compute
        # The registry every facade's metrics are on, with ``[telemetry] metrics = true``:
        # serve it with `failover.telemetry.exposition` (``asgi_app(setup.metrics)``).
        self.metrics: Any = None

    @property
    def facades(self) -> dict[str, Facade[Any]]:
        """The facades built, by section name."""
        found: dict[str, Facade[Any] | None] = {"storage": self.storage, "dns": self.dns, "compute": self.compute}
        return {name: facade for name, facade in found.items() if facade is not None}

    def start(self) -> Setup:
        for facade in self.facades.values():
            facade.start()
        return self

    def close(self) -> None:
        """Stop the facades' background work, then close what the file made for them: the
        repair journal and the fleet's breaker stores (their threads and connections).
        The facades are not to be used after this."""
        stores: dict[int, Any] = {}
        for facade in self.facades.values():
            facade.close()
            for executor in facade.pool.executors.values():
                for member in executor.router.members:
                    if member.breaker.store is not None:
                        stores[id(member.breaker.store)] = member.breaker.store
        for store in stores.values():
            close = getattr(store, "close", None)
            if callable(close):
                close()
        if self.storage is not None and self.storage.replication is not None:
            self.storage.replication.journal.close()

    def __enter__(self) -> Setup:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Setup({self.source}: {', '.join(self.facades) or 'nothing'})"


def load(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    registry: Registry | None = None,
    clock: Clock | None = None,
    listeners: Iterable[Listener] = (),
    rng: random.Random | None = None,
) -> Setup:
    """The facades the TOML file at ``path`` describes, built and not started.

    ``environ`` (default `os.environ`) is where credential variables are looked up;
    ``registry`` names the providers; ``clock``, ``listeners`` and ``rng`` go to every facade.
    """
    source, data = read_toml(path)
    base = Path(path).parent
    options = Options(source, base, _environ(environ), registry or Registry(), clock, tuple(listeners), rng)
    return build(read(data, source), options)


def parse(
    text: str,
    *,
    source: str = "<config>",
    base: str | os.PathLike[str] = ".",
    environ: Mapping[str, str] | None = None,
    registry: Registry | None = None,
    clock: Clock | None = None,
    listeners: Iterable[Listener] = (),
    rng: random.Random | None = None,
) -> Setup:
    """`load` for TOML text; ``source`` names it in errors, ``base`` is its folder."""
    options = Options(source, Path(base), _environ(environ), registry or Registry(), clock, tuple(listeners), rng)
    return build(read(parse_toml(text, source), source), options)


def read(data: Mapping[str, Any], source: str) -> SetupConfig:
    """The file's tables validated, nothing built: every problem in one `ConfigError`."""
    reject_inline_secrets(data, source)
    config: SetupConfig = validate(SetupConfig, data, source)
    return config


def build(config: SetupConfig, options: Options) -> Setup:
    """Each section's facade; if one cannot be built, those already built are closed."""
    setup = Setup(config, source=options.source)
    if config.telemetry is not None:
        options = dataclasses.replace(options, telemetry=_telemetry(config.telemetry, options.source))
        setup.metrics = options.telemetry.metrics if options.telemetry else None
    try:
        if config.storage is not None:
            setup.storage = _storage(config.storage, options)
        if config.dns is not None:
            setup.dns = _facade(FailoverDNS, "dns", config.dns, options)
        if config.compute is not None:
            setup.compute = _facade(FailoverCompute, "compute", config.compute, options)
    except BaseException:
        setup.close()
        raise
    return setup


def check(config: SetupConfig, options: Options) -> None:
    """Build every provider and settings object the file names, but no facade: nothing
    starts, no journal is opened, no cloud is called.  What `load` would refuse, this does."""
    sections: list[tuple[FacadeName, FacadeSection | None]] = [
        ("storage", config.storage),
        ("dns", config.dns),
        ("compute", config.compute),
    ]
    for facade, section in sections:
        if section is None:
            continue
        targets = _targets(facade, section, options)
        _facade_keywords(facade, section, options)
        replication = getattr(section, "replication", None)
        if replication is not None:
            mode = _write_mode(replication, len(targets), options, open_shared=False)
            named(f"{options.source}: {facade}.replication", lambda: mode.validate(len(targets)))  # noqa: B023


def _storage(section: StorageSection, options: Options) -> FailoverStorage:
    targets = _targets("storage", section, options)
    writes = None if section.replication is None else _write_mode(section.replication, len(targets), options)
    keywords = _facade_keywords("storage", section, options)
    check_lease = getattr(writes and writes.journal, "check_lease", None)
    if callable(check_lease):  # the Redis journal: its lease against the attempt timeout
        check_lease((keywords.get("execution") or execution_config()()).attempt_timeout)
    try:
        return named(f"{options.source}: storage", lambda: FailoverStorage(targets, writes=writes, **keywords))
    except BaseException:
        close = getattr(writes and writes.journal, "close", None)
        if callable(close):  # a Redis journal opened for a facade that could not be built
            close()
        raise


def _facade(cls: type[F], facade: FacadeName, section: FacadeSection, options: Options) -> F:
    targets = _targets(facade, section, options)
    keywords = _facade_keywords(facade, section, options)
    return named(f"{options.source}: {facade}", lambda: cls(targets, **keywords))


def _targets(facade: FacadeName, section: FacadeSection, options: Options) -> list[Target[Any]]:
    targets = []
    for index, entry in enumerate(section.targets):
        where = f"{options.source}: {facade}.targets[{index}]"
        context = Context(where, options.environ, options.registry)
        provider = named(where, lambda: build_provider(facade, entry, context))  # noqa: B023  # called at once
        targets.append(
            named(where, lambda: Target(entry.name, provider, priority=entry.priority, weight=entry.weight))  # noqa: B023
        )
    return targets


def _facade_keywords(facade: FacadeName, section: FacadeSection, options: Options) -> dict[str, Any]:
    """`Facade`'s keywords from the section; each config object is built under its table's name."""
    at = f"{options.source}: {facade}"
    keywords: dict[str, Any] = {"policy": named(f"{at}.policy", lambda: build_policy(section))}
    if section.failback_after is not None:
        keywords["failback_after"] = section.failback_after
    if section.breaker_per is not None:
        keywords["breaker_per"] = section.breaker_per
    for key, make in CONFIG_CLASSES.items():
        table = getattr(section, key)
        if table is not None:
            keywords[key] = named(f"{at}.{key}", lambda: make()(**set_fields(table)))  # noqa: B023  # called at once
    if section.fleet is not None:
        keywords["breaker_store"] = named(f"{at}.fleet", lambda: _breaker_store(facade, section, options))
    keywords.update(clock=options.clock, listeners=options.listeners, rng=options.rng)
    telemetry = options.telemetry
    if telemetry is not None:
        keywords["instruments"] = named(f"{options.source}: telemetry", lambda: telemetry.instruments(facade))
    return keywords


def _telemetry(section: TelemetrySection, source: str) -> Telemetry:
    """The registry and tracer the section asks for; a missing extra is named."""

    def build() -> Telemetry:
        metrics = tracing = None
        if section.metrics:
            try:
                from prometheus_client import CollectorRegistry
            except ImportError:
                import failover.telemetry.metrics  # noqa: F401  # raises the error naming the extra

                raise

            metrics = CollectorRegistry()
        if section.tracing:
            from failover.telemetry.tracing import OpenTelemetryTracing

            tracing = OpenTelemetryTracing(record_keys=section.record_keys)
        return Telemetry(metrics, tracing)

    return named(f"{source}: telemetry", build)


def _breaker_store(facade: FacadeName, section: FacadeSection, options: Options) -> Any:
    from failover.fleet.redis_client import connect
    from failover.fleet.redis_store import RedisBreakerStore

    fleet = section.fleet
    assert fleet is not None  # checked by the caller
    url = fleet.breaker_store
    if fleet.breaker_store_env is not None:
        url = options.environ.get(fleet.breaker_store_env)
        if not url:
            raise ConfigError(f"breaker_store_env: environment variable {fleet.breaker_store_env} is not set")
    prefix = fleet.prefix or f"failover:breaker:{facade}:"
    store = RedisBreakerStore(connect(url or ""), prefix=prefix, clock=options.clock)
    if fleet.sync_interval is not None:
        store.sync_interval = fleet.sync_interval
    return store


def _write_mode(section: ReplicationSection, targets: int, options: Options, *, open_shared: bool = True) -> WriteMode:
    from failover.replication.modes import All, Primary, Quorum

    at = f"{options.source}: storage.replication"
    if section.quorum is not None and section.quorum > targets:
        raise ConfigError(f"{at}.quorum: must be <= the number of targets ({targets}), got {section.quorum}")
    settings = {k: v for k, v in set_fields(section).items() if not k.startswith("journal")}
    settings.pop("mode")
    settings.pop("quorum", None)
    settings["journal"] = _journal(section, options, open_shared)
    if section.mode == "quorum":
        return named(at, lambda: Quorum(section.quorum or 0, **settings))
    return named(at, lambda: (Primary if section.mode == "primary" else All)(**settings))


# ``[storage.replication]`` key -> `RedisJournal` keyword.
_REDIS_JOURNAL = {
    "journal_prefix": "prefix",
    "journal_lease": "lease",
    "journal_wait_replicas": "wait_replicas",
    "journal_wait_timeout": "wait_timeout",
}


def _journal(section: ReplicationSection, options: Options, open_shared: bool) -> Any:
    """The SQLite file (relative to the file's folder), or the Redis journal a fleet shares.
    ``open_shared=False`` (checking a file) resolves the URL but connects to nothing."""
    at = f"{options.source}: storage.replication"
    url = section.journal_url
    if section.journal_url_env is not None:
        url = options.environ.get(section.journal_url_env)
        if not url:
            raise ConfigError(f"{at}.journal_url_env: environment variable {section.journal_url_env} is not set")
    if url is None or not open_shared:  # checking a file: the default path stands in, unopened
        return options.base / section.journal
    from failover.fleet.redis_journal import RedisJournal

    keywords = {_REDIS_JOURNAL[k]: v for k, v in set_fields(section).items() if k in _REDIS_JOURNAL}
    return named(at, lambda: RedisJournal.from_url(url, clock=options.clock, **keywords))


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


__all__ = ["Options", "Setup", "Telemetry", "build", "check", "load", "parse", "read"]
