"""Azure adapters, each with its own extra: `BlobStore` (``azure-blob``), `AzureDnsZone`
(``azure-dns``) and `AzureCompute` (``azure-compute``); ``azure`` installs all three.
`AsyncBlobStore` (``azure-blob-aio``) is the async Blob adapter, for `failover.aio`.

Names load on first use: ``from failover.providers.azure import BlobStore`` imports
azure-storage-blob and not the compute or DNS management SDKs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from failover.lazy import lazy_exports

if TYPE_CHECKING:
    from failover.providers.azure._client import map_errors
    from failover.providers.azure.blob import BlobStore
    from failover.providers.azure.blob_aio import AsyncBlobStore
    from failover.providers.azure.compute import AzureCompute
    from failover.providers.azure.dns import AzureDnsZone

__all__ = ["AsyncBlobStore", "AzureCompute", "AzureDnsZone", "BlobStore", "map_errors"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "_client": ("map_errors",),
        "blob": ("BlobStore",),
        "blob_aio": ("AsyncBlobStore",),
        "compute": ("AzureCompute",),
        "dns": ("AzureDnsZone",),
    },
)
