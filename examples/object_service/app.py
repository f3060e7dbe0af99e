"""`create_app`: the FastAPI app over one `FailoverStorage`, with its health, metrics and dashboard."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from examples.object_service.chaos import chaos_router
from examples.object_service.errors import failover_error, http_error, invalid_request
from examples.object_service.objects import objects_router
from failover import FailoverStorage
from failover.errors import FailoverError

SERVING_ROLES = frozenset({"preferred", "standby", "drained"})


class _AsIs:
    """An ASGI app Starlette's `Route` calls as it is (a plain function it would wrap as an
    endpoint), so ``/metrics`` answers without a redirect to ``/metrics/``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_app(
    storage: FailoverStorage,
    *,
    metrics: Any = None,
    dashboard: Any = None,
    chaos_token: str | None = None,
) -> FastAPI:
    """The service over ``storage`` (not started here: the caller owns its lifecycle).

    ``metrics``: a `PrometheusMetrics` or its `CollectorRegistry`, served at ``/metrics``;
    ``dashboard``: a `failover.dashboard.Dashboard` showing ``storage``, mounted at
    ``/dashboard``; ``chaos_token``: turns on ``/chaos/TARGET/down|up`` for the targets
    whose provider is a `ChaosProvider` (see `examples.object_service.chaos`).
    """
    app = FastAPI(title="object service", summary="files on several clouds, with replication and failover")
    app.state.storage = storage  # the dashboard holds its facades weakly
    app.add_exception_handler(FailoverError, failover_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)  # unknown routes, wrong methods
    app.include_router(objects_router(storage))
    app.include_router(chaos_router(storage, chaos_token))

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """200 while some target serves; 503 when none does (every one down, or panic)."""
        return health(storage)

    if metrics is not None:
        from failover.telemetry.exposition import asgi_app

        app.router.routes.append(Route("/metrics", _AsIs(asgi_app(metrics)), methods=["GET"]))
    if dashboard is not None:
        dashboard.attach(storage)
        app.mount("/dashboard", dashboard.app)
    return app


def health(storage: FailoverStorage) -> JSONResponse:
    status = storage.status()
    serving = [t.name for t in status.targets if t.role in SERVING_ROLES]
    body = {
        "status": "ok" if serving else "unavailable",
        "serving": serving,
        "panic": status.panic,
        "targets": [
            {
                "name": t.name,
                "role": t.role,
                "health": t.health,
                "breaker": t.breaker,
                "share": round(t.traffic_share, 3),
                "last_error": t.last_error,
            }
            for t in status.targets
        ],
        "pending": storage.pending() if storage.replication is not None else {},
        "quarantined": status.quarantined,
    }
    return JSONResponse(body, status_code=200 if serving else 503)


__all__ = ["create_app", "health"]
