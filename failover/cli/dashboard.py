"""``failover dashboard --config FILE``: serve the live dashboard of a set-up file.

Loads the file with a `failover.dashboard.Dashboard` attached to every facade, starts the
set-up (health checks, fleet breaker sync, the replication drainer), and serves the page
and its JSON API with uvicorn on ``--host``:``--port`` (127.0.0.1:8089) until
interrupted.  A facade whose file section configures no health checks is probed every
``--probe-interval`` seconds instead, so the page shows each target's health, not only
what traffic taught it (this process sees none).  ``--controls --token-env VAR`` serves
force-open and release, for requests bearing the token held in the variable ``VAR``.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from failover.cli.arguments import port as port_number
from failover.cli.arguments import seconds_between
from failover.errors import ConfigError

if TYPE_CHECKING:
    from failover.config.setup import Setup
    from failover.dashboard import Dashboard
    from failover.facades.base import Facade

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

logger = logging.getLogger("failover.dashboard")
F = TypeVar("F", bound="Facade[Any]")

EXIT_OK, EXIT_NOT_SERVED, EXIT_CONFIG = 0, 1, 2
DEFAULT_HOST, DEFAULT_PORT, DEFAULT_PROBE_INTERVAL = "127.0.0.1", 8089, 5.0
PROBE_TIMEOUT = 2.0  # seconds, at most: each probe is cut at the interval when shorter

# Serves an ASGI app on host and port until interrupted; returns the exit status.
Serve = Callable[[Any, str, int], int]


def add_dashboard(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "dashboard",
        help="serve a live web dashboard of a set-up file's targets (needs the dashboard extra)",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
        epilog="exit status: 2 bad configuration, 1 could not listen; runs until interrupted",
    )
    parser.add_argument("--config", type=Path, required=True, metavar="FILE", help="the TOML set-up file")
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on ({DEFAULT_HOST}: this machine only)"
    )
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT, metavar="N", help=f"port ({DEFAULT_PORT})")
    parser.add_argument("--controls", action="store_true", help="serve force-open and release (needs --token-env)")
    parser.add_argument("--token-env", metavar="VAR", help="environment variable holding the controls' bearer token")
    parser.add_argument(
        "--probe-interval",
        type=seconds_between(0.1, 3600),
        default=DEFAULT_PROBE_INTERVAL,
        metavar="SECONDS",
        help=f"probe every target this often when the file sets no health checks ({DEFAULT_PROBE_INTERVAL:g})",
    )
    parser.set_defaults(run=run_dashboard, parser=parser)


def run_dashboard(
    args: argparse.Namespace, *, serve: Serve | None = None, environ: Mapping[str, str] | None = None
) -> int:
    """Load, start, probe and serve; ``serve`` (uvicorn by default) and ``environ`` are
    for tests and embedding."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        dashboard = make_dashboard(args, os.environ if environ is None else environ)
        run = serve or _uvicorn()
        setup = _load(args.config, dashboard)
    except ConfigError as exc:
        print(f"failover dashboard: error: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        setup.start()
        with Prober(unchecked(setup), args.probe_interval):
            _warn_if_exposed(args.host)
            return run(dashboard.app, args.host, args.port)
    finally:
        setup.close()


def make_dashboard(args: argparse.Namespace, environ: Mapping[str, str]) -> Dashboard:
    """The dashboard the flags ask for; a `ConfigError` naming the flag (never the token)."""
    from failover.dashboard import Dashboard  # starlette loads only now

    if args.token_env and not args.controls:
        raise ConfigError("--token-env is given without --controls: add --controls to serve force-open and release")
    if not args.controls:
        return Dashboard()
    if not args.token_env:
        raise ConfigError("--controls needs --token-env VAR: the environment variable holding the token")
    token = environ.get(args.token_env)
    if not token:
        raise ConfigError(f"--token-env: environment variable {args.token_env} is not set")
    try:
        return Dashboard(controls=True, token=token)
    except ConfigError as exc:
        raise ConfigError(f"the value of {args.token_env} (--token-env) is not usable: the {exc.message}") from None


def _load(path: Path, dashboard: Dashboard) -> Setup:
    """The file's facades with the dashboard attached: as a listener through `load`, and
    by `Dashboard.attach` under each section's name."""
    from failover.config import load  # pydantic and the adapters load only now

    setup = load(path, listeners=[dashboard])
    try:
        for name, facade in setup.facades.items():
            dashboard.attach(facade, name)
    except BaseException:
        setup.close()
        raise
    return setup


def unchecked(setup: Setup) -> Setup | None:
    """The facades of ``setup`` with no health checks of their own, as a set-up to probe
    (None when every facade has health checks)."""
    from failover.config.setup import Setup

    storage, dns, compute = _unchecked(setup.storage), _unchecked(setup.dns), _unchecked(setup.compute)
    if storage is None and dns is None and compute is None:
        return None
    return Setup(setup.config, source=setup.source, storage=storage, dns=dns, compute=compute)


def _unchecked(facade: F | None) -> F | None:
    return facade if facade is not None and facade.pool.checker is None else None


class Prober:
    """Probes every target of ``setup`` once on entry, then every ``interval`` seconds on
    a thread until exit (`failover.cli.status.probe_setup`); nothing with no set-up."""

    def __init__(self, setup: Setup | None, interval: float) -> None:
        self.setup = setup
        self.interval = interval
        self.timeout = min(PROBE_TIMEOUT, interval)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def probe(self) -> None:
        from failover.cli.status import probe_setup

        if self.setup is None:
            return
        try:
            probe_setup(self.setup, self.timeout)
        except Exception:  # a failed round must not end the dashboard; the next one may pass
            logger.exception("dashboard: probing the targets failed")

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.probe()

    def __enter__(self) -> Prober:
        if self.setup is not None:
            self.probe()  # before the first page: health is known from the start
            self._thread = threading.Thread(target=self._loop, name="failover-dashboard-probe", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 1.0)


def _uvicorn() -> Serve:
    """`serve_uvicorn`, once uvicorn is known to be installed (before the file loads)."""
    try:
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"failover dashboard needs the 'dashboard' extra ({exc}): pip install 'multicloud-failover[dashboard]'"
        ) from exc
    return serve_uvicorn


def serve_uvicorn(app: Any, host: str, port: int) -> int:
    """Serve ``app`` with uvicorn until interrupted; 1 if it cannot listen."""
    import uvicorn

    # No access log: the page polls every second, and control actions are logged apart.
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, access_log=False, log_level="info"))
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind; it has logged why
        print(f"failover dashboard: error: cannot listen on {host}:{port}", file=sys.stderr)
        return EXIT_NOT_SERVED
    return EXIT_OK


def _warn_if_exposed(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        logger.warning("dashboard: listening on %s, beyond this machine; put it behind authentication", host)




__all__ = ["Prober", "Serve", "add_dashboard", "make_dashboard", "run_dashboard", "serve_uvicorn", "unchecked"]
