"""The environment the cloud SDKs need to talk to local servers, set and put back.

moto takes any AWS key pair, but boto3 (and moto itself, which runs botocore) reads the
user's shell too: a profile this machine lacks stops boto3 altogether, a session token of
a real account has no business with moto, and a configured HTTP proxy would receive the
loopback traffic.  `LoopbackEnvironment` sets moto's keys, unsets those, and adds
127.0.0.1 to ``NO_PROXY``; `restore` puts back exactly what was there.  Apply it before
starting a server: each one inherits the environment it starts in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

AWS_TEST_KEYS: Mapping[str, str] = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
_AWS_UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN")


def loopback_variables() -> dict[str, str | None]:
    """The variables to set (None: to unset) for SDKs talking to 127.0.0.1."""
    current = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    no_proxy = ",".join(part for part in (current, "127.0.0.1") if part)
    return {**AWS_TEST_KEYS, **dict.fromkeys(_AWS_UNSET), "NO_PROXY": no_proxy, "no_proxy": no_proxy}


class LoopbackEnvironment:
    """``apply(extra)`` sets `loopback_variables` and ``extra`` in ``os.environ``;
    ``restore()`` puts every variable it touched back as it was (safe to call twice)."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def apply(self, extra: Mapping[str, str | None] | None = None) -> None:
        for name, value in {**loopback_variables(), **(extra or {})}.items():
            self._saved.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved = {}


__all__ = ["AWS_TEST_KEYS", "LoopbackEnvironment", "loopback_variables"]
