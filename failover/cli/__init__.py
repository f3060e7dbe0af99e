"""The ``failover`` command line: the game-day drill, reconcile, and the DNS controller.

Needs the ``cli`` extra (rich, pydantic); ``import failover`` never loads this package.
"""

from failover.cli.main import main

__all__ = ["main"]
