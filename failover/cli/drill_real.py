"""The drill on real local servers: moto (S3), Azurite (Azure Blob), fake-gcs-server (GCS).

The drill starts each server itself (`failover.testing.servers`), puts a loopback
`TcpProxy` in front of it, and talks to the proxy with that cloud's adapter
(`S3Store`, `BlobStore`, `GCSStore`) wrapped in a `ChaosProvider`.  A scenario is then
what an operator would see: a SIGKILL of the server process (its state, in memory, is
gone: it comes back empty and its bucket is created again, as provisioning would), the
proxy accepting and never answering, the proxy answering 503 with ``Retry-After``, the
proxy delaying every chunk, or the chaos wrapper failing a share of the calls.  The
final check reads every key with each cloud's own SDK, straight to the server.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from failover.cli.drill_scenarios import PARTIAL_ERROR_RATE, Scenario
from failover.registry import Registry
from failover.testing.proxy import TcpProxy
from failover.testing.servers import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    LocalServer,
    azurite_server,
    fake_gcs_server,
    moto,
    raw_blob_service,
    raw_gcs_client,
    raw_s3_client,
)

if TYPE_CHECKING:
    from failover.cli.demo import DrillConfig

BUCKET = "failover-drill"
REAL_TARGETS: tuple[str, ...] = ("s3:moto", "azure:azurite", "gcs:fake-gcs")
KILLING = frozenset({"primary-killed", "two-down", "restored-empty"})


class RealEnvironment:
    """Three servers, three proxies, three adapters; `close` stops everything."""

    def __init__(self, config: DrillConfig) -> None:
        self.names = REAL_TARGETS
        self._config = config
        self.servers: list[LocalServer] = []
        self.proxies: list[TcpProxy] = []
        self._raw: list[Any] | None = None
        self.chaos: list[Any] = []
        self._revivals: list[threading.Thread] = []

    @classmethod
    def start(cls, config: DrillConfig) -> RealEnvironment:
        env = cls(config)
        try:
            env._start()
        except BaseException:
            env.close()
            raise
        return env

    def _start(self) -> None:
        # Each constructor raises ServerError naming what to install when its program is missing.
        for make, name in (
            (moto, "drill-moto"),
            (azurite_server, "drill-azurite"),
            (fake_gcs_server, "drill-fake-gcs"),
        ):
            self.servers.append(make(name))
        starters = [threading.Thread(target=s.start, name=f"start-{s.name}") for s in self.servers]
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()
        for server in self.servers:
            server.start()  # raises the ServerError a starter thread could not
            self._create_bucket(self.servers.index(server))
        self.proxies = [TcpProxy(server.port).start() for server in self.servers]
        chaos = Registry().load("chaos")
        self.chaos = [chaos(adapter, seed=self._config.seed + i) for i, adapter in enumerate(self._adapters())]

    def _adapters(self) -> list[Any]:
        import boto3

        from failover.providers.aws import S3Store
        from failover.providers.azure import BlobStore
        from failover.providers.gcp import GCSStore, emulator_client

        s3, blob, gcs = self.proxies
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        connection = (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={blob.endpoint}/{AZURITE_ACCOUNT};"
        )
        return [
            S3Store(BUCKET, region="us-east-1", endpoint_url=s3.endpoint, session=session),
            BlobStore(container=BUCKET, connection_string=connection),
            GCSStore(BUCKET, client=emulator_client(gcs.endpoint)),
        ]

    def providers(self) -> dict[str, Any]:
        return dict(zip(self.names, self.chaos, strict=True))

    def seed(self, dataset: dict[str, bytes]) -> None:
        s3, container, bucket = self._clients()
        for key, data in dataset.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=data)
            container.upload_blob(key, data, overwrite=True)
            bucket.blob(key).upload_from_string(data)

    # ------------------------------------------------------------ faults

    def inject(self, scenario: Scenario, target: int) -> None:
        proxy = self.proxies[target]
        if scenario.name in KILLING:
            self.servers[target].kill()
        elif scenario.name == "blackholed":
            proxy.blackhole()
        elif scenario.name == "throttled":
            proxy.http_503()
        elif scenario.name == "brownout":
            proxy.delay(self._config.brownout)
        elif scenario.name == "partial":
            self.chaos[target].configure(error_rate=PARTIAL_ERROR_RATE)

    def heal(self, scenario: Scenario, target: int) -> None:
        if scenario.name in KILLING:
            # Started on a thread: traffic goes on (to the others) while the server boots.
            thread = threading.Thread(target=self._revive, args=(target,), name=f"revive-{target}")
            self._revivals.append(thread)
            thread.start()
            return
        self.proxies[target].pass_through()
        self.chaos[target].heal()

    def _revive(self, target: int) -> None:
        self.servers[target].start()
        self._create_bucket(target)

    # ------------------------------------------------------------ each cloud's own SDK

    def _create_bucket(self, target: int) -> None:
        server = self.servers[target]
        if target == 0:
            raw_s3_client(server).create_bucket(Bucket=BUCKET)
        elif target == 1:
            raw_blob_service(server).create_container(BUCKET)
        else:
            raw_gcs_client(server).create_bucket(BUCKET)

    def copy_of(self, target: int, key: str) -> bytes | None:
        """The object as the cloud's own SDK reads it from the server (no proxy, no adapter)."""
        return _READERS[target](self._clients()[target], key)

    def _clients(self) -> list[Any]:
        # Built once, on first use: the final check reads thousands of keys.
        if self._raw is None:
            s3, blob, gcs = self.servers
            self._raw = [
                raw_s3_client(s3),
                raw_blob_service(blob).get_container_client(BUCKET),
                raw_gcs_client(gcs).bucket(BUCKET),
            ]
        return self._raw

    def close(self) -> None:
        for thread in self._revivals:
            thread.join(timeout=60)
        for proxy in self.proxies:
            proxy.stop()
        for server in self.servers:
            server.close()


def _read_s3(client: Any, key: str) -> bytes | None:
    try:
        return bytes(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    except client.exceptions.NoSuchKey:
        return None


def _read_blob(container: Any, key: str) -> bytes | None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return bytes(container.download_blob(key).readall())
    except ResourceNotFoundError:
        return None


def _read_gcs(bucket: Any, key: str) -> bytes | None:
    from google.api_core.exceptions import NotFound

    try:
        return bytes(bucket.blob(key).download_as_bytes())
    except NotFound:
        return None


_READERS = (_read_s3, _read_blob, _read_gcs)


__all__ = ["BUCKET", "KILLING", "REAL_TARGETS", "RealEnvironment"]
