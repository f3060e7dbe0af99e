"""``python -m examples.async_reads --local``: the local clouds, the app over them, uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from examples.async_reads.app import create_app
from examples.async_reads.local import local_storage, local_stores
from examples.object_service.cli import INTERRUPTED, logging_configured
from failover.errors import ConfigError
from failover.testing.clouds import LocalClouds
from failover.testing.servers import ServerError

logger = logging.getLogger("examples.async_reads")


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m examples.async_reads",
        description="Serve files from three clouds at once through the async facade: hedged reads, "
        "hard attempt deadlines, streamed downloads.",
    )
    parse.add_argument(
        "--local",
        action="store_true",
        required=True,
        help="start moto, Azurite and fake-gcs-server on loopback and serve their buckets (required)",
    )
    parse.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parse.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    return parse


def serve(host: str, port: int) -> None:
    """Start the clouds, serve until Ctrl-C, stop the clouds (and remove the journal)."""
    import uvicorn

    with LocalClouds() as clouds, tempfile.TemporaryDirectory(prefix="async-reads-") as folder:
        for server in clouds.servers:
            logger.info("local cloud %s on %s (bucket %s)", server.name, server.endpoint, clouds.bucket)
        # The clouds keep their objects in memory, so the journal lives as long as they do.
        stores = local_stores(clouds)
        storage = local_storage(stores, Path(folder) / "journal.sqlite")
        app = create_app(storage, stores=list(stores.values()))
        logger.info("serving on http://%s:%d: files at /files/KEY, /status, /healthz", host, port)
        # log_config=None: uvicorn's loggers go through the logging set up by main().
        uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None)).run()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser().error(f"--port: must be from 0 to 65535, got {args.port}")
    sdk = logging.getLogger("aiobotocore")  # a line per credential lookup otherwise
    level = sdk.level
    with logging_configured():
        sdk.setLevel(logging.WARNING)
        try:
            serve(args.host, args.port)
        except (ConfigError, ServerError) as exc:
            print(f"async reads: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # uvicorn shut down cleanly, then passes Ctrl-C on
            return INTERRUPTED
        finally:
            sdk.setLevel(level)
    return 0


__all__ = ["main", "parser", "serve"]
