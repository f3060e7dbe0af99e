"""From a ``[[SECTION.targets]]`` entry to a provider object, through `failover.registry`.

Each provider the file can name has a `ProviderSpec`: the facade it serves, the location
keys it needs and may take, the credential kinds it understands, and a function that
builds it.  The adapter's class comes from the `Registry` (so nothing here imports an
adapter until a file names one), and an SDK needed for credentials (a boto3 session, an
anonymous Google client) is imported inside the function that uses it.  Building makes
clients; it calls no cloud.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from failover.config.schema import Credentials, TargetSection
from failover.errors import ConfigError
from failover.registry import Registry

FacadeName = Literal["storage", "dns", "compute"]
LOCATION_KEYS = frozenset({"region", "bucket", "container", "account", "zone", "project", "endpoint"})
AWS_CREDENTIALS = frozenset({"default", "aws_profile", "aws_keys"})


@dataclass(frozen=True)
class Context:
    """What a build needs besides the target: where it is in the file, the environment, the registry."""

    where: str  # "it.toml: storage.targets[1]"
    environ: Mapping[str, str]
    registry: Registry

    def env(self, variable: str | None, key: str) -> str:
        """The value of the variable ``credentials.KEY`` names; unset is a `ConfigError` naming it."""
        value = self.environ.get(variable or "")
        if not value:
            raise ConfigError(f"{self.where}.credentials.{key}: environment variable {variable} is not set")
        return value


Builder = Callable[[TargetSection, Context], Any]


@dataclass(frozen=True)
class ProviderSpec:
    facade: FacadeName
    needs: frozenset[str]
    takes: frozenset[str]
    credentials: frozenset[str]
    build: Builder


# ---------------------------------------------------------------- AWS


def _aws_session(target: TargetSection, context: Context) -> Any:
    """None for the default chain (the adapter makes its own session), else a boto3 session."""
    credentials = target.credentials
    if credentials.kind == "default":
        return None
    import boto3
    import botocore.exceptions

    if credentials.kind == "aws_profile":
        try:
            return boto3.session.Session(profile_name=credentials.profile, region_name=target.region)
        except botocore.exceptions.ProfileNotFound:
            raise ConfigError(
                f"{context.where}.credentials.profile: no AWS profile named {credentials.profile!r} in this "
                "machine's AWS config"
            ) from None
    token = credentials.session_token_env
    return boto3.session.Session(
        aws_access_key_id=context.env(credentials.access_key_id_env, "access_key_id_env"),
        aws_secret_access_key=context.env(credentials.secret_access_key_env, "secret_access_key_env"),
        aws_session_token=context.env(token, "session_token_env") if token else None,
        region_name=target.region,
    )


def _s3(target: TargetSection, context: Context) -> Any:
    return context.registry.load("s3")(
        target.bucket, region=target.region, endpoint_url=target.endpoint, session=_aws_session(target, context)
    )


def _route53(target: TargetSection, context: Context) -> Any:
    return context.registry.load("route53")(
        target.zone, region=target.region, endpoint_url=target.endpoint, session=_aws_session(target, context)
    )


def _ec2(target: TargetSection, context: Context) -> Any:
    return context.registry.load("ec2")(
        target.region, endpoint_url=target.endpoint, session=_aws_session(target, context)
    )


# ---------------------------------------------------------------- Azure


def _azure_blob(target: TargetSection, context: Context) -> Any:
    store = context.registry.load("azure_blob")
    credentials = target.credentials
    if credentials.kind == "connection_string":
        if target.endpoint or target.account:
            raise ConfigError(
                f"{context.where}: the connection string names the account and its endpoint; "
                "leave out endpoint and account"
            )
        value = context.env(credentials.connection_string_env, "connection_string_env")
        return store(container=target.container, connection_string=value)
    url = target.endpoint or (f"https://{target.account}.blob.core.windows.net" if target.account else None)
    if url is None:
        raise ConfigError(f"{context.where}: provider azure_blob needs account (or endpoint)")
    credential: Any = None  # the adapter's default: DefaultAzureCredential
    if credentials.kind == "azure_key":
        if not target.account:
            raise ConfigError(f"{context.where}: credentials kind azure_key needs the target's account")
        credential = {
            "account_name": target.account,
            "account_key": context.env(credentials.account_key_env, "account_key_env"),
        }
    elif credentials.kind == "azure_sas":
        credential = context.env(credentials.sas_token_env, "sas_token_env")
    return store(url, container=target.container, credential=credential)


# ---------------------------------------------------------------- Google Cloud


def _gcs(target: TargetSection, context: Context) -> Any:
    store = context.registry.load("gcs")
    if target.credentials.kind == "default" and target.endpoint is None:
        return store(target.bucket, project=target.project)
    # An endpoint (an emulator) or anonymous access: the client is set up here, on the
    # client itself rather than through the process-wide STORAGE_EMULATOR_HOST.
    from google.cloud import storage

    options: dict[str, Any] = {"project": target.project}
    if target.credentials.kind == "anonymous":
        from google.auth.credentials import AnonymousCredentials

        options["credentials"] = AnonymousCredentials()  # type: ignore[no-untyped-call]
    if target.endpoint is not None:
        options["client_options"] = {"api_endpoint": target.endpoint}
    return store(target.bucket, client=storage.Client(**options))


def _gce(target: TargetSection, context: Context) -> Any:
    return context.registry.load("gce")(target.zone, project=target.project)


# ---------------------------------------------------------------- in memory


def _memory(target: TargetSection, context: Context) -> Any:
    return context.registry.load("memory")()


def _memory_dns(target: TargetSection, context: Context) -> Any:
    return context.registry.load("memory_dns")(target.zone)


def _memory_compute(target: TargetSection, context: Context) -> Any:
    region = [target.region] if target.region else []
    return context.registry.load("memory_compute")(*region)


def _spec(facade: FacadeName, needs: str, takes: str, credentials: frozenset[str], build: Builder) -> ProviderSpec:
    return ProviderSpec(facade, frozenset(needs.split()), frozenset(takes.split()), credentials, build)


NONE = frozenset({"default"})

PROVIDERS: Mapping[str, ProviderSpec] = MappingProxyType(
    {
        "s3": _spec("storage", "bucket", "region endpoint", AWS_CREDENTIALS, _s3),
        "azure_blob": _spec(
            "storage",
            "container",
            "account endpoint",
            frozenset({"default", "azure_key", "azure_sas", "connection_string"}),
            _azure_blob,
        ),
        "gcs": _spec("storage", "bucket", "project endpoint", frozenset({"default", "anonymous"}), _gcs),
        "memory": _spec("storage", "", "", NONE, _memory),
        "route53": _spec("dns", "zone", "region endpoint", AWS_CREDENTIALS, _route53),
        "memory_dns": _spec("dns", "zone", "", NONE, _memory_dns),
        "ec2": _spec("compute", "region", "endpoint", AWS_CREDENTIALS, _ec2),
        "gce": _spec("compute", "zone project", "", NONE, _gce),
        "memory_compute": _spec("compute", "", "region", NONE, _memory_compute),
    }
)


def build_provider(facade: FacadeName, target: TargetSection, context: Context) -> Any:
    """The provider ``target`` names, checked against what that provider takes."""
    spec = _spec_for(facade, target.provider, context)
    given = {key for key in LOCATION_KEYS if getattr(target, key) is not None}
    missing = sorted(spec.needs - given)
    if missing:
        raise ConfigError(f"{context.where}: provider {target.provider} needs {', '.join(missing)}")
    foreign = sorted(given - spec.needs - spec.takes)
    if foreign:
        raise ConfigError(f"{context.where}: provider {target.provider} does not take {', '.join(foreign)}")
    _check_credentials(target.provider, spec, target.credentials, context)
    return spec.build(target, context)


def _spec_for(facade: FacadeName, name: str, context: Context) -> ProviderSpec:
    spec = PROVIDERS.get(name)
    known = ", ".join(sorted(n for n, s in PROVIDERS.items() if s.facade == facade))
    if spec is None and name not in context.registry:
        raise ConfigError(f"{context.where}.provider: unknown provider {name!r}; {facade} providers: {known}")
    at = f"{context.where}.provider"
    if spec is None:
        raise ConfigError(f"{at}: {name!r} cannot be set up from a file; {facade} providers: {known}")
    if spec.facade != facade:
        raise ConfigError(f"{at}: {name!r} is a {spec.facade} provider; {facade} providers: {known}")
    return spec


def _check_credentials(name: str, spec: ProviderSpec, credentials: Credentials, context: Context) -> None:
    if credentials.kind not in spec.credentials:
        kinds = ", ".join(sorted(spec.credentials))
        raise ConfigError(
            f"{context.where}.credentials.kind: provider {name} does not take {credentials.kind}; it takes {kinds}"
        )


__all__ = [
    "AWS_CREDENTIALS",
    "LOCATION_KEYS",
    "PROVIDERS",
    "Builder",
    "Context",
    "FacadeName",
    "ProviderSpec",
    "build_provider",
]
