"""Providers by name, loaded only when asked for: ``"s3"`` -> ``failover.providers.aws:S3Store``.

The engine never imports an adapter: a facade takes provider objects, built by the
application.  What builds them from a name (the command line, configuration files)
asks a `Registry`, which imports the adapter's module on first use, so
``import failover`` loads no cloud SDK and a storage user never loads compute SDKs::

    registry = Registry()
    S3Store = registry.load("s3")
    registry.register("my-store", "my_package.stores:MyStore")  # the application's own

A missing SDK is a `ConfigError` naming the provider and the extra to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from failover.errors import ConfigError

BUILTIN: Mapping[str, str] = MappingProxyType(
    {
        "s3": "failover.providers.aws.s3:S3Store",
        "route53": "failover.providers.aws.route53:Route53Zone",
        "ec2": "failover.providers.aws.ec2:EC2Compute",
        "azure_blob": "failover.providers.azure.blob:BlobStore",
        "azure_dns": "failover.providers.azure.dns:AzureDnsZone",
        "azure_compute": "failover.providers.azure.compute:AzureCompute",
        "gcs": "failover.providers.gcp.gcs:GCSStore",
        "cloud_dns": "failover.providers.gcp.dns:CloudDnsZone",
        "gce": "failover.providers.gcp.compute:GceCompute",
        "rfc2136": "failover.providers.dns.rfc2136:Rfc2136Zone",
        "memory": "failover.providers.memory.storage:MemoryObjectStore",
        "memory_dns": "failover.providers.memory.dns:MemoryDnsZone",
        "memory_compute": "failover.providers.memory.compute:MemoryCompute",
        "chaos": "failover.providers.chaos.provider:ChaosProvider",
        # Async object stores, for failover.aio.FailoverStorage (built in code, not from files).
        "s3_aio": "failover.providers.aws.s3_aio:AsyncS3Store",
        "azure_blob_aio": "failover.providers.azure.blob_aio:AsyncBlobStore",
        "gcs_aio": "failover.providers.gcp.gcs_aio:AsyncGCSStore",
        "memory_aio": "failover.providers.memory.aio:AsyncMemoryObjectStore",
    }
)


class Registry:
    """Names of providers and where their classes live; each instance starts from `BUILTIN`."""

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        self._paths = dict(BUILTIN)
        for name, path in (extra or {}).items():
            self.register(name, path)

    def register(self, name: str, path: str) -> None:
        """Add (or replace) ``name``: ``path`` is ``"package.module:Attribute"``."""
        if not isinstance(name, str) or not name:
            raise ConfigError(f"provider name must be a non-empty string, not {name!r}")
        _split(name, path)
        self._paths[name] = path

    def path(self, name: str) -> str:
        try:
            return self._paths[name]
        except KeyError:
            known = ", ".join(sorted(self._paths))
            raise ConfigError(f"unknown provider {name!r}; known providers: {known}") from None

    def load(self, name: str) -> Any:
        """The class (or factory) registered as ``name``, importing its module now."""
        module_name, attribute = _split(name, self.path(name))
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"provider {name!r} cannot be loaded: {exc}") from exc
        try:
            return getattr(module, attribute)
        except AttributeError:
            raise ConfigError(f"provider {name!r}: {module_name} has no {attribute!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._paths))

    def __contains__(self, name: object) -> bool:
        return name in self._paths

    def __repr__(self) -> str:
        return f"<Registry of {len(self._paths)} providers>"


def _split(name: str, path: object) -> tuple[str, str]:
    if not isinstance(path, str) or path.count(":") != 1 or not all(path.split(":")):
        raise ConfigError(f"provider {name!r}: path must look like 'package.module:Class', not {path!r}")
    module_name, attribute = path.split(":")
    return module_name, attribute


__all__ = ["BUILTIN", "Registry"]
