"""Take a cloud down from curl: ``POST /chaos/TARGET/down`` and ``POST /chaos/TARGET/up``.

Each storage provider is wrapped in `failover.providers.chaos.ChaosProvider` when the
service is built with a chaos token: "down" makes every call to that cloud, health probes
included, fail as an unreachable cloud does (`Unavailable`), so the real failover path
runs: breaker, health checks, routing to the next cloud, writes journaled for the one that
is down; "up" heals it, and the journal repairs what it missed.

The control is off unless a token is given (403 then); a request must carry
``Authorization: Bearer <token>`` (401 without one, 403 with a wrong one).  The token is
compared in constant time and never logged, echoed or kept in a message.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from failover import FailoverStorage
from failover.errors import ConfigError
from failover.providers.chaos import ChaosProvider
from failover.registry import Registry

logger = logging.getLogger("examples.object_service.chaos")

MIN_TOKEN = 16  # characters: a token short enough to guess is no guard at all
BEARER = "bearer "
# The storage providers a configuration file can name, each to be built inside a ChaosProvider.
WRAPPED = ("s3", "azure_blob", "gcs", "memory")


def _wrapping(name: str) -> Callable[..., ChaosProvider]:
    def build(*args: Any, **kwargs: Any) -> ChaosProvider:
        return ChaosProvider(Registry().load(name)(*args, **kwargs))

    build.__name__ = name
    return build


# Factories the chaos registry points at: "package.module:attribute" paths need names.
s3 = _wrapping("s3")
azure_blob = _wrapping("azure_blob")
gcs = _wrapping("gcs")
memory = _wrapping("memory")


def chaos_registry() -> Registry:
    """A `Registry` whose storage providers come wrapped in a `ChaosProvider`."""
    return Registry({name: f"{__name__}:{name}" for name in WRAPPED})


def chaos_targets(storage: FailoverStorage) -> dict[str, ChaosProvider]:
    """The targets of ``storage`` that can be taken down, by name."""
    return {t.name: t.provider for t in storage.pool.targets if isinstance(t.provider, ChaosProvider)}


def check_token(token: str | None) -> bytes | None:
    """The token as bytes, None for "off"; a weak token is a `ConfigError` that never shows it."""
    if token is None:
        return None
    if not isinstance(token, str) or len(token) < MIN_TOKEN or not token.isascii() or not token.isprintable():
        raise ConfigError(f"chaos token: must be at least {MIN_TOKEN} printable ASCII characters")
    if " " in token:
        raise ConfigError("chaos token: must not contain spaces")
    return token.encode()


class Refused(Exception):
    """A chaos request turned down: its HTTP status and why (never the token)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def authorize(token: bytes | None, header: str | None) -> None:
    """Nothing if ``header`` carries ``token``, else `Refused` (the header is never quoted)."""
    if token is None:
        raise Refused(403, "the chaos control is off: start the service with a chaos token")
    if not header or not header.lower().startswith(BEARER):
        raise Refused(401, "a token is required: send Authorization: Bearer <token>")
    if not hmac.compare_digest(header[len(BEARER) :].strip().encode("utf-8", "surrogateescape"), token):
        raise Refused(403, "the token was refused")


def chaos_router(storage: FailoverStorage, token: str | None) -> APIRouter:
    """``/chaos`` (what can be taken down) and ``/chaos/TARGET/down|up``, guarded by ``token``."""
    secret = check_token(token)
    clouds = chaos_targets(storage)
    if secret is not None and not clouds:
        raise ConfigError("chaos token: no target of the storage is wrapped in a ChaosProvider")
    router = APIRouter()

    def act(request: Request, target: str, authorization: str | None, action: str) -> JSONResponse:
        client = request.client.host if request.client else "?"
        try:
            authorize(secret, authorization)
            cloud = clouds.get(target)
            if cloud is None:
                raise Refused(404, f"no target named {target!r}; targets: {', '.join(sorted(clouds))}")
        except Refused as refused:
            # INFO: anyone can knock, and a refusal must not flood the warnings; the target
            # is the client's (percent-decoded) text, so repr() keeps it on one line.
            logger.info("chaos: %s %r refused for %s (%s)", action, target, client, refused.message)
            headers = {"WWW-Authenticate": "Bearer"} if refused.status == 401 else None
            return JSONResponse({"error": "refused", "message": refused.message}, refused.status, headers)
        if action == "down":
            cloud.down()
        else:
            cloud.heal()
        logger.warning("chaos: %s is %s, by %s", target, action, client)
        return JSONResponse({"target": target, "state": action})

    @router.get("/chaos")
    def chaos_state() -> dict[str, Any]:
        """Which targets can be taken down, and which are down now (no token needed)."""
        return {
            "enabled": secret is not None,
            "targets": {name: "down" if cloud.settings.error_rate >= 1.0 else "up" for name, cloud in clouds.items()},
        }

    @router.post("/chaos/{target}/down")
    def down(request: Request, target: str, authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
        return act(request, target, authorization, "down")

    @router.post("/chaos/{target}/up")
    def up(request: Request, target: str, authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
        return act(request, target, authorization, "up")

    return router


__all__ = ["chaos_registry", "chaos_router", "chaos_targets", "check_token"]
