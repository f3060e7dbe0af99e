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


def etag_of(info: ObjectInfo) -> str | None:
    """`portable_etag`, else the cloud's own etag, which differs from cloud to cloud (so a
    failover may change it: the client refetches once, it is never served stale); None
    when the cloud gives none either, and the answer then carries no ETag."""
    own = (info.etag or "").strip('"')
    return portable_etag(info) or (f'"{own}"' if own else None)


def matches(if_none_match: str, etag: str | None) -> bool:
    """Does an If-None-Match list name ``etag``?  Weak comparison, as RFC 9110 asks for GET."""
    if if_none_match.strip() == "*":
        return True
    given = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag is not None and etag in given


def conditional_answer(info: ObjectInfo, if_none_match: str | None) -> Response | None:
    """The 304 a GET or HEAD gets when ``if_none_match`` names the object as it is; else None."""
    etag = etag_of(info)
    if if_none_match is None or not matches(if_none_match, etag):
        return None
    return Response(status_code=304, headers={"ETag": etag} if etag else None)


def range_applies(if_range: str | None, etag: str | None) -> bool:
    """Does the Range apply?  With If-Range, only while it is the current strong ETag
    (RFC 9110, 13.1.5): a weak tag never is, and a date is taken as stale, since the
    service sends no Last-Modified to compare it with.  Else the whole object is sent."""
    return if_range is None or (etag is not None and if_range.strip() == etag)


def object_headers(info: ObjectInfo) -> dict[str, str]:
    headers = {"Accept-Ranges": "bytes", "Content-Type": info.content_type or DEFAULT_CONTENT_TYPE}
    etag = etag_of(info)
    if etag is not None:
        headers["ETag"] = etag
    return headers


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
        headers = {"Location": f"/objects/{quote(key)}", **({"ETag": etag} if etag else {})}
        return JSONResponse({"key": key, "size": len(body), "etag": etag, "content_type": kind}, headers=headers)

    @router.head("/objects/{key:path}")
    def head_object(key: str, if_none_match: Annotated[str | None, Header()] = None) -> Response:
        info = storage.head(key)
        not_modified = conditional_answer(info, if_none_match)
        if not_modified is not None:
            return not_modified
        headers = object_headers(info)
        headers["Content-Length"] = str(info.size)
        return Response(status_code=200, headers=headers)

    @router.get("/objects/{key:path}")
    def get_object(
        key: str,
        byte_range: Annotated[str | None, Header(alias="Range")] = None,
        if_range: Annotated[str | None, Header()] = None,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        # The head names the version served; an object rewritten between the two calls
        # may come with the previous ETag, which only costs the client a refetch later.
        info = storage.head(key)
        not_modified = conditional_answer(info, if_none_match)
        if not_modified is not None:
            return not_modified
        headers = object_headers(info)
        span = None
        if byte_range is not None and range_applies(if_range, headers.get("ETag")):
            span = parse_range(byte_range, info.size)
        if span is None:
            return Response(storage.get(key), headers=headers)
        headers["Content-Range"] = span.content_range
        return Response(storage.get_range(key, span.start, span.end), status_code=206, headers=headers)

    @router.delete("/objects/{key:path}", status_code=204)
    def delete_object(key: str) -> Response:
        storage.delete(key)
        return Response(status_code=204)

    return router


__all__ = ["conditional_answer", "etag_of", "matches", "object_headers", "objects_router", "range_applies"]
