"""The dashboard's ASGI app (Starlette): the page, ``api/status`` and, when turned on,
the ``api/force-open`` and ``api/release`` controls.

Every route is relative to where the app is mounted.  The status route is a plain
function, so Starlette runs it on its thread pool: reading a replication journal never
blocks the event loop.  The controls answer 403 while they are off, 401 without a bearer
token, 403 with a wrong one; the token given is never logged, echoed or kept.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from failover.dashboard.page import CONTENT_SECURITY_POLICY, HTML
from failover.errors import ConfigError
from failover.redact import redact


class DashboardUnavailable(ConfigError, ImportError):
    """starlette is not installed: the ``dashboard`` extra installs it.  Both a
    `ConfigError` and an `ImportError`, so either ``except`` clause catches it."""


try:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - exercised in a fresh interpreter
    raise DashboardUnavailable(
        f"failover.dashboard needs the 'dashboard' extra ({exc}): pip install 'multicloud-failover[dashboard]'"
    ) from exc

if TYPE_CHECKING:
    from failover.dashboard.instrument import Dashboard

logger = logging.getLogger("failover.dashboard")

MAX_BODY = 4096  # a control request is three short strings
ACTIONS = ("force-open", "release")
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class Refused(Exception):
    """A control request answered with ``status`` and a message safe to show."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def build_app(dashboard: Dashboard) -> Starlette:
    """The app serving ``dashboard``; mount it anywhere (``app.mount("/dashboard", ...)``)."""

    def page(request: Request) -> Response:
        return HTMLResponse(HTML, headers=PAGE_HEADERS)

    def status(request: Request) -> Response:
        return JSONResponse(dashboard.snapshot(), headers=API_HEADERS)

    async def control(request: Request) -> Response:
        action = request.url.path.rstrip("/").rpartition("/")[2]
        try:
            dashboard.authorize(request.headers.get("authorization"))
            facade, target, reason = _fields(await request.body())
            done = await run_in_threadpool(dashboard.act, action, facade, target, reason)
        except Refused as refused:
            client = request.client.host if request.client else "?"
            logger.warning("dashboard: %s refused from %s: %s", action, client, refused.message)
            return JSONResponse({"error": refused.message}, status_code=refused.status, headers=_with(refused.headers))
        client = request.client.host if request.client else "?"
        logger.warning("dashboard: %s from %s", done, client)
        return JSONResponse({"done": done}, headers=API_HEADERS)

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/api/status", status, methods=["GET"]),
        *(Route(f"/api/{action}", control, methods=["POST"]) for action in ACTIONS),
    ]
    app = Starlette(routes=routes)
    app.state.dashboard = dashboard  # for the application's own routes and middleware
    return app


def _with(headers: dict[str, str]) -> dict[str, str]:
    return {**API_HEADERS, **headers}


def _fields(body: bytes) -> tuple[str | None, str, str]:
    """``facade`` (optional), ``target`` and ``reason`` from the JSON body, or `Refused`."""
    if len(body) > MAX_BODY:
        raise Refused(413, f"the request body is over {MAX_BODY} bytes")
    try:
        data: Any = json.loads(body or b"null")
    except ValueError:
        raise Refused(400, 'the body must be JSON: {"facade": ..., "target": ..., "reason": ...}') from None
    if not isinstance(data, dict):
        raise Refused(400, 'the body must be a JSON object: {"facade": ..., "target": ..., "reason": ...}')
    facade, target, reason = data.get("facade"), data.get("target"), data.get("reason")
    if facade is not None and not isinstance(facade, str):
        raise Refused(400, "facade must be a facade's name (a string)")
    if not isinstance(target, str) or not target:
        raise Refused(400, "target must be a target's name (a string)")
    if not isinstance(reason, str) or not reason.strip():
        raise Refused(400, "reason is required: say why, for the logs and the status")
    return facade or None, target, redact(reason.strip())


__all__ = ["ACTIONS", "MAX_BODY", "DashboardUnavailable", "Refused", "build_app"]
