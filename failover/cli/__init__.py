"""The ``failover`` command line: the game-day drill, reconcile, and the DNS controller.

Needs the ``cli`` extra (rich, pydantic); ``import failover`` never loads this package.
Without the extra, the command prints one line naming it and exits 2, not a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import sys

# The top-level modules the cli extra installs: an ImportError naming another is a bug.
CLI_EXTRA_MODULES = frozenset({"rich", "pydantic", "pydantic_core", "tomli"})
# failover.cli.main's EXIT_USAGE, which cannot be imported from a module that fails to load.
EXIT_USAGE = 2

# Importing the submodule sets this package's attribute ``main`` to it; done first, the
# definition below takes the name back for the function.  Without the extra, main() says so.
with contextlib.suppress(ImportError):
    importlib.import_module("failover.cli.main")


def main(argv: list[str] | None = None) -> int:
    """The ``failover`` console script, and ``python -m failover``."""
    try:
        from failover.cli.main import main as command_line

        return command_line(argv)
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in CLI_EXTRA_MODULES:
            raise
        from failover.providers._sdk import missing_sdk

        print(f"failover: error: {missing_sdk('the failover command', 'cli', exc)}", file=sys.stderr)
        return EXIT_USAGE


__all__ = ["main"]
