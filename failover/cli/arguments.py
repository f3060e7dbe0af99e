"""Command-line values checked as argparse parses them: a usage error names the flag."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path


def seconds_between(low: float, high: float) -> Callable[[str], float]:
    """A parser of a number of seconds from ``low`` to ``high``, both included."""

    def seconds(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g} seconds, got {text!r}")
        return value

    return seconds


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 1 to 65535, got {text!r}")
    return value


def output_path(text: str) -> Path:
    """A file to write, whose folder exists: checked before the work starts, so a long
    run never fails at its very end."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; give a file name")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"directory {str(path.parent)!r} does not exist")
    return path


__all__ = ["output_path", "port", "seconds_between"]
