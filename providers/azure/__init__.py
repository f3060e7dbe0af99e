"""Azure adapters (azure-storage-blob, azure-identity).  Needs the ``azure`` extra:
``pip install multicloud-failover[azure]``."""

from __future__ import annotations

try:
    import azure.storage.blob  # noqa: F401  (imported to fail early with a helpful message)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "failover.providers.azure needs azure-storage-blob, which is not installed: "
        "pip install multicloud-failover[azure]"
    ) from exc

from failover.providers.azure._client import map_errors
from failover.providers.azure.blob import BlobStore
from failover.providers.azure.compute import AzureCompute
from failover.providers.azure.dns import AzureDnsZone

__all__ = ["AzureCompute", "AzureDnsZone", "BlobStore", "map_errors"]
