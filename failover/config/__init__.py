"""Configuration files, validated with pydantic: errors name the file, the field and the problem.

`load` turns a set-up file into ready facades (`failover.config.setup`, format in
docs/configuration.md); `failover.config.dns` is the DNS controller's file.  Loading
imports pydantic, never a cloud SDK: an adapter is imported when a file names it.
"""

from failover.config.setup import Setup, load, parse

__all__ = ["Setup", "load", "parse"]
