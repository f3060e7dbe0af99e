"""Google Cloud adapters (google-cloud-storage).  Needs the ``gcp`` extra:
``pip install multicloud-failover[gcp]``."""

from __future__ import annotations

try:
    import google.cloud.storage  # noqa: F401  (imported to fail early with a helpful message)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "failover.providers.gcp needs google-cloud-storage, which is not installed: "
        "pip install multicloud-failover[gcp]"
    ) from exc

from failover.providers.gcp._client import emulator_client, map_errors
from failover.providers.gcp.compute import GceCompute
from failover.providers.gcp.dns import CloudDnsZone
from failover.providers.gcp.gcs import GCSStore

__all__ = ["CloudDnsZone", "GCSStore", "GceCompute", "emulator_client", "map_errors"]
