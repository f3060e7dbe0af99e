"""``python -m examples.object_service``: flags, logging, and uvicorn serving the app."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from examples.object_service.service import DEFAULT_JOURNAL, Service, configured_service, local_service
from failover.errors import ConfigError
from failover.testing.clouds import WRITE_MODES
from failover.testing.servers import ServerError

logger = logging.getLogger("examples.object_service")

CHAOS_TOKEN_ENV = "OBJECT_SERVICE_CHAOS_TOKEN"
LOCAL_JOURNAL = "object-service-local-journal.sqlite"
INTERRUPTED = 130  # the shell's code for a process ended by Ctrl-C
# Per-request INFO lines of the SDKs would drown the failover events.
QUIET_LOGGERS = ("azure", "botocore", "urllib3", "google")
# Polled every second by the dashboard page and by scrapers: not worth a line each.
UNLOGGED_PATHS = ("/dashboard", "/metrics", "/healthz")


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m examples.object_service",
        description="Upload and download files kept on several clouds, with replication and failover.",
    )
    source = parse.add_mutually_exclusive_group(required=True)
    source.add_argument("--local", action="store_true", help="start moto, Azurite and fake-gcs-server and use them")
    source.add_argument("--config", type=Path, metavar="FILE", help="a failover.config set-up file with [storage]")
    parse.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parse.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    parse.add_argument(
        "--journal",
        type=Path,
        metavar="PATH",
        help=f"the durable repair journal (default: {DEFAULT_JOURNAL} in the working directory, or the file's own; "
        f"with --local {LOCAL_JOURNAL}, started afresh, since the local clouds start empty)",
    )
    parse.add_argument(
        "--writes", choices=WRITE_MODES, default="all", help="--local: the write mode (default: %(default)s)"
    )
    parse.add_argument(
        "--chaos-token",
        metavar="TOKEN",
        help=f"turn on POST /chaos/TARGET/down|up for requests bearing it (or set {CHAOS_TOKEN_ENV}, "
        "which keeps it out of the process list)",
    )
    return parse


@contextmanager
def logging_configured() -> Iterator[None]:
    """The service's logging while it runs (INFO to stderr, the SDKs quiet, polled paths
    out of the access log); on leaving, the loggers are as they were, so calling `main`
    in a process that does its own logging (a test run) changes nothing for good."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    access = logging.getLogger("uvicorn.access")
    filtered = skip_polled_paths in access.filters
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    access.addFilter(skip_polled_paths)
    try:
        yield
    finally:
        if not filtered:
            access.removeFilter(skip_polled_paths)
        for name, quiet_level in quiet.items():
            logging.getLogger(name).setLevel(quiet_level)
        for added in [handler for handler in root.handlers if handler not in handlers]:
            root.removeHandler(added)
        root.setLevel(level)


def skip_polled_paths(record: logging.LogRecord) -> bool:
    """False for uvicorn's access line of a path polled every second, True for any other."""
    # uvicorn's access record: (client, method, path with query, HTTP version, status).
    args = record.args if isinstance(record.args, tuple) else ()
    path = str(args[2]).partition("?")[0] if len(args) > 2 else ""
    return not any(path == polled or path.startswith(f"{polled}/") for polled in UNLOGGED_PATHS)


def fresh_journal(path: Path) -> Path:
    """Remove a journal left by an earlier ``--local`` run: it owes writes to clouds that are gone."""
    for leftover in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))):
        if leftover.exists():
            logger.info("the local clouds start empty: removing %s, left by an earlier run", leftover)
            leftover.unlink()
    return path


@contextmanager
def service_for(args: argparse.Namespace, chaos_token: str | None) -> Iterator[Service]:
    if not args.local:
        journal = args.journal.resolve() if args.journal else None
        with configured_service(args.config, journal=journal, chaos_token=chaos_token) as service:
            yield service
        return
    journal = fresh_journal((args.journal or Path(LOCAL_JOURNAL)).resolve())
    with local_service(journal=journal, chaos_token=chaos_token, writes=args.writes) as (service, clouds):
        for server in clouds.servers:
            logger.info("local cloud %s on %s (bucket %s)", server.name, server.endpoint, clouds.bucket)
        yield service


def serve(service: Service, host: str, port: int) -> None:
    import uvicorn

    base = f"http://{host}:{port}"
    journal = service.storage.replication.journal if service.storage.replication else None
    logger.info("repair journal: %s", getattr(journal, "path", journal))
    logger.info("serving on %s: objects at %s/objects/KEY, %s/dashboard/, %s/metrics", base, base, base, base)
    # log_config=None: uvicorn's loggers go through the logging set up above.
    uvicorn.Server(uvicorn.Config(service.app, host=host, port=port, log_config=None)).run()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser().error(f"--port: must be from 0 to 65535, got {args.port}")
    chaos_token = args.chaos_token or os.environ.get(CHAOS_TOKEN_ENV) or None
    with logging_configured():
        try:
            with service_for(args, chaos_token) as service:
                serve(service, args.host, args.port)
        except (ConfigError, ServerError) as exc:
            print(f"object service: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # uvicorn shut down cleanly, then passes Ctrl-C on
            return INTERRUPTED
    return 0


__all__ = ["CHAOS_TOKEN_ENV", "INTERRUPTED", "LOCAL_JOURNAL", "fresh_journal", "logging_configured", "main", "parser"]
