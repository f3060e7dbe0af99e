"""``/objects``: PUT, GET (whole or one range), HEAD, DELETE of a key, and a paged listing.

The key is the rest of the path, percent-decoded (``/objects/a%20b.txt`` is ``a b.txt``);
the query string is never part of it.  Handlers are plain ``def``: `FailoverStorage` is
synchronous, and FastAPI runs such handlers on its thread pool, so a slow cloud holds a
worker thread, never the event loop.
"""

from __future__ import annotations

import mimetypes
from itertools import islice
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from examples.object_service.ranges import parse_range
from failover import FailoverStorage
from failover.capabilities import ObjectInfo

DEFAULT_CONTENT_TYPE = "application/octet-stream"
DEFAULT_PAGE = 100
MAX_PAGE = 1000


def portable_etag(info: ObjectInfo) -> str | None:
    """A strong ETag that is the same on every cloud: the content's sha256 when recorded,
    else the replication version; None when the object carries neither (a listing's)."""
    if info.checksum and info.checksum.startswith("sha256:"):
        return f'"{info.checksum.removeprefix("sha256:")}"'
    if info.version:
        return f'"v{info.version}"'
    return None


def etag_of(info: ObjectInfo) -> str:
    """`portable_etag`, else the cloud's own etag, which differs from cloud to cloud (so a
    failover may change it: the client refetches once, it is never served stale)."""
    return portable_etag(info) or f'"{(info.etag or "").strip(chr(34))}"'


def matches(if_none_match: str, etag: str) -> bool:
    """Does an If-None-Match list name ``etag``?  Weak comparison, as RFC 9110 asks for GET."""
    if if_none_match.strip() == "*":
        return True
    given = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in given


def object_headers(info: ObjectInfo) -> dict[str, str]:
    return {
        "ETag": etag_of(info),
        "Accept-Ranges": "bytes",
        "Content-Type": info.content_type or DEFAULT_CONTENT_TYPE,
    }


def listed(info: ObjectInfo) -> dict[str, Any]:
    """A listing's row: the clouds list keys and sizes, not checksums or content types."""
    row: dict[str, Any] = {"key": info.key, "size": info.size}
    etag = portable_etag(info)
    if etag is not None:
        row["etag"] = etag
    return row


async def request_body(request: Request) -> bytes:
    """The raw body, whatever its Content-Type (FastAPI would parse JSON or forms)."""
    return await request.body()


def objects_router(storage: FailoverStorage) -> APIRouter:
    """The routes, bound to ``storage``."""
    router = APIRouter()

    @router.get("/objects")
    def list_objects(
        prefix: str = "",
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
        after: Annotated[str | None, Query(description="the last key of the previous page")] = None,
    ) -> dict[str, Any]:
        """One page of keys in key order; ``next_after`` is the ``after`` of the next page."""
        listing = storage.list(prefix)
        if after is not None:
            # The clouds list in key order from the prefix on: the keys up to ``after``
            # are read and skipped, as the library does when it resumes a listing.
            listing = (info for info in listing if info.key > after)
        page = list(islice(listing, limit + 1))
        more = len(page) > limit
        objects = [listed(info) for info in page[:limit]]
        return {"objects": objects, "next_after": objects[-1]["key"] if more else None}

    @router.put("/objects/{key:path}")
    def put_object(
        key: str,
        body: Annotated[bytes, Depends(request_body)],
        content_type: Annotated[str | None, Header()] = None,
    ) -> Response:
        kind = content_type or mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE
        etag = etag_of(storage.put(key, body, content_type=kind))
        headers = {"ETag": etag, "Location": f"/objects/{quote(key)}"}
        return JSONResponse({"key": key, "size": len(body), "etag": etag, "content_type": kind}, headers=headers)

    @router.head("/objects/{key:path}")
    def head_object(key: str) -> Response:
        info = storage.head(key)
        headers = object_headers(info)
        headers["Content-Length"] = str(info.size)
        return Response(status_code=200, headers=headers)

    @router.get("/objects/{key:path}")
    def get_object(
        key: str,
        byte_range: Annotated[str | None, Header(alias="Range")] = None,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        # The head names the version served; an object rewritten between the two calls
        # may come with the previous ETag, which only costs the client a refetch later.
        info = storage.head(key)
        headers = object_headers(info)
        if if_none_match is not None and matches(if_none_match, headers["ETag"]):
            return Response(status_code=304, headers={"ETag": headers["ETag"]})
        if byte_range is None:
            return Response(storage.get(key), headers=headers)
        span = parse_range(byte_range, info.size)
        headers["Content-Range"] = span.content_range
        return Response(storage.get_range(key, span.start, span.end), status_code=206, headers=headers)

    @router.delete("/objects/{key:path}", status_code=204)
    def delete_object(key: str) -> Response:
        storage.delete(key)
        return Response(status_code=204)

    return router


__all__ = ["etag_of", "matches", "objects_router"]
