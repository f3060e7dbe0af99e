"""Everything the DNS controller example runs, on loopback: BIND, Route 53 on moto, two backends.

`DemoStack` starts them on free ports, creates the hosted zone, and writes the TOML file
that ``failover dns-controller --config`` reads; `DemoStack.controller` builds the library's
`DnsController` from that very file.  As in production, the file names the TSIG secret by
environment variable (`TSIG_SECRET_ENV`) and the AWS keys come from the environment (the
pair moto accepts, set while the stack runs and put back by `close`).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

from failover.config.dns import load
from failover.controllers.dns_controller import DnsController
from failover.errors import ConfigError
from failover.events import Listener
from failover.testing.bind import BindServer
from failover.testing.environment import AWS_TEST_KEYS, LoopbackEnvironment
from failover.testing.servers import LocalServer, moto

ZONE = "example.test."
RECORD = f"app.{ZONE}"
TSIG_SECRET_ENV = "FAILOVER_EXAMPLE_TSIG_SECRET"
# Distinct loopback addresses, so each backend is its own A value (Linux routes all of 127/8).
BACKENDS = (("a", "127.0.0.2"), ("b", "127.0.0.3"))
_BACKEND_SCRIPT = Path(__file__).with_name("backend.py")

Mode = Literal["failover", "multivalue"]
T = TypeVar("T")

# What `DemoStack.config_text` writes: the format of failover.config.dns.
_CONFIG = """\
lock = {lock}

[record]
name = {record}
type = "A"
mode = {mode}
ttl = {ttl}
min_ttl = {ttl}
failback_after = {failback_after}

[health]
interval = {interval}
timeout = {timeout}
jitter = 0
rise = 2
fall = 2
{endpoints}
[[providers]]
name = "bind:primary"
kind = "rfc2136"
zone = {zone}
server = {bind_host}
port = {bind_port}
tsig_key_name = {key_name}
tsig_secret_env = {secret_env}

[[providers]]
name = "route53:moto"
kind = "route53"
zone = {zone}
endpoint_url = {route53}
region = "us-east-1"
"""
_ENDPOINT = """
[[endpoints]]
value = {value}
priority = {priority}
http = {http}
"""


@dataclass(frozen=True)
class Settings:
    """The controller's timing: probes every ``interval`` seconds, ``rise`` and ``fall`` of 2."""

    mode: Mode = "failover"
    interval: float = 1.0
    failback_after: float = 3.0
    ttl: int = 5

    def __post_init__(self) -> None:
        if self.mode not in ("failover", "multivalue"):
            raise ConfigError(f"mode: must be 'failover' or 'multivalue', got {self.mode!r}")
        if not self.interval > 0:
            raise ConfigError(f"interval: must be > 0 seconds, got {self.interval!r}")
        if not self.failback_after >= 0:
            raise ConfigError(f"failback_after: must be >= 0 seconds, got {self.failback_after!r}")

    @property
    def timeout(self) -> float:
        return min(1.0, self.interval / 2)


def _free_port_on(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


class Backend(LocalServer):
    """``backend.py`` as its own process on ``address``: kill it and its probe fails at once."""

    def __init__(self, label: str, address: str, priority: int) -> None:
        super().__init__(f"backend-{label}", self._command, ready_path="/healthz")
        self.label, self.address, self.priority = label, address, priority
        self.port = _free_port_on(address)

    def _command(self, port: int, _: Path) -> list[str]:
        return [sys.executable, str(_BACKEND_SCRIPT), "--name", self.label, "--host", self.address, "--port", str(port)]

    @property
    def host(self) -> str:
        return self.address

    @property
    def endpoint(self) -> str:
        return f"http://{self.address}:{self.port}"

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection(self.address, self.port, timeout=1.0)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()


class DemoStack:
    """BIND (zone `ZONE`, TSIG), moto (hosted zone `ZONE`) and the `BACKENDS`, all on loopback."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.workdir = Path(tempfile.mkdtemp(prefix="failover-dns-example-"))
        self.config_path = self.workdir / "dns-controller.toml"
        self.bind: BindServer | None = None
        self.moto: LocalServer | None = None
        self.backends: dict[str, Backend] = {}
        self.hosted_zone_id = ""
        self._environment = LoopbackEnvironment()

    # ------------------------------------------------------------ servers

    def start(self) -> DemoStack:
        """Start every server at once (one that fails stops the others), then the hosted zone."""
        try:
            # Before the servers start: moto runs botocore too, and inherits this environment.
            self._environment.apply()
            self.bind = BindServer(ZONE, error_cases=False)
            self.moto = moto("moto-route53")
            self.backends = {label: Backend(label, address, i) for i, (label, address) in enumerate(BACKENDS)}
            with ThreadPoolExecutor(max_workers=len(self.servers)) as pool:
                for started in [pool.submit(server.start) for server in self.servers]:
                    started.result()
            created = self.route53_client().create_hosted_zone(Name=ZONE, CallerReference=uuid.uuid4().hex)
            self.hosted_zone_id = str(created["HostedZone"]["Id"]).rsplit("/", 1)[-1]
            self.config_path.write_text(self.config_text())
        except BaseException:
            self.close()
            raise
        return self

    @property
    def servers(self) -> list[LocalServer]:
        found: Iterable[LocalServer | None] = (self.bind, self.moto, *self.backends.values())
        return [server for server in found if server is not None]

    def route53_client(self) -> Any:
        """A plain boto3 client on moto, to read Route 53 behind the controller's back."""
        import boto3

        session = boto3.session.Session(region_name="us-east-1", **_session_keys())
        return session.client("route53", endpoint_url=_running(self.moto).endpoint)

    # ------------------------------------------------------------ the controller

    def config_text(self) -> str:
        """The ``failover dns-controller`` file for this stack (secrets by variable name only)."""
        bind, route53, s = _running(self.bind), _running(self.moto), self.settings
        endpoints = "".join(
            _ENDPOINT.format(value=_q(b.address), priority=b.priority, http=_q(b.endpoint + "/healthz"))
            for b in self.backends.values()
        )
        return _CONFIG.format(
            lock=_q(str(self.workdir / "dns-controller.lock")),
            record=_q(RECORD),
            mode=_q(s.mode),
            ttl=s.ttl,
            failback_after=s.failback_after,
            interval=s.interval,
            timeout=s.timeout,
            endpoints=endpoints,
            zone=_q(ZONE),
            bind_host=_q(bind.host),
            bind_port=bind.port,
            key_name=_q(bind.key_name),
            secret_env=_q(TSIG_SECRET_ENV),
            route53=_q(route53.endpoint),
        )

    def controller(self, listeners: Iterable[Listener] = ()) -> DnsController:
        """The `DnsController` that ``failover dns-controller --config`` would run on this stack."""
        environ = {**os.environ, TSIG_SECRET_ENV: _running(self.bind).tsig_secret}
        return load(self.config_path).build(environ, listeners=listeners)

    # ------------------------------------------------------------ shutting down

    def close(self) -> None:
        """Stop every server, remove the working folder, put the environment back; safe twice."""
        for server in self.servers:
            server.close()
        self.bind, self.moto, self.backends = None, None, {}
        self._environment.restore()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> DemoStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DemoStack({RECORD} A, servers={self.servers!r})"


def _running(server: T | None) -> T:
    if server is None:
        raise ConfigError("DemoStack: the servers are not running; call start() first")
    return server


def _session_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_TEST_KEYS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_TEST_KEYS["AWS_SECRET_ACCESS_KEY"],
    }


def _q(text: str) -> str:
    """A TOML basic string (JSON's escaping is a subset TOML reads the same way)."""
    return json.dumps(text)


__all__ = ["BACKENDS", "RECORD", "TSIG_SECRET_ENV", "ZONE", "Backend", "DemoStack", "Mode", "Settings"]
