"""The object service's HTTP details: ETags, conditional and ranged reads, listing, error answers.

Over the same in-memory clouds as `tests.unit.test_object_service`: no server, no sleeping.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from examples.object_service.errors import failover_error
from examples.object_service.objects import conditional_answer, object_headers
from failover.capabilities import ObjectInfo
from failover.errors import (
    AlreadyExists,
    CircuitOpen,
    FailoverError,
    PreconditionFailed,
    ProviderError,
    Throttled,
    Unsupported,
)
from tests.unit.test_object_service import Service, build, close

BODY = b"0123456789"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    built = build(tmp_path)
    yield built
    close(built)


def put_body(service: Service, key: str = "r") -> str:
    answer = service.client.put(f"/objects/{key}", content=BODY)
    assert answer.status_code == 200
    return str(answer.headers["etag"])


# ---------------------------------------------------------------- ETags


def test_the_etag_is_the_quoted_sha256_of_the_body_whichever_cloud_serves(service: Service) -> None:
    for n in range(3):  # memory:a numbers its writes ahead of the others: its own etags differ
        service.stored("memory:a").put(f"unrelated/{n}", b"x")
    body = b"same everywhere"
    etag = service.client.put("/objects/e", content=body).headers["etag"]
    assert etag == f'"{hashlib.sha256(body).hexdigest()}"'
    assert service.stored("memory:a").head("e").etag != service.stored("memory:c").head("e").etag
    assert service.client.head("/objects/e").headers["etag"] == etag  # from memory:a
    service.clouds["memory:a"].down()
    service.clouds["memory:b"].down()
    assert service.client.head("/objects/e").headers["etag"] == etag  # from memory:c
    assert service.client.get("/objects/e").headers["etag"] == etag


def test_an_object_without_any_etag_is_sent_without_an_etag_header_and_never_304() -> None:
    bare = ObjectInfo(key="k", size=1, etag=None)
    assert "ETag" not in object_headers(bare)
    assert "ETag" not in object_headers(ObjectInfo(key="k", size=1, etag='""'))
    assert conditional_answer(bare, if_none_match='""') is None
    assert conditional_answer(bare, if_none_match='"", W/""') is None


# ---------------------------------------------------------------- conditional reads


def test_if_none_match_with_the_etag_is_304_and_with_another_is_200(service: Service) -> None:
    etag = service.client.put("/objects/c.txt", content=b"cached").headers["etag"]
    first = service.client.get("/objects/c.txt")
    assert first.headers["etag"] == etag
    for header in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        again = service.client.get("/objects/c.txt", headers={"If-None-Match": header})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag), header
    changed = service.client.get("/objects/c.txt", headers={"If-None-Match": '"stale"'})
    assert (changed.status_code, changed.content) == (200, b"cached")
    service.client.put("/objects/c.txt", content=b"new bytes")
    after_write = service.client.get("/objects/c.txt", headers={"If-None-Match": etag})
    assert (after_write.status_code, after_write.content) == (200, b"new bytes")


def test_head_with_a_matching_if_none_match_is_304_as_get_is(service: Service) -> None:
    etag = put_body(service)
    cached = service.client.head("/objects/r", headers={"If-None-Match": etag})
    assert (cached.status_code, cached.headers["etag"]) == (304, etag)
    stale = service.client.head("/objects/r", headers={"If-None-Match": '"stale"'})
    assert (stale.status_code, stale.headers["content-length"]) == (200, str(len(BODY)))


def test_head_answers_the_size_etag_and_type_without_a_body(service: Service) -> None:
    put = service.client.put("/objects/h.txt", content=b"0123456789")
    answer = service.client.head("/objects/h.txt")
    assert answer.status_code == 200
    assert answer.headers["content-length"] == "10"
    assert answer.headers["etag"] == put.headers["etag"] == put.json()["etag"]
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.content == b""
    assert service.client.head("/objects/nothing").status_code == 404


# ---------------------------------------------------------------- ranged reads


@pytest.mark.parametrize(
    ("header", "body", "content_range"),
    [
        ("bytes=0-3", b"0123", "bytes 0-3/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
        ("bytes=-50", b"0123456789", "bytes 0-9/10"),
        ("Bytes=0-4", b"01234", "bytes 0-4/10"),  # the unit is case-insensitive
        ("bytes= 0-1", b"01", "bytes 0-1/10"),  # whitespace around a list element
        ("bytes = 2-3 ,", b"23", "bytes 2-3/10"),  # an empty list element is no range
    ],
)
def test_a_range_is_206_with_its_content_range(service: Service, header: str, body: bytes, content_range: str) -> None:
    put_body(service)
    answer = service.client.get("/objects/r", headers={"Range": header})
    assert (answer.status_code, answer.content) == (206, body)
    assert answer.headers["content-range"] == content_range
    assert answer.headers["content-length"] == str(len(body))


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=10-20", "bytes=-0"])
def test_a_valid_range_past_the_end_is_416_with_the_size(service: Service, header: str) -> None:
    put_body(service)
    answer = service.client.get("/objects/r", headers={"Range": header})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == "bytes */10"
    assert answer.json()["error"] == "range_not_satisfiable"


@pytest.mark.parametrize(
    "header",
    ["items=0-4", "bytes=0-1, 3-4", "bytes=0-1,4-5", "", "bytes=", "bytes=-", "bytes=5-2", "bytes=x-1", "0-4"],
)
def test_a_range_header_it_cannot_use_is_ignored_and_the_whole_object_sent(service: Service, header: str) -> None:
    put_body(service)
    answer = service.client.get("/objects/r", headers={"Range": header})
    assert (answer.status_code, answer.content) == (200, BODY)
    assert "content-range" not in answer.headers


def test_if_range_with_another_validator_ignores_the_range_and_sends_everything(service: Service) -> None:
    etag = put_body(service)
    for validator in ('"stale"', f"W/{etag}", "Wed, 21 Oct 2015 07:28:00 GMT"):
        answer = service.client.get("/objects/r", headers={"Range": "bytes=0-1", "If-Range": validator})
        assert (answer.status_code, answer.content) == (200, BODY), validator
        assert "content-range" not in answer.headers
    current = service.client.get("/objects/r", headers={"Range": "bytes=0-1", "If-Range": etag})
    assert (current.status_code, current.content) == (206, b"01")


# ---------------------------------------------------------------- listing


def test_listing_is_by_prefix_in_key_order_and_pages_with_after(service: Service) -> None:
    for key in ("logs/3", "logs/1", "logs/5", "logs/2", "logs/4", "other/1"):
        service.client.put(f"/objects/{key}", content=key.encode())
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        params = {"prefix": "logs/", "limit": 2, **({"after": after} if after else {})}
        page = service.client.get("/objects", params=params).json()
        pages += 1
        seen += [row["key"] for row in page["objects"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == ["logs/1", "logs/2", "logs/3", "logs/4", "logs/5"]
    assert pages == 3
    everything = service.client.get("/objects").json()
    assert [row["key"] for row in everything["objects"]] == [*seen, "other/1"]
    assert everything["objects"][0]["size"] == len(b"logs/1")
    assert everything["next_after"] is None


# ---------------------------------------------------------------- error answers


def test_a_route_the_service_lacks_answers_its_json_error_shape(service: Service) -> None:
    missing = service.client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "status": "permanent", "message": "Not Found: GET /nowhere"}
    wrong_method = service.client.patch("/objects/x", content=b"x")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"
    assert set(wrong_method.json()) == {"error", "status", "message"}
    assert "PUT" in wrong_method.headers["allow"]


def answer_to(error: FailoverError) -> tuple[int, dict[str, str], dict[str, Any]]:
    """What the service's handler answers for ``error`` raised by a route."""
    response = failover_error(Request({"type": "http", "method": "GET", "path": "/", "headers": []}), error)
    body: dict[str, Any] = json.loads(bytes(response.body))
    return response.status_code, dict(response.headers), body


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (AlreadyExists("exists"), 409, "already_exists"),
        (PreconditionFailed("changed"), 412, "precondition_failed"),
        (Unsupported("no such capability"), 501, "unsupported"),
        (ProviderError("refused for good"), 502, "provider"),
    ],
)
def test_a_permanent_error_gets_its_status(error: FailoverError, status: int, kind: str) -> None:
    code, headers, body = answer_to(error)
    assert code == status
    assert (body["error"], body["status"]) == (kind, "permanent")
    assert "retry-after" not in headers


@pytest.mark.parametrize(
    ("error", "retry_after"),
    [
        (CircuitOpen("open", retry_in=7.4), "7"),
        (CircuitOpen("open", retry_in=0.2), "1"),  # never 0: a client would retry at once
        (Throttled("slow down", retry_after=12.6), "13"),
        (Throttled("slow down"), "1"),  # the cloud said nothing: the service's default
    ],
)
def test_retry_after_comes_from_the_error(error: FailoverError, retry_after: str) -> None:
    code, headers, _ = answer_to(error)
    assert (code, headers["retry-after"]) == (503, retry_after)
