"""Three local clouds in one call: moto (S3), Azurite (Azure Blob) and fake-gcs-server (GCS).

`LocalClouds` starts the three servers on free loopback ports (at once), creates one
bucket of the same name on each, and writes the `failover.config` file that points a
`FailoverStorage` at them, with credentials by reference as in production:

    with LocalClouds() as clouds:
        with failover.config.load(clouds.write_config("failover.toml")) as setup:
            setup.storage.put("hello.txt", b"hi")    # on all three clouds

The references are environment variables (the AWS keys moto accepts, the Azurite
connection string); `start()` sets them in ``os.environ``, with what the SDKs need to
reach loopback whatever the user's shell holds (`failover.testing.environment`), and
`stop()` puts back what was there before, because the configuration reads them when it
is loaded.  A server whose
program is missing raises `failover.testing.servers.ServerError` naming what to install.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from failover.errors import ConfigError
from failover.testing.environment import AWS_TEST_KEYS, LoopbackEnvironment
from failover.testing.servers import (
    LocalServer,
    azurite_connection_string,
    azurite_server,
    fake_gcs_server,
    moto,
    raw_blob_service,
    raw_gcs_client,
    raw_s3_client,
)

# The variables the written configuration names; moto takes any key pair (AWS_TEST_KEYS).
AWS_KEY_ID_ENV = "AWS_ACCESS_KEY_ID"
AWS_SECRET_ENV = "AWS_SECRET_ACCESS_KEY"
AZURITE_CONNECTION_ENV = "FAILOVER_AZURITE_CONNECTION"
WRITE_MODES = ("all", "quorum", "primary")

_TARGETS = """
[[storage.targets]]
name = "aws:us-east-1"
provider = "s3"
region = "us-east-1"
bucket = "{bucket}"
endpoint = "{s3}"
credentials = {{ kind = "aws_keys", access_key_id_env = "{key_env}", secret_access_key_env = "{secret_env}" }}

[[storage.targets]]
name = "azure:local"
provider = "azure_blob"
priority = 1
container = "{bucket}"
credentials = {{ kind = "connection_string", connection_string_env = "{azure_env}" }}

[[storage.targets]]
name = "gcp:local"
provider = "gcs"
priority = 2
bucket = "{bucket}"
endpoint = "{gcs}"
credentials = {{ kind = "anonymous" }}
"""


class LocalClouds:
    """``LocalClouds(bucket="assets")``: the three local cloud servers, each with ``bucket``."""

    def __init__(self, bucket: str = "assets") -> None:
        if not isinstance(bucket, str) or not bucket:
            raise ConfigError(f"bucket: must be a non-empty string, got {bucket!r}")
        self.bucket = bucket
        self.s3: LocalServer | None = None
        self.azure: LocalServer | None = None
        self.gcs: LocalServer | None = None
        self._environment = LoopbackEnvironment()

    def start(self) -> LocalClouds:
        """Start every server (a failed start stops the others), create the buckets, set the variables."""
        if self.servers:
            raise ConfigError("LocalClouds: already started; call stop() first")
        self._environment.apply()  # before the servers start: they inherit it
        try:
            self.s3 = moto("moto")
            self.azure = azurite_server("azurite")
            self.gcs = fake_gcs_server("fake-gcs")
            with ThreadPoolExecutor(max_workers=3) as pool:
                for started in [pool.submit(server.start) for server in self.servers]:
                    started.result()
            raw_s3_client(self.s3).create_bucket(Bucket=self.bucket)
            raw_blob_service(self.azure).create_container(self.bucket)
            raw_gcs_client(self.gcs).create_bucket(self.bucket)
        except BaseException:
            self.stop()
            raise
        self._environment.apply(self.environment())
        return self

    @property
    def servers(self) -> list[LocalServer]:
        return [server for server in (self.s3, self.azure, self.gcs) if server is not None]

    def environment(self) -> dict[str, str]:
        """The variables the configuration refers to, by name."""
        return {
            AWS_KEY_ID_ENV: AWS_TEST_KEYS[AWS_KEY_ID_ENV],
            AWS_SECRET_ENV: AWS_TEST_KEYS[AWS_SECRET_ENV],
            AZURITE_CONNECTION_ENV: azurite_connection_string(self._running(self.azure, "azure")),
        }

    def config_text(self, *, writes: str = "all", journal: str | Path = "failover-journal.sqlite") -> str:
        """A `failover.config` file for the three clouds, with replicated writes (``writes``)."""
        if writes not in WRITE_MODES:
            raise ConfigError(f"writes: must be one of {', '.join(WRITE_MODES)}, got {writes!r}")
        replication = f'mode = "{writes}"\n' + ("quorum = 2\n" if writes == "quorum" else "")
        head = (
            "[storage]\nfailback_after = 5\n\n"
            "[storage.execution]\nattempt_timeout = 2\ndeadline = 10\n\n"
            f"[storage.replication]\n{replication}journal = {json.dumps(str(journal))}\n"
        )
        return head + _TARGETS.format(
            bucket=self.bucket,
            s3=self._running(self.s3, "s3").endpoint,
            gcs=self._running(self.gcs, "gcs").endpoint,
            key_env=AWS_KEY_ID_ENV,
            secret_env=AWS_SECRET_ENV,
            azure_env=AZURITE_CONNECTION_ENV,
        )

    def write_config(
        self, path: str | Path, *, writes: str = "all", journal: str | Path = "failover-journal.sqlite"
    ) -> Path:
        """Write `config_text` to ``path`` and return the path."""
        written = Path(path)
        written.write_text(self.config_text(writes=writes, journal=journal))
        return written

    def stop(self) -> None:
        """Stop every server and put the environment back as it was; safe to call twice."""
        for server in self.servers:
            server.close()
        self.s3 = self.azure = self.gcs = None
        self._environment.restore()

    def __enter__(self) -> LocalClouds:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalClouds(bucket={self.bucket!r}, servers={self.servers!r})"

    @staticmethod
    def _running(server: LocalServer | None, which: str) -> LocalServer:
        if server is None:
            raise ConfigError(f"LocalClouds: the {which} server is not running; call start() first")
        return server


__all__ = ["AZURITE_CONNECTION_ENV", "LocalClouds"]
