"""What every reporting command shares: ``--json [PATH]`` and where the human output goes.

``--json`` alone (or ``--json -``) writes the command's JSON document to stdout instead
of the table, with progress bars and messages on stderr, so ``failover status --json |
jq`` reads clean JSON; ``--json PATH`` writes the document to PATH and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from failover.cli.arguments import output_path

STDOUT = "-"


def add_json_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--json",
        nargs="?",
        const=STDOUT,
        type=json_target,
        metavar="PATH",
        help=f"write {what} as JSON to PATH, or instead of the table to stdout (no PATH, or '-')",
    )


def json_target(text: str) -> str | Path:
    """``-`` for stdout, or a file path whose folder exists."""
    return STDOUT if text == STDOUT else output_path(text)


def console_for(target: str | Path | None) -> Console:
    """The console for the human output: stderr when stdout carries the JSON."""
    console = Console(stderr=target == STDOUT)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped into a file or a CI log, rich assumes 80 columns and squeezes tables.
        console.width = max(console.width, 140)
    return console


def write_json(target: str | Path, document: Any) -> None:
    """The document to stdout (``-``) or to the file; an OSError is the caller's to report."""
    text = json.dumps(document, indent=2) + "\n"
    if target == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        Path(target).write_text(text, encoding="utf-8")


__all__ = ["STDOUT", "add_json_option", "console_for", "json_target", "write_json"]
