"""A write delayed on the network lands after a newer one: no replica ends up older.

Real S3 (moto), Azure Blob (Azurite) and GCS (fake-gcs-server), with a loopback proxy
that delays every byte sent to Azurite.  The first write's Azure attempt is abandoned
under ``enforce_timeouts`` but still on its way; the second write is acknowledged
everywhere; then the first one lands on Azure.  The replica must end at the newest
acknowledged version, checked with Azure's own SDK, with `pending()` empty.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from failover import BreakerConfig, ExecutionConfig, FailoverStorage, Target, replication
from failover.errors import FailoverError
from failover.testing.proxy import TcpProxy
from tests.integration import servers
from tests.integration.servers import LocalServer

AZURE = "azure:westeurope"


def _wait(condition: Any, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {limit}s"
        time.sleep(0.05)


def test_a_delayed_replica_never_ends_older_than_the_newest_acknowledged_write(
    tmp_path: Path, s3_store: Any, azurite: LocalServer, blob_container: str, blob_raw: Any, gcs_store: Any
) -> None:
    from failover.providers.azure import BlobStore

    with TcpProxy(azurite.port) as proxy:
        proxied = servers.azurite_connection_string(azurite).replace(azurite.endpoint, proxy.endpoint)
        blob = BlobStore(container=blob_container, connection_string=proxied)
        store = FailoverStorage(
            [Target("aws:us-east-1", s3_store, priority=0), Target(AZURE, blob, priority=1),
             Target("gcp:europe-west1", gcs_store, priority=2)],
            writes=replication.All(
                journal=str(tmp_path / "journal.sqlite"), restore_check=None, unconfirmed_grace=4.0
            ),
            execution=ExecutionConfig(attempt_timeout=1.0, deadline=5.0, enforce_timeouts=True),
            breaker=BreakerConfig(consecutive_failures=100),
        )
        try:
            proxy.delay(2.5)
            with contextlib.suppress(FailoverError):  # All() wanted Azure too: not acknowledged
                store.put("k", b"v1")
            proxy.pass_through()
            store.put("k", b"v2")  # acknowledged by all three
            # v1 may still land on Azure (on the wire, or queued in the server after the
            # client gave up): Azure is not crossed off for v2 yet.
            assert store.pending() == {AZURE: 1}
            replication_ = store.replication
            assert replication_ is not None
            _wait(lambda: not replication_.inflight.busy(AZURE, "k"), 15.0, "the delayed write's grace passed")
            for _ in range(20):
                if not store.repair().remaining:
                    break
            assert store.pending() == {}
            azure_bytes = blob_raw.get_blob_client(blob_container, "k").download_blob().readall()
            assert azure_bytes == b"v2", "the delayed v1 rolled the Azure replica back"
            assert s3_store.get("k") == b"v2" and gcs_store.get("k") == b"v2"
            assert store.get("k") == b"v2"
        finally:
            store.close()
