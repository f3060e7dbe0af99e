"""The `failover dns-controller` configuration file (TOML), validated with pydantic.

::

    lock = "/run/failover-dns.lock"    # one machine; "redis://host:6379/0" for a fleet (top level)

    [record]
    name = "api.example.com."
    type = "A"
    mode = "failover"          # or "multivalue"
    ttl = 60
    failback_after = 60

    [health]
    interval = 5
    timeout = 2
    rise = 2
    fall = 3

    [[endpoints]]
    value = "192.0.2.10"
    priority = 0
    http = "http://192.0.2.10/healthz"   # or tcp = "192.0.2.10:443"

    [[providers]]
    name = "route53:global"
    kind = "route53"
    zone = "example.com."

    [[providers]]
    name = "bind:primary"
    kind = "rfc2136"
    zone = "example.com."
    server = "192.0.2.53"
    tsig_key_name = "failover"
    tsig_secret_env = "FAILOVER_TSIG_SECRET"   # secrets come from the environment, never the file

    [[providers]]
    name = "azure:dns"
    kind = "azure_dns"                 # credentials: DefaultAzureCredential (environment, managed identity)
    zone = "example.com."
    subscription_id = "00000000-0000-0000-0000-000000000000"
    resource_group = "dns"

    [[providers]]
    name = "gcp:dns"
    kind = "cloud_dns"                 # credentials: Google application default credentials
    zone = "example.com."
    project = "my-project"
    managed_zone = "example-com"

``kind = "memory"`` is an in-process zone, for trying a config out.  Secrets are named
by environment variable only, so a config file can be committed and shown without
leaking a key.  `load` reports every problem as one `ConfigError` line that names the
file and the field (``providers[1].zone: ...``): bad TOML, text that is not UTF-8,
nesting too deep, an endpoint that is not an address of the record's type, a bad
port or zone name, a field another kind of provider takes, an empty ``lock``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from failover.config._toml import named, read_toml
from failover.controllers.dns_controller import DnsController, Endpoint
from failover.errors import ConfigError, InvalidInput
from failover.fleet.leader import FileLeaderLock, LeaderLock
from failover.health.probes import HttpProbe, Probe, TcpProbe
from failover.health.target_health import HealthConfig
from failover.registry import Registry
from failover.target import Target


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordConfig(_Strict):
    name: str = Field(min_length=2, pattern=r"\.$")
    type: Literal["A", "AAAA", "CNAME", "TXT"] = "A"
    mode: Literal["failover", "multivalue"] = "failover"
    ttl: int = Field(60, ge=0)
    min_ttl: int = Field(30, ge=0)
    failback_after: float = Field(60.0, ge=0)


class HealthSection(_Strict):
    interval: float = Field(5.0, gt=0)
    timeout: float = Field(2.0, gt=0)
    jitter: float = Field(0.1, ge=0, lt=1)
    rise: int = Field(2, ge=1)
    fall: int = Field(3, ge=1)


class EndpointConfig(_Strict):
    value: str
    priority: int = 0
    http: str | None = None
    tcp: str | None = None

    @model_validator(mode="after")
    def _one_probe(self) -> EndpointConfig:
        if (self.http is None) == (self.tcp is None):
            raise ValueError(f"endpoint {self.value}: give exactly one of http or tcp")
        return self

    @field_validator("http")
    @classmethod
    def _url(cls, http: str | None) -> str | None:
        if http is not None:
            try:
                HttpProbe(http)
            except ConfigError as exc:
                raise ValueError(exc.message) from None
        return http

    @field_validator("tcp")
    @classmethod
    def _host_port(cls, tcp: str | None) -> str | None:
        if tcp is not None:
            _split_host_port(tcp)
        return tcp

    def probe(self) -> Probe:
        if self.http is not None:
            return HttpProbe(self.http)
        return TcpProbe(*_split_host_port(self.tcp or ""))


def _split_host_port(tcp: str) -> tuple[str, int]:
    """``"host:443"`` or ``"[2001:db8::1]:443"``; ValueError (pydantic's way) if not."""
    host, _, port = tcp.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        ipaddress.IPv6Address(host)  # raises ValueError naming the address
    if not host or (":" in host and not tcp.startswith("[")):
        raise ValueError(f"must be HOST:PORT (IPv6 in brackets: [2001:db8::1]:443), not {tcp!r}")
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"port must be a number in 1..65535, not {port!r}")
    return host, int(port)


Kind = Literal["route53", "rfc2136", "azure_dns", "cloud_dns", "memory"]

# Per kind: the fields it needs, and those it may take besides (name, kind, zone: every kind).
_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "route53": (frozenset(), frozenset({"hosted_zone_id", "endpoint_url", "region"})),
    "rfc2136": (frozenset({"server", "tsig_key_name", "tsig_secret_env"}), frozenset({"port", "tsig_algorithm"})),
    "azure_dns": (frozenset({"subscription_id", "resource_group"}), frozenset()),
    "cloud_dns": (frozenset({"project", "managed_zone"}), frozenset()),
    "memory": (frozenset(), frozenset()),
}


class ProviderConfig(_Strict):
    name: str = Field(min_length=1)
    kind: Kind
    zone: str
    # route53
    hosted_zone_id: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    # rfc2136
    server: str | None = None
    port: int = Field(53, ge=1, le=65535)
    tsig_key_name: str | None = None
    tsig_secret_env: str | None = None
    tsig_algorithm: str = "hmac-sha256"
    # azure_dns
    subscription_id: str | None = None
    resource_group: str | None = None
    # cloud_dns
    project: str | None = None
    managed_zone: str | None = None

    @field_validator("zone")
    @classmethod
    def _zone_name(cls, zone: str) -> str:
        from failover.providers._dns_names import normalize_zone

        try:
            return normalize_zone(zone)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> ProviderConfig:
        needed, optional = _FIELDS[self.kind]
        given = self.model_fields_set - {"name", "kind", "zone"}
        missing = sorted(f for f in needed if not getattr(self, f))
        if missing:
            raise ValueError(f"provider {self.name}: kind {self.kind} needs {', '.join(missing)}")
        foreign = sorted(given - needed - optional)
        if foreign:
            raise ValueError(f"provider {self.name}: kind {self.kind} does not take {', '.join(foreign)}")
        return self

    def build(self, environ: Mapping[str, str]) -> Target:
        return Target(self.name, self._provider(environ))

    def _provider(self, environ: Mapping[str, str]) -> Any:
        if self.kind in ("azure_dns", "cloud_dns"):
            return self._cloud_zone()
        if self.kind == "route53":
            return Registry().load("route53")(
                self.zone, hosted_zone_id=self.hosted_zone_id, endpoint_url=self.endpoint_url, region=self.region
            )
        if self.kind == "rfc2136":
            secret_env = self.tsig_secret_env or ""
            secret = environ.get(secret_env)
            if not secret:
                raise ConfigError(f"environment variable {secret_env} is not set")
            return Registry().load("rfc2136")(
                self.zone,
                server=self.server or "",
                port=self.port,
                tsig_key_name=self.tsig_key_name or "",
                tsig_secret=secret,
                tsig_algorithm=self.tsig_algorithm,
            )
        return Registry().load("memory_dns")(self.zone)

    def _cloud_zone(self) -> Any:
        if self.kind == "azure_dns":
            return Registry().load("azure_dns")(
                self.zone, subscription_id=self.subscription_id or "", resource_group=self.resource_group or ""
            )
        return Registry().load("cloud_dns")(
            self.zone, managed_zone=self.managed_zone or "", project=self.project or ""
        )


class ControllerConfig(_Strict):
    record: RecordConfig
    health: HealthSection = Field(default_factory=HealthSection)
    endpoints: list[EndpointConfig] = Field(min_length=1)
    providers: list[ProviderConfig] = Field(min_length=1)
    lock: str | None = None

    @field_validator("lock")
    @classmethod
    def _lock_given(cls, lock: str | None) -> str | None:
        if lock is not None and not lock.strip():
            # An empty string must not quietly mean "no leader election".
            raise ValueError("must be a file path or a redis:// URL; leave lock out to run without a leader lock")
        return lock

    @model_validator(mode="after")
    def _values_fit(self) -> ControllerConfig:
        for i, endpoint in enumerate(self.endpoints):
            problem = _address_problem(self.record.type, endpoint.value)
            if problem:
                raise ValueError(f"endpoints[{i}].value: {problem}")
        name = self.record.name.lower()
        for i, provider in enumerate(self.providers):
            if name != provider.zone and not name.endswith("." + provider.zone):
                raise ValueError(f"providers[{i}].zone: record {self.record.name} is not in zone {provider.zone}")
        return self

    def _lock(self) -> LeaderLock | None:
        return None if self.lock is None else _leader_lock(self.lock, self.record.name)

    def build(self, environ: Mapping[str, str] | None = None, **overrides: Any) -> DnsController:
        """The controller; a provider that cannot be built is a `ConfigError` naming it."""
        env = os.environ if environ is None else environ
        health = HealthConfig(rise=self.health.rise, fall=self.health.fall)
        return DnsController(
            self.record.name,
            self.record.type,
            [Endpoint(e.value, named(f"endpoints[{i}]", e.probe), e.priority) for i, e in enumerate(self.endpoints)],
            [named(f"providers[{i}] ({p.name})", partial(p.build, env)) for i, p in enumerate(self.providers)],
            mode=self.record.mode,
            ttl=self.record.ttl,
            min_ttl=self.record.min_ttl,
            failback_after=self.record.failback_after,
            interval=self.health.interval,
            timeout=self.health.timeout,
            jitter=self.health.jitter,
            health=health,
            lock=named("lock", self._lock),
            **overrides,
        )


def _leader_lock(spec: str, record: str) -> LeaderLock:
    """``redis://host:port/db`` for a fleet of controllers, else a file path for one machine."""
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from failover.fleet.redis_client import connect
        from failover.fleet.redis_lock import RedisLeaderLock

        return RedisLeaderLock(connect(spec), f"dns-controller:{record}")
    return FileLeaderLock(spec)


def load(path: str | os.PathLike[str]) -> ControllerConfig:
    """Read and validate a controller config; every problem is one `ConfigError` line
    naming the file and, where there is one, the field."""
    file, data = read_toml(path)
    try:
        return ControllerConfig.model_validate(data)
    except RecursionError:
        raise ConfigError(f"{file}: tables or arrays nested too deeply") from None
    except ValidationError as exc:
        raise ConfigError(f"{file}: {'; '.join(_problem(e) for e in exc.errors())}") from None


def _problem(error: Any) -> str:
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _address_problem(type: str, value: str) -> str | None:
    """Why ``value`` cannot be an endpoint of a ``type`` record, or None."""
    if type not in ("A", "AAAA"):
        return None
    version, cls = (4, ipaddress.IPv4Address) if type == "A" else (6, ipaddress.IPv6Address)
    try:
        canonical = str(cls(value))
    except ValueError:
        return f"{value!r} is not an IPv{version} address (record type {type})"
    return None if canonical == value else f"write {value!r} as {canonical!r}, the form DNS providers return"


__all__ = ["ControllerConfig", "EndpointConfig", "HealthSection", "Kind", "ProviderConfig", "RecordConfig", "load"]
