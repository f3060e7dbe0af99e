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

Secrets are named by environment variable only, so a config file can be committed
and shown without leaking a key.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from failover.dns_failover import DnsFailover, Endpoint
from failover.errors import ConfigError
from failover.health import HealthConfig
from failover.leader import FileLeaderLock, LeaderLock
from failover.probes import HttpProbe, Probe, TcpProbe
from failover.target import Target

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordConfig(_Strict):
    name: str
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

    def probe(self) -> Probe:
        if self.http is not None:
            return HttpProbe(self.http)
        host, _, port = (self.tcp or "").rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"endpoint {self.value}: tcp must be HOST:PORT, got {self.tcp!r}")
        return TcpProbe(host.strip("[]"), int(port))


class ProviderConfig(_Strict):
    name: str
    kind: Literal["route53", "rfc2136", "memory"]
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

    def build(self, environ: Mapping[str, str]) -> Target:
        return Target(self.name, self._provider(environ))

    def _provider(self, environ: Mapping[str, str]) -> Any:
        if self.kind == "route53":
            from providers.aws.route53 import Route53Zone

            return Route53Zone(
                self.zone, hosted_zone_id=self.hosted_zone_id, endpoint_url=self.endpoint_url, region=self.region
            )
        if self.kind == "rfc2136":
            from providers.dns.rfc2136 import Rfc2136Zone

            if not (self.server and self.tsig_key_name and self.tsig_secret_env):
                raise ConfigError(f"provider {self.name}: rfc2136 needs server, tsig_key_name and tsig_secret_env")
            secret = environ.get(self.tsig_secret_env)
            if not secret:
                raise ConfigError(f"provider {self.name}: environment variable {self.tsig_secret_env} is not set")
            return Rfc2136Zone(
                self.zone,
                server=self.server,
                port=self.port,
                tsig_key_name=self.tsig_key_name,
                tsig_secret=secret,
                tsig_algorithm=self.tsig_algorithm,
            )
        from providers.memory import MemoryDnsZone

        return MemoryDnsZone(self.zone)


class ControllerConfig(_Strict):
    record: RecordConfig
    health: HealthSection = Field(default_factory=HealthSection)
    endpoints: list[EndpointConfig] = Field(min_length=1)
    providers: list[ProviderConfig] = Field(min_length=1)
    lock: str | None = None

    def _lock(self) -> LeaderLock | None:
        return _leader_lock(self.lock, self.record.name) if self.lock else None

    def build(self, environ: Mapping[str, str] | None = None, **overrides: Any) -> DnsFailover:
        env = os.environ if environ is None else environ
        health = HealthConfig(rise=self.health.rise, fall=self.health.fall)
        return DnsFailover(
            self.record.name,
            self.record.type,
            [Endpoint(e.value, e.probe(), e.priority) for e in self.endpoints],
            [p.build(env) for p in self.providers],
            mode=self.record.mode,
            ttl=self.record.ttl,
            min_ttl=self.record.min_ttl,
            failback_after=self.record.failback_after,
            interval=self.health.interval,
            timeout=self.health.timeout,
            jitter=self.health.jitter,
            health=health,
            lock=self._lock(),
            **overrides,
        )


def _leader_lock(spec: str, record: str) -> LeaderLock:
    """``redis://host:port/db`` for a fleet of controllers, else a file path for one machine."""
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from failover.redis_store import RedisLeaderLock, connect

        return RedisLeaderLock(connect(spec), f"dns-controller:{record}")
    return FileLeaderLock(spec)


def load(path: str | os.PathLike[str]) -> ControllerConfig:
    """Read and validate a controller config; every problem is a `ConfigError` naming the file."""
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from exc
    try:
        return ControllerConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{file}: {problems}") from None
