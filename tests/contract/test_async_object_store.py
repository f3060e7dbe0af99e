"""The `AsyncObjectStore` contract: the sync `ObjectStore` contract's behaviours, awaited.

Run against the async memory store and each native async adapter on the session's local
servers (tests/contract/async_stores.py).  Streams (``get_stream``) are not part of the
async protocol; concurrent writers are tasks on one loop instead of threads.  Families of
bad input run as one test per store, each case checked in turn.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from failover.aio.capabilities import ASYNC_OBJECT_OPERATIONS
from failover.capabilities import ObjectInfo
from failover.errors import InvalidInput, NotFound, PreconditionFailed
from tests.contract.async_stores import ASYNC_PARAMS, AsyncCase, make_case
from tests.contract.test_object_store_contract import DATA

# What the sync contract refuses, as it lists it (tests/contract/test_object_store_contract.py).
INVALID_KEYS: list[Any] = ["", "a\x00b", "new\nline", "del\x7f", "x" * 1025, "é" * 513, 42, None]
UNPORTABLE_KEYS = [".", "..", "a/./b", "a/../b", "dir/..", "trailing.", "back\\slash", "lone\ud800surrogate",
                   "c1\x85control", "non\uffffcharacter", "non\ufffecharacter", "a/" * 254 + "b"]  # fmt: skip
UNPORTABLE_METADATA: list[Any] = [
    {"Project-Name": "x"}, {"Owner": "x"}, {"1st": "x"}, {"project_name": "x"}, {"naïve": "x"},
    {"note": "two\nlines"}, {"note": "carriage\rreturn"}, {"note": "café"}, {"note": "日本"}, {"note": ""},
    {"note": " padded "}, {"failover_sha256": "0" * 64}, {"failoverversion": "not a version"},
    {f"m{i}": "v" for i in range(65)}, {"note": "v" * 1800}, [("note", "x")], "note=x", {"note": 1},
]  # fmt: skip
UNPORTABLE_CONTENT_TYPES: list[Any] = ["", "text/plaîn", "text/plain\n", " text/plain", "no-slash",
                                       "text/plain; charset=\u00e9", 7]  # fmt: skip
RANGES = [(0, 1, DATA[:1]), (100, 200, DATA[100:200]), (0, 1024, DATA), (1000, 5000, DATA[1000:]),
          (1023, 1024, DATA[-1:]), (0, 0, b""), (500, 500, b""), (1024, 1024, b""), (1024, 2048, b"")]  # fmt: skip


# Azure's aio client hands aiohttp a put's body as bytes, and aiohttp warns (a
# ResourceWarning) above 1 MiB that writing it may hold the loop; docs/async.md says so.
# Every other ResourceWarning (an unclosed session or socket) still fails a test run with
# ``-W error::ResourceWarning``.
pytestmark = pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning")


@pytest.fixture(params=ASYNC_PARAMS)
def async_case(request: pytest.FixtureRequest) -> AsyncCase:
    return make_case(request)


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


async def keys(infos: AsyncIterator[ObjectInfo]) -> list[str]:
    return [info.key async for info in infos]


async def absent(store: Any, key: str) -> None:
    with pytest.raises(NotFound):
        await store.head(key)


def test_offers_every_async_operation_and_a_probe(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        for operation in ASYNC_OBJECT_OPERATIONS:
            assert callable(getattr(store, operation))
        assert await store.probe() is None

    async_case(scenario)


# ------------------------------------------------------------------ round trips


def test_put_get_bytes(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        data = b"hello, failover\x00\xff"
        info = await store.put("greeting.bin", data)
        assert (info.key, info.size) == ("greeting.bin", len(data))
        assert await store.get("greeting.bin") == data

    async_case(scenario)


def test_put_accepts_file_like(async_case: AsyncCase, tmp_path: Path) -> None:
    path = tmp_path / "payload.bin"
    path.write_bytes(b"on disk" * 1000)

    async def scenario(store: Any) -> None:
        await store.put("from-bytesio", io.BytesIO(b"in memory"))
        with path.open("rb") as handle:
            info = await store.put("from-file", handle)
        assert await store.get("from-bytesio") == b"in memory"
        assert await store.get("from-file") == b"on disk" * 1000
        assert (info.size, info.checksum) == (7000, sha256(b"on disk" * 1000))

    async_case(scenario)


def test_put_rejects_text(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        for text in ("not bytes", io.StringIO("text-mode file")):
            with pytest.raises(InvalidInput):
                await store.put("text", text)
        await absent(store, "text")

    async_case(scenario)


def test_large_object(async_case: AsyncCase) -> None:
    data = os.urandom(5 * 1024 * 1024 + 17)

    async def scenario(store: Any) -> None:
        info = await store.put("big/blob", data)
        assert (info.size, info.checksum) == (len(data), sha256(data))
        assert await store.get("big/blob") == data
        assert await store.get_range("big/blob", len(data) - 100, len(data) + 100) == data[-100:]
        assert (await store.head("big/blob")).size == len(data)

    async_case(scenario)


def test_empty_object(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        info = await store.put("empty", b"")
        assert (info.size, info.checksum) == (0, sha256(b""))
        assert await store.get("empty") == b""
        assert await store.get_range("empty", 0, 10) == b""
        assert (await store.head("empty")).size == 0
        assert await keys(store.list("empty")) == ["empty"]

    async_case(scenario)


def test_unusual_keys_round_trip(async_case: AsyncCase) -> None:
    unusual = ["naïve/日本語/ファイル.txt", "emoji/🎉 party.bin", "spaces and+plus%20percent?query#hash&amp=eq",
               "deep/" * 50 + "leaf", "x" * 1024]  # fmt: skip

    async def scenario(store: Any) -> None:
        for key in unusual:
            await store.put(key, key.encode())
            assert await store.get(key) == key.encode()
            assert (await store.head(key)).key == key
            assert await keys(store.list(key)) == [key]

    async_case(scenario)


def test_overwrite_replaces_content_and_info(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        await store.put("k", b"first", content_type="text/plain", metadata={"v": "1"})
        await store.put("k", b"second!", metadata={"v": "2"})
        assert await store.get("k") == b"second!"
        info = await store.head("k")
        assert (info.size, info.checksum, dict(info.metadata)) == (7, sha256(b"second!"), {"v": "2"})
        assert info.content_type != "text/plain"

    async_case(scenario)


# ------------------------------------------------------------------ object info


def test_content_type_and_metadata_preserved_as_private_copies(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        metadata = {"owner": "team-a", "build": "42", "note": "spaces are fine"}
        put = await store.put("report.json", b"{}", content_type="application/json", metadata=metadata)
        head = await store.head("report.json")
        for info in (put, head):
            assert (info.content_type, dict(info.metadata)) == ("application/json", metadata)
        metadata["owner"] = "changed after put"
        head.metadata["build"] = "tampered"
        assert dict((await store.head("report.json")).metadata) == {
            "owner": "team-a",
            "build": "42",
            "note": "spaces are fine",
        }

    async_case(scenario)


def test_head_describes_the_object_and_the_etag_changes_with_content(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        data = b"checksummed content"
        put = await store.put("info", data)
        head = await store.head("info")
        assert (head.key, head.size) == ("info", len(data))
        assert head.checksum == put.checksum == sha256(data)
        assert head.etag and head.etag == put.etag
        assert isinstance(head.modified, float)
        assert (await store.put("info", b"two")).etag not in (None, put.etag)

    async_case(scenario)


def test_put_returns_what_head_returns(async_case: AsyncCase) -> None:
    version = "01761234567890123456-writer"

    async def scenario(store: Any) -> None:
        put = await store.put("same", b"abc", content_type="text/csv", metadata={"a": "1", "failoverversion": version})
        head = await store.head("same")
        [listed] = [info async for info in store.list("same")]
        fields = ("key", "size", "etag", "checksum", "content_type", "metadata", "version")
        assert {f: getattr(put, f) for f in fields} == {f: getattr(head, f) for f in fields}
        assert (dict(head.metadata), head.version) == ({"a": "1"}, version)
        assert "failoverversion" not in listed.metadata
        assert listed.version in (None, version)  # S3's listing carries no metadata at all

    async_case(scenario)


def test_head_metadata_and_content_type_round_trip_into_put(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        metadata = {"projectname": "Apollo 11", "private": "a=b; c", "x1": "~!@#$%^&*()"}
        await store.put("src", b"one", content_type="text/plain; charset=utf-8", metadata=metadata)
        head = await store.head("src")
        await store.put("dst", b"two", content_type=head.content_type, metadata=head.metadata)
        again = await store.head("dst")
        assert (dict(again.metadata), again.content_type) == (metadata, "text/plain; charset=utf-8")
        many = {f"m{i:02d}": f"value {i}" for i in range(64)}
        await store.put("many", b"x", metadata=many)
        assert dict((await store.head("many")).metadata) == many

    async_case(scenario)


# ------------------------------------------------------------------ conditional writes


def test_put_if_absent(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        info = await store.put("fresh", b"first", if_absent=True)
        assert info.etag == (await store.head("fresh")).etag
        with pytest.raises(PreconditionFailed) as caught:
            await store.put("fresh", b"new", if_absent=True)
        assert caught.value.status == "permanent"
        assert await store.get("fresh") == b"first"

    async_case(scenario)


def test_put_if_match(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        first = await store.put("cas", b"one")
        second = await store.put("cas", b"two", if_match=first.etag)
        assert second.etag == (await store.head("cas")).etag != first.etag
        await store.put("cas", b"three", if_match=(await store.head("cas")).etag)
        [listed] = [info async for info in store.list("cas")]
        await store.put("cas", b"four", if_match=listed.etag)
        assert await store.get("cas") == b"four"
        with pytest.raises(PreconditionFailed) as caught:
            await store.put("cas", b"rolled back", if_match=first.etag)
        assert caught.value.status == "permanent"
        assert await store.get("cas") == b"four"

    async_case(scenario)


def test_put_if_match_on_a_missing_key_is_refused(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        etag = (await store.put("was-here", b"x")).etag
        await store.delete("was-here")
        with pytest.raises(PreconditionFailed):
            await store.put("was-here", b"back", if_match=etag)
        await absent(store, "was-here")

    async_case(scenario)


def test_put_with_bad_conditions_is_invalid_input_before_any_request(async_case: AsyncCase) -> None:
    cases = [("etag", True, "not both"), ("", False, "if_match"), ("*", False, "if_match"), (7, False, "if_match"),
             (None, "yes", "if_absent")]  # fmt: skip

    async def scenario(store: Any) -> None:
        for if_match, if_absent, named in cases:
            with pytest.raises(InvalidInput, match=named):
                await store.put("conditional", b"x", if_match=if_match, if_absent=if_absent)
        await absent(store, "conditional")

    async_case(scenario)


# ------------------------------------------------------------------ ranges


def test_get_range(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        await store.put("ranged", DATA)
        for start, end, expected in RANGES:
            assert await store.get_range("ranged", start, end) == expected, (start, end)
        await store.put("small", b"0123456789")
        for start, end in ((10, 20), (11, 12), (5000, 6000)):
            assert await store.get_range("small", start, end) == b""
        assert await store.get_range("small", 8, 20) == b"89"

    async_case(scenario)


def test_get_range_rejects_bad_ranges(async_case: AsyncCase) -> None:
    bad: list[tuple[Any, Any]] = [(-1, 5), (10, 5), (0, -1), ("0", 1), (0, "1"), (0.0, 1), (0, 1.5), (None, 1)]

    async def scenario(store: Any) -> None:
        await store.put("ranged", DATA)
        for start, end in bad:
            with pytest.raises(InvalidInput):
                await store.get_range("ranged", start, end)

    async_case(scenario)


# ------------------------------------------------------------------ list


def test_list_in_key_order_with_prefix(async_case: AsyncCase) -> None:
    names = ["b/2", "a/1", "a/3", "a/2", "ab", "a", "c/é", "c/e", "c/日", "c/z"]

    async def scenario(store: Any) -> None:
        for name in names:
            await store.put(name, name.encode())
        assert await keys(store.list()) == sorted(names)
        assert await keys(store.list("a/")) == ["a/1", "a/2", "a/3"]
        assert await keys(store.list("a")) == ["a", "a/1", "a/2", "a/3", "ab"]
        assert await keys(store.list("c/")) == ["c/e", "c/z", "c/é", "c/日"]  # UTF-8 byte order
        assert await keys(store.list("nothing-here/")) == []

    async_case(scenario)


def test_list_yields_full_object_info(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        await store.put("dir/x", b"12345")
        [info] = [info async for info in store.list("dir/")]
        assert isinstance(info, ObjectInfo)
        assert (info.key, info.size, info.etag) == ("dir/x", 5, (await store.head("dir/x")).etag)

    async_case(scenario)


def test_list_is_lazy_and_safe_to_mutate_during(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        for i in range(20):
            await store.put(f"lazy/{i:02d}", b"x")
        listing = store.list("lazy/")
        assert isinstance(listing, AsyncIterator)
        assert listing.__aiter__() is listing
        first = await listing.__anext__()
        assert first.key == "lazy/00"
        seen = [first.key]
        async for info in listing:
            seen.append(info.key)
            await store.delete(info.key)  # mutation while iterating must not break the listing
            await store.put(f"lazy/{info.key}-new", b"y")
        assert set(seen) <= {f"lazy/{i:02d}" for i in range(20)}
        assert seen == sorted(seen)

    async_case(scenario)


def test_list_more_than_one_page(async_case: AsyncCase) -> None:
    expected = [f"many/{i:05d}" for i in range(1100)]

    async def scenario(store: Any) -> None:
        lanes = asyncio.Semaphore(16)

        async def put(key: str) -> None:
            async with lanes:
                await store.put(key, b"")

        await asyncio.gather(*(put(key) for key in [*expected, "other/1"]))
        assert await keys(store.list("many/")) == expected
        assert len(await keys(store.list())) == 1101

    async_case(scenario)


def test_concurrent_writers(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        async def write(worker: int) -> None:
            for i in range(25):
                await store.put(f"w{worker}/{i:02d}", f"{worker}:{i}".encode())

        await asyncio.gather(*(write(n) for n in range(8)))
        assert len(await keys(store.list())) == 200
        assert await store.get("w7/24") == b"7:24"

    async_case(scenario)


# ------------------------------------------------------------------ delete and copy


def test_delete_is_idempotent(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        await store.put("gone", b"x")
        await store.delete("gone")
        with pytest.raises(NotFound):
            await store.get("gone")
        await store.delete("gone")
        await store.delete("never-existed")
        assert await keys(store.list("gone")) == []

    async_case(scenario)


def test_copy(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        data = b"copy me"
        await store.put("src", data, content_type="text/plain", metadata={"k": "v"})
        info = await store.copy("src", "dst/copied")
        assert (info.key, info.size) == ("dst/copied", len(data))
        assert await store.get("dst/copied") == data == await store.get("src")
        head = await store.head("dst/copied")
        assert (head.checksum, head.content_type, dict(head.metadata)) == (sha256(data), "text/plain", {"k": "v"})
        assert (info.etag, info.checksum) == (head.etag, head.checksum)
        await store.put("dst", b"old content")
        await store.copy("src", "dst")
        assert (await store.get("dst"), (await store.head("dst")).size) == (data, len(data))

    async_case(scenario)


# ------------------------------------------------------------------ errors


def test_missing_key_is_not_found(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        calls = {
            "get": lambda: store.get("missing"),
            "head": lambda: store.head("missing"),
            "get_range": lambda: store.get_range("missing", 0, 1),
            "empty get_range": lambda: store.get_range("missing", 0, 0),
            "copy": lambda: store.copy("missing", "elsewhere"),
        }
        for name, call in calls.items():
            with pytest.raises(NotFound) as caught:
                await call()
            assert not caught.value.temporary, name
            assert isinstance(caught.value, FileNotFoundError)
        await absent(store, "elsewhere")

    async_case(scenario)


def test_invalid_and_unportable_keys_are_rejected_by_every_call(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        for key in [*INVALID_KEYS, *UNPORTABLE_KEYS]:
            for call in (
                lambda k: store.put(k, b"x"),
                lambda k: store.get(k),
                lambda k: store.head(k),
                lambda k: store.get_range(k, 0, 1),
                lambda k: store.delete(k),
                lambda k: store.copy(k, "ok"),
                lambda k: store.copy("ok", k),
            ):
                with pytest.raises(InvalidInput):
                    await call(key)
        assert await keys(store.list()) == []

    async_case(scenario)


def test_unportable_metadata_and_content_types_are_invalid_input_and_write_nothing(async_case: AsyncCase) -> None:
    async def scenario(store: Any) -> None:
        for metadata in UNPORTABLE_METADATA:
            with pytest.raises(InvalidInput, match="metadata") as caught:
                await store.put("portable", b"x", metadata=metadata)
            assert caught.value.status == "permanent"
        for content_type in UNPORTABLE_CONTENT_TYPES:
            with pytest.raises(InvalidInput, match="content_type"):
                await store.put("portable", b"x", content_type=content_type)
        await absent(store, "portable")

    async_case(scenario)
