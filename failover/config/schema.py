"""The set-up file's tables as pydantic models (``extra="forbid"``: an unknown key is an error).

`SetupConfig` is the whole file: one optional section per facade (``[storage]``, ``[dns]``,
``[compute]``).  A new top-level section (``[telemetry]``, say) is one more field of
`SetupConfig` and one step in `failover.config.setup`; nothing else changes.

The sections hold only what the file says: a key left out keeps the library's own
default (`BreakerConfig`, `HealthConfig`, `ExecutionConfig`...), so the defaults live in
one place.  ``false`` switches off a setting the library lets be ``None``
(``failure_rate = false``, ``attempt_timeout = false``), since TOML has no null.
docs/configuration.md describes every key.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from failover.config._toml import shown
from failover.replication.modes import DEFAULT_JOURNAL

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- value types


def _kind_of_number(value: Any, whole: bool) -> None:
    # pydantic would take true as 1; a switch given where a number belongs is a mistake.
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        raise ValueError(f"must be {'a whole number' if whole else 'a number'}, got {shown(value)}")


def _off(value: Any) -> Any:
    """``false`` -> None (the setting is off); ``true`` means nothing here."""
    if value is True:
        raise ValueError("must be a number, or false to switch it off, got true")
    return None if value is False else value


def _in(
    low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = False, whole: bool = False
) -> BeforeValidator:
    """A number within bounds, checked on the value as written, with a message that shows the
    whole range and that value (``must be in (0, 1], got 3``)."""
    if high is not None:
        text = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    else:
        text = f"{'>' if low_open else '>='} {low:g}"

    def check(value: Any) -> Any:
        _kind_of_number(value, whole)
        above = value > low if low_open else value >= low
        below = high is None or (value < high if high_open else value <= high)
        if not (above and below):
            raise ValueError(f"must be {text}, got {shown(value)}")
        return value

    return BeforeValidator(check)


Seconds = Annotated[float, _in(0, low_open=True)]
NonNegative = Annotated[float, _in(0)]
Fraction = Annotated[float, _in(0, 1, low_open=True)]
Share = Annotated[float, _in(0, 1)]
Jitter = Annotated[float, _in(0, 1, high_open=True)]
AtLeastOne = Annotated[int, _in(1, whole=True)]
Count = Annotated[int, _in(0, whole=True)]
SecondsOrOff = Annotated[Seconds | None, BeforeValidator(_off)]


def _whole(value: Any) -> Any:
    _kind_of_number(value, whole=True)
    return value


Whole = Annotated[int, BeforeValidator(_whole)]


def _env_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError(f"must be the name of an environment variable (letters, digits, _), got {shown(value)}")
    return value


EnvName = Annotated[str | None, AfterValidator(_env_name)]


# ---------------------------------------------------------------- targets

CredentialKind = Literal[
    "default", "anonymous", "aws_profile", "aws_keys", "azure_key", "azure_sas", "connection_string"
]

# Per kind: the keys it needs, and those it may take besides.
_CREDENTIAL_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "default": (frozenset(), frozenset()),
    "anonymous": (frozenset(), frozenset()),
    "aws_profile": (frozenset({"profile"}), frozenset()),
    "aws_keys": (frozenset({"access_key_id_env", "secret_access_key_env"}), frozenset({"session_token_env"})),
    "azure_key": (frozenset({"account_key_env"}), frozenset()),
    "azure_sas": (frozenset({"sas_token_env"}), frozenset()),
    "connection_string": (frozenset({"connection_string_env"}), frozenset()),
}


class Credentials(_Strict):
    """How a target authenticates: by reference only (a profile, environment variables)."""

    kind: CredentialKind = "default"
    profile: str | None = Field(None, min_length=1)
    access_key_id_env: EnvName = None
    secret_access_key_env: EnvName = None
    session_token_env: EnvName = None
    account_key_env: EnvName = None
    sas_token_env: EnvName = None
    connection_string_env: EnvName = None

    @model_validator(mode="after")
    def _keys_of_kind(self) -> Credentials:
        needed, optional = _CREDENTIAL_KEYS[self.kind]
        given = self.model_fields_set - {"kind"}
        missing = sorted(needed - given)
        if missing:
            raise ValueError(f"kind {self.kind} needs {', '.join(missing)}")
        foreign = sorted(given - needed - optional)
        if foreign:
            raise ValueError(f"kind {self.kind} does not take {', '.join(foreign)}")
        return self


class TargetSection(_Strict):
    """One ``[[SECTION.targets]]`` entry; which location keys a provider needs is checked
    when it is built (`failover.config.providers`)."""

    name: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    priority: Whole = 0
    weight: NonNegative = 1.0
    region: str | None = Field(None, min_length=1)
    bucket: str | None = Field(None, min_length=1)
    container: str | None = Field(None, min_length=1)
    account: str | None = Field(None, min_length=1)
    zone: str | None = Field(None, min_length=1)
    project: str | None = Field(None, min_length=1)
    endpoint: str | None = Field(None, pattern=r"^https?://[^\s/]+")
    credentials: Credentials = Field(default_factory=Credentials)

    @field_validator("endpoint")
    @classmethod
    def _no_userinfo(cls, endpoint: str | None) -> str | None:
        if endpoint is not None and "@" in endpoint.partition("://")[2].partition("/")[0]:
            raise ValueError("must not carry credentials (user:password@); use credentials = { kind = ... }")
        return endpoint


# ---------------------------------------------------------------- facade settings


def _policy_shorthand(value: Any) -> Any:
    return {"kind": value} if isinstance(value, str) else value


class PolicySection(_Strict):
    kind: Literal["priority", "weighted", "lowest_latency"] = "priority"
    tolerance: Annotated[float, _in(0, 10, high_open=True)] | None = None
    refresh_every: Seconds | None = None

    @model_validator(mode="after")
    def _parameters_of_kind(self) -> PolicySection:
        extra = sorted(self.model_fields_set - {"kind"})
        if extra and self.kind != "lowest_latency":
            raise ValueError(f"policy {self.kind} takes no parameters, got {', '.join(extra)}")
        return self


class BreakerSection(_Strict):
    """`failover.breaker.circuit.BreakerConfig`'s fields; the cross-field rules are its own."""

    consecutive_failures: Count | None = None
    failure_rate: Annotated[Fraction | None, BeforeValidator(_off)] = None
    slow_call_duration: SecondsOrOff = None
    slow_call_rate: Fraction | None = None
    window: Literal["count", "time"] | None = None
    window_size: AtLeastOne | None = None
    minimum_calls: AtLeastOne | None = None
    half_open_permits: AtLeastOne | None = None
    half_open_successes: AtLeastOne | None = None
    permit_timeout: Seconds | None = None
    open_base: Seconds | None = None
    open_multiplier: Annotated[float, _in(1)] | None = None
    open_max: Seconds | None = None
    jitter: Jitter | None = None


class HealthSection(_Strict):
    """`failover.health.target_health.HealthConfig`: passive health from the calls."""

    rise: AtLeastOne | None = None
    fall: AtLeastOne | None = None
    latency_alpha: Fraction | None = None
    error_alpha: Fraction | None = None
    status_window: Seconds | None = None


class ProbeSection(_Strict):
    """`failover.execution.pool.ProbeConfig`: active probes; the table switches them on."""

    interval: Seconds | None = None
    timeout: Seconds | None = None
    jitter: Jitter | None = None


class ExecutionSection(_Strict):
    """`failover.execution.executor.ExecutionConfig`'s scalar fields."""

    attempt_timeout: SecondsOrOff = None
    deadline: SecondsOrOff = None
    max_attempts: AtLeastOne | None = None
    retry_ratio: Share | None = None
    retry_floor_per_second: NonNegative | None = None
    retry_burst: Annotated[float, _in(1)] | None = None
    hedge_after: SecondsOrOff = None
    enforce_timeouts: bool | None = Field(None, strict=True)


class ReplicationSection(_Strict):
    """`failover.replication.modes`: ``primary``, ``all`` or ``quorum`` (with ``quorum = w``)."""

    mode: Literal["primary", "all", "quorum"]
    quorum: AtLeastOne | None = None
    journal: str = Field(DEFAULT_JOURNAL, min_length=1)  # relative to the file's folder
    sync: Literal["full", "normal"] | None = None
    read_repair: bool | None = Field(None, strict=True)
    drain_interval: Seconds | None = None
    restore_check: SecondsOrOff = None
    anti_entropy: SecondsOrOff = None
    inline_limit: int | None = Field(None, ge=0, strict=True)
    repair_workers: AtLeastOne | None = None
    pass_budget: Seconds | None = None
    unconfirmed_grace: float | None = Field(None, ge=0)
    writer_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_]{1,64}$")
    # The journal a fleet shares, on Redis (failover.fleet.redis_journal) instead of the file.
    journal_url: str | None = Field(None, pattern=r"^(redis|rediss|unix)://")
    journal_url_env: EnvName = None
    journal_prefix: str | None = Field(None, min_length=1)
    journal_lease: Seconds | None = None
    journal_wait_replicas: Count | None = None
    journal_wait_timeout: Seconds | None = None

    @field_validator("journal_url")
    @classmethod
    def _no_journal_password(cls, url: str | None) -> str | None:
        return _no_password(url, "journal_url_env")

    @model_validator(mode="after")
    def _quorum_with_its_mode(self) -> ReplicationSection:
        if self.mode == "quorum" and self.quorum is None:
            raise ValueError("mode quorum needs quorum = W (how many targets acknowledge a write)")
        if self.mode != "quorum" and self.quorum is not None:
            raise ValueError(f"quorum is only for mode quorum, not {self.mode}")
        return self

    @model_validator(mode="after")
    def _one_journal(self) -> ReplicationSection:
        if self.journal_url is not None and self.journal_url_env is not None:
            raise ValueError("give at most one of journal_url or journal_url_env")
        shared = self.journal_url is not None or self.journal_url_env is not None
        redis_only = sorted(k for k in _REDIS_JOURNAL_KEYS if k in self.model_fields_set)
        if shared and ({"journal", "sync"} & self.model_fields_set):
            raise ValueError("journal and sync are for the SQLite file; with journal_url(_env) the journal is in Redis")
        if redis_only and not shared:
            raise ValueError(f"{', '.join(redis_only)} need the Redis journal: give journal_url or journal_url_env")
        return self


_REDIS_JOURNAL_KEYS = ("journal_prefix", "journal_lease", "journal_wait_replicas", "journal_wait_timeout")


def _no_password(url: str | None, env_key: str) -> str | None:
    if url is not None and ":" in url.partition("://")[2].partition("@")[0] and "@" in url:
        raise ValueError(
            f"this URL holds a password, a secret: name an environment variable that holds the URL with {env_key}"
        )
    return url


class FleetSection(_Strict):
    """Breaker state shared by a fleet: a Redis URL, or the variable that holds one with a password."""

    breaker_store: str | None = Field(None, pattern=r"^(redis|rediss|unix)://")
    breaker_store_env: EnvName = None
    prefix: str | None = Field(None, min_length=1)
    sync_interval: Seconds | None = None  # how often a started facade adopts the fleet's states (1 s)

    @field_validator("breaker_store")
    @classmethod
    def _no_password(cls, url: str | None) -> str | None:
        return _no_password(url, "breaker_store_env")

    @model_validator(mode="after")
    def _one_store(self) -> FleetSection:
        if (self.breaker_store is None) == (self.breaker_store_env is None):
            raise ValueError("give exactly one of breaker_store or breaker_store_env")
        return self


def _unique_names(targets: list[TargetSection]) -> list[TargetSection]:
    seen: set[str] = set()
    for index, target in enumerate(targets):
        if target.name in seen:
            raise ValueError(f"targets[{index}] repeats the name {target.name!r}; each target needs its own")
        seen.add(target.name)
    return targets


class FacadeSection(_Strict):
    """The keys every facade takes (`failover.facades.base.Facade`)."""

    targets: Annotated[list[TargetSection], Field(min_length=1), AfterValidator(_unique_names)]
    policy: Annotated[PolicySection, BeforeValidator(_policy_shorthand)] = Field(default_factory=PolicySection)
    failback_after: NonNegative | None = None
    breaker: BreakerSection | None = None
    breaker_per: Literal["target", "operation_class"] | None = None
    health: HealthSection | None = None
    health_checks: ProbeSection | None = None
    execution: ExecutionSection | None = None
    fleet: FleetSection | None = None


class StorageSection(FacadeSection):
    """``[storage]``: a facade, plus how writes are replicated."""

    replication: ReplicationSection | None = None


class TelemetrySection(_Strict):
    """Instruments on every facade: Prometheus metrics on one registry (``Setup.metrics``),
    OpenTelemetry traces with the process's tracer provider (``record_keys``: object keys
    in span attributes; off, since keys may be personal data)."""

    metrics: bool = Field(False, strict=True)
    tracing: bool = Field(False, strict=True)
    record_keys: bool = Field(False, strict=True)


class SetupConfig(_Strict):
    """The whole file.  A section added here is built in `failover.config.setup`."""

    storage: StorageSection | None = None
    dns: FacadeSection | None = None
    compute: FacadeSection | None = None
    telemetry: TelemetrySection | None = None

    @model_validator(mode="after")
    def _something(self) -> SetupConfig:
        if self.storage is None and self.dns is None and self.compute is None:
            raise ValueError("nothing configured: add a [storage], [dns] or [compute] section")
        return self


def set_fields(section: BaseModel) -> dict[str, Any]:
    """The keys the file gave, as keyword arguments for the library's own config class."""
    return section.model_dump(exclude_unset=True)


__all__ = [
    "BreakerSection",
    "CredentialKind",
    "Credentials",
    "ExecutionSection",
    "FacadeSection",
    "FleetSection",
    "HealthSection",
    "PolicySection",
    "ProbeSection",
    "ReplicationSection",
    "SetupConfig",
    "StorageSection",
    "TargetSection",
    "TelemetrySection",
    "set_fields",
]
