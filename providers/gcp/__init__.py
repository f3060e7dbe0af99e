"""Google Cloud adapters, each with its own extra: `GCSStore` (``gcs``), `CloudDnsZone`
(``cloud-dns``) and `GceCompute` (``gce``); ``gcp`` installs all three.
`AsyncGCSStore` (``gcs-aio``, gcloud-aio-storage) is the async GCS adapter, for `failover.aio`.

Names load on first use: ``from failover.providers.gcp import GCSStore`` imports
google-cloud-storage and not the compute or DNS SDKs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from failover.lazy import lazy_exports

if TYPE_CHECKING:
    from failover.providers.gcp._client import emulator_client, map_errors
    from failover.providers.gcp.compute import GceCompute
    from failover.providers.gcp.dns import CloudDnsZone
    from failover.providers.gcp.gcs import GCSStore
    from failover.providers.gcp.gcs_aio import AsyncGCSStore

__all__ = ["AsyncGCSStore", "CloudDnsZone", "GCSStore", "GceCompute", "emulator_client", "map_errors"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "_client": ("emulator_client", "map_errors"),
        "compute": ("GceCompute",),
        "dns": ("CloudDnsZone",),
        "gcs": ("GCSStore",),
        "gcs_aio": ("AsyncGCSStore",),
    },
)
