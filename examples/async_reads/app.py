"""`create_app`: files served from several clouds at once through the async facade.

Every handler is ``async def`` and awaits `failover.aio.FailoverStorage`: no thread is
held while a cloud is slow, and each try on a cloud is cut off at ``attempt_timeout``
where it stands.  Errors are the object service's (`examples.object_service.errors`):
404 only when every cloud that may hold the key said it has none, 503 (with
``Retry-After``) when a cloud that may hold it could not be asked.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from examples.object_service.errors import failover_error, http_error, invalid_request
from examples.object_service.objects import DEFAULT_CONTENT_TYPE, etag_of
from failover.aio import FailoverStorage
from failover.capabilities import ObjectInfo
from failover.errors import FailoverError

CHUNK_SIZE = 256 * 1024  # what one read from a cloud hands on to the client at most
SERVING_ROLES = frozenset({"preferred", "standby", "drained"})


class Closable(Protocol):
    async def close(self) -> None: ...


class ObjectStream(StreamingResponse):
    """A `StreamingResponse` of a cloud's stream that closes it however the response ends:
    sent whole, or cut short by a client that went away (the cloud's connection is let go
    then, not when the stream is garbage-collected)."""

    def __init__(self, chunks: AsyncGenerator[bytes, None], headers: dict[str, str]) -> None:
        super().__init__(chunks, headers=headers)
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.chunks.aclose()


def file_headers(info: ObjectInfo) -> dict[str, str]:
    headers = {"Content-Type": info.content_type or DEFAULT_CONTENT_TYPE}
    etag = etag_of(info)
    if etag is not None:
        headers["ETag"] = etag
    return headers


def create_app(storage: FailoverStorage, *, stores: Sequence[Closable] = ()) -> FastAPI:
    """The service over ``storage``.  Its lifespan, on the server's loop, enters
    ``storage`` (starting its replication) and, on leaving, closes it and then ``stores``
    (the adapters under it, whose clients belong to that loop)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for store in stores:
                stack.push_async_callback(store.close)
            await stack.enter_async_context(storage)
            yield

    app = FastAPI(title="async reads", summary="files read from three clouds at once", lifespan=lifespan)
    app.add_exception_handler(FailoverError, failover_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)

    @app.head("/files/{key:path}")
    async def head_file(key: str) -> Response:
        """Hedged: the next cloud is asked too once the first has not answered in ``hedge_after``."""
        info = await storage.head(key)
        return Response(headers={**file_headers(info), "Content-Length": str(info.size)})

    @app.get("/files/{key:path}")
    async def get_file(key: str) -> Response:
        # The (hedged) head names the type and ETag; an object replaced before the stream
        # opens may come with the previous ETag, which costs the client a refetch later.
        headers = file_headers(await storage.head(key))
        # Failover happens here, while the stream opens; once it flows it stays on its cloud.
        return ObjectStream(await storage.get_stream(key, chunk_size=CHUNK_SIZE), headers)

    @app.put("/files/{key:path}")
    async def put_file(key: str, request: Request) -> JSONResponse:
        # The body as it arrives: the facade checks the key and type before reading it,
        # then reads it once, so every cloud (and a retry) gets the same bytes.
        kind = request.headers.get("content-type") or mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE
        info = await storage.put(key, request.stream(), content_type=kind)
        etag = etag_of(info)
        headers = {"Location": f"/files/{quote(key)}", **({"ETag": etag} if etag else {})}
        return JSONResponse({"key": key, "size": info.size, "etag": etag, "content_type": kind}, headers=headers)

    @app.get("/status")
    async def status() -> dict[str, Any]:
        """Each cloud as the facade sees it: role, breaker, latency, calls, errors, last error."""
        return await status_of(storage)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 while some cloud can serve, 503 when none can."""
        report = await asyncio.to_thread(storage.status)  # reads the journal: off the loop
        serving = [t.name for t in report.targets if t.role in SERVING_ROLES]
        body = {"status": "ok" if serving else "unavailable", "serving": serving}
        return JSONResponse(body, status_code=200 if serving else 503)

    return app


async def status_of(storage: FailoverStorage) -> dict[str, Any]:
    report = await asyncio.to_thread(storage.status)  # with a write mode it reads the journal
    targets = [
        {
            "name": t.name,
            "role": t.role,
            "health": t.health,
            "breaker": t.breaker,
            "latency_ms": None if t.latency_ms is None else round(t.latency_ms, 2),
            "calls": t.calls,
            "errors": t.errors,
            "share": round(t.traffic_share, 3),
            "last_error": t.last_error,
        }
        for t in report.targets
    ]
    pending = await storage.pending() if storage.replication is not None else {}
    return {"targets": targets, "panic": report.panic, "pending": pending, "quarantined": report.quarantined}


__all__ = ["CHUNK_SIZE", "ObjectStream", "create_app", "status_of"]
