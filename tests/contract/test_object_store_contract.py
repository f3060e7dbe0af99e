"""The `ObjectStore` contract: every provider behaves the same way for these calls."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from failover.capabilities import OPERATIONS, Capability, ObjectInfo, ObjectStore, supported_operations
from failover.errors import InvalidInput, NotFound, PreconditionFailed
from failover.providers.memory import MemoryObjectStore


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def keys(infos: Iterator[ObjectInfo]) -> list[str]:
    return [info.key for info in infos]


def test_declares_every_object_store_operation(object_store: ObjectStore) -> None:
    assert supported_operations(object_store) >= OPERATIONS[Capability.OBJECT_STORE]
    probe = getattr(object_store, "probe", None)
    if probe is not None:
        assert probe() is None


# ------------------------------------------------------------------ round trips


def test_put_get_bytes(object_store: ObjectStore) -> None:
    data = b"hello, failover\x00\xff"
    info = object_store.put("greeting.bin", data)
    assert info.key == "greeting.bin"
    assert info.size == len(data)
    assert object_store.get("greeting.bin") == data


def test_put_accepts_file_like(object_store: ObjectStore, tmp_path: Path) -> None:
    object_store.put("from-bytesio", io.BytesIO(b"in memory"))
    path = tmp_path / "payload.bin"
    path.write_bytes(b"on disk" * 1000)
    with path.open("rb") as handle:
        info = object_store.put("from-file", handle)
    assert object_store.get("from-bytesio") == b"in memory"
    assert object_store.get("from-file") == b"on disk" * 1000
    assert info.size == 7000
    assert info.checksum == sha256(b"on disk" * 1000)


def test_put_rejects_text(object_store: ObjectStore) -> None:
    with pytest.raises(InvalidInput):
        object_store.put("text", "not bytes")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        object_store.put("text", io.StringIO("text-mode file"))  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        object_store.head("text")


def test_large_object(object_store: ObjectStore) -> None:
    data = os.urandom(5 * 1024 * 1024 + 17)
    info = object_store.put("big/blob", data)
    assert info.size == len(data)
    assert info.checksum == sha256(data)
    assert object_store.get("big/blob") == data
    assert object_store.get_range("big/blob", len(data) - 100, len(data) + 100) == data[-100:]
    assert object_store.head("big/blob").size == len(data)


def test_empty_object(object_store: ObjectStore) -> None:
    info = object_store.put("empty", b"")
    assert info.size == 0
    assert info.checksum == sha256(b"")
    assert object_store.get("empty") == b""
    assert object_store.get_range("empty", 0, 10) == b""
    assert object_store.head("empty").size == 0
    assert keys(object_store.list("empty")) == ["empty"]


@pytest.mark.parametrize(
    "key",
    [
        "naïve/日本語/ファイル.txt",
        "emoji/🎉 party.bin",
        "spaces and+plus%20percent?query#hash&amp=eq",
        "deep/" * 50 + "leaf",
        "x" * 1024,
    ],
    ids=["unicode", "emoji", "url-special", "deep", "max-length"],
)
def test_unusual_keys_round_trip(object_store: ObjectStore, key: str) -> None:
    object_store.put(key, key.encode())
    assert object_store.get(key) == key.encode()
    assert object_store.head(key).key == key
    assert keys(object_store.list(key)) == [key]


def test_overwrite_replaces_content_and_info(object_store: ObjectStore) -> None:
    object_store.put("k", b"first", content_type="text/plain", metadata={"v": "1"})
    object_store.put("k", b"second!", metadata={"v": "2"})
    assert object_store.get("k") == b"second!"
    info = object_store.head("k")
    assert info.size == 7
    assert info.checksum == sha256(b"second!")
    assert dict(info.metadata) == {"v": "2"}
    assert info.content_type != "text/plain"


# ------------------------------------------------------------------ object info


def test_content_type_and_metadata_preserved(object_store: ObjectStore) -> None:
    metadata = {"owner": "team-a", "build": "42", "note": "spaces are fine"}
    put = object_store.put("report.json", b"{}", content_type="application/json", metadata=metadata)
    head = object_store.head("report.json")
    for info in (put, head):
        assert info.content_type == "application/json"
        assert dict(info.metadata) == metadata
    metadata["owner"] = "changed after put"
    assert object_store.head("report.json").metadata["owner"] == "team-a"


def test_returned_metadata_is_a_private_copy(object_store: ObjectStore) -> None:
    object_store.put("m", b"x", metadata={"a": "1"})
    first = object_store.head("m")
    assert isinstance(first.metadata, dict)
    first.metadata["a"] = "tampered"
    assert object_store.head("m").metadata["a"] == "1"


def test_head_describes_the_object(object_store: ObjectStore) -> None:
    data = b"checksummed content"
    put = object_store.put("info", data)
    head = object_store.head("info")
    assert head.key == "info"
    assert head.size == len(data)
    assert head.checksum == put.checksum == sha256(data)
    assert head.etag and head.etag == put.etag
    assert isinstance(head.modified, float)


def test_etag_changes_with_content(object_store: ObjectStore) -> None:
    first = object_store.put("e", b"one").etag
    second = object_store.put("e", b"two").etag
    assert first and second and first != second


# ------------------------------------------------------------------ conditional writes
# Bodies stay small here: a conditional put above 8 MiB is a GCS resumable upload, whose
# ifGenerationMatch fake-gcs-server ignores (real GCS honours it), so large conditional
# puts are left out of this suite rather than run on some backends only (docs/providers.md,
# "Conditional writes").


def test_put_if_absent_creates_a_new_key(object_store: ObjectStore) -> None:
    info = object_store.put("fresh", b"first", if_absent=True)
    assert object_store.get("fresh") == b"first"
    assert info.etag == object_store.head("fresh").etag


def test_put_if_absent_on_an_existing_key_is_refused_and_keeps_the_old_bytes(object_store: ObjectStore) -> None:
    object_store.put("taken", b"old")
    with pytest.raises(PreconditionFailed) as caught:
        object_store.put("taken", b"new", if_absent=True)
    assert caught.value.status == "permanent"
    assert object_store.get("taken") == b"old"


def test_put_if_match_with_the_current_etag_writes(object_store: ObjectStore) -> None:
    first = object_store.put("cas", b"one")
    second = object_store.put("cas", b"two", if_match=first.etag)
    assert object_store.get("cas") == b"two"
    assert second.etag == object_store.head("cas").etag != first.etag
    # Tokens from head and list feed if_match as well as put's.
    object_store.put("cas", b"three", if_match=object_store.head("cas").etag)
    [listed] = object_store.list("cas")
    object_store.put("cas", b"four", if_match=listed.etag)
    assert object_store.get("cas") == b"four"


def test_put_if_match_with_a_stale_etag_is_refused_and_keeps_the_newer_bytes(object_store: ObjectStore) -> None:
    stale = object_store.put("cas", b"one").etag
    object_store.put("cas", b"two")
    with pytest.raises(PreconditionFailed) as caught:
        object_store.put("cas", b"rolled back", if_match=stale)
    assert caught.value.status == "permanent"
    assert object_store.get("cas") == b"two"


def test_put_if_match_on_a_missing_key_is_refused(object_store: ObjectStore) -> None:
    etag = object_store.put("was-here", b"x").etag
    object_store.delete("was-here")
    with pytest.raises(PreconditionFailed):
        object_store.put("was-here", b"back", if_match=etag)
    with pytest.raises(NotFound):
        object_store.head("was-here")


@pytest.mark.parametrize(
    ("if_match", "if_absent", "named"),
    [("etag", True, "not both"), ("", False, "if_match"), ("*", False, "if_match"), (7, False, "if_match"),
     (None, "yes", "if_absent")],
    ids=["both", "empty", "star", "int", "str-flag"],
)
def test_put_with_bad_conditions_is_invalid_input_before_any_request(
    object_store: ObjectStore, if_match: object, if_absent: object, named: str
) -> None:
    with pytest.raises(InvalidInput, match=named):
        object_store.put("conditional", b"x", if_match=if_match, if_absent=if_absent)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        object_store.head("conditional")


def test_memory_store_refuses_a_stale_etag_even_for_unchanged_bytes() -> None:
    # As strict as Azure and GCS, whose tokens change with every write; S3's etag is the
    # content's MD5, so there the stale token of identical bytes would still match.
    store = MemoryObjectStore()
    stale = store.put("same", b"bytes").etag
    store.put("same", b"bytes")
    with pytest.raises(PreconditionFailed):
        store.put("same", b"other", if_match=stale)
    assert store.get("same") == b"bytes"


# ------------------------------------------------------------------ ranges

DATA = bytes(range(256)) * 4  # 1024 bytes, each offset recognisable


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 1, DATA[:1]),
        (100, 200, DATA[100:200]),
        (0, 1024, DATA),
        (1000, 5000, DATA[1000:]),
        (1023, 1024, DATA[-1:]),
        (0, 0, b""),
        (500, 500, b""),
        (1024, 1024, b""),
        (1024, 2048, b""),
    ],
    ids=["first", "middle", "whole", "end-past-size", "last", "empty-at-0", "empty-middle",
         "empty-at-size", "start-at-size"],
)
def test_get_range(object_store: ObjectStore, start: int, end: int, expected: bytes) -> None:
    object_store.put("ranged", DATA)
    assert object_store.get_range("ranged", start, end) == expected


@pytest.mark.parametrize(("start", "end"), [(-1, 5), (10, 5), (0, -1)])
def test_get_range_rejects_bad_ranges(object_store: ObjectStore, start: int, end: int) -> None:
    object_store.put("ranged", DATA)
    with pytest.raises(InvalidInput):
        object_store.get_range("ranged", start, end)


# ------------------------------------------------------------------ streamed reads


def test_get_stream_round_trip_in_bounded_chunks(object_store: ObjectStore) -> None:
    data = os.urandom(5 * 1024 * 1024)
    object_store.put("streamed/big", data)
    stream = object_store.get_stream("streamed/big", chunk_size=64 * 1024)
    assert isinstance(stream, Iterator)
    chunks = list(stream)
    assert all(0 < len(chunk) <= 64 * 1024 for chunk in chunks)
    assert all(isinstance(chunk, bytes) for chunk in chunks)
    assert b"".join(chunks) == data


def test_get_stream_chunk_size_bounds_every_chunk(object_store: ObjectStore) -> None:
    object_store.put("ranged", DATA)
    chunks = list(object_store.get_stream("ranged", chunk_size=100))
    assert all(0 < len(chunk) <= 100 for chunk in chunks)
    assert b"".join(chunks) == DATA
    assert b"".join(object_store.get_stream("ranged")) == DATA  # default: 1 MiB chunks
    assert b"".join(object_store.get_stream("ranged", chunk_size=1)) == DATA


def test_get_stream_of_an_empty_object(object_store: ObjectStore) -> None:
    object_store.put("empty", b"")
    assert b"".join(object_store.get_stream("empty")) == b""
    assert b"".join(object_store.get_stream("empty", chunk_size=1)) == b""


def test_get_stream_of_a_missing_key_fails_on_the_call(object_store: ObjectStore) -> None:
    with pytest.raises(NotFound) as caught:
        object_store.get_stream("missing")  # not iterated: the call itself raises
    assert not caught.value.temporary
    assert caught.value.operation == "get_stream"


def test_get_stream_can_be_abandoned_early(object_store: ObjectStore) -> None:
    data = os.urandom(300_000)
    object_store.put("partial", data)
    stream = object_store.get_stream("partial", chunk_size=1000)
    assert next(stream) == data[:1000]
    close = getattr(stream, "close", None)
    if close is not None:
        close()
    assert object_store.get("partial") == data  # nothing left held or broken


@pytest.mark.parametrize("chunk_size", [0, -1, 1.5, True, "64"], ids=["zero", "negative", "float", "bool", "str"])
def test_get_stream_rejects_bad_chunk_sizes(object_store: ObjectStore, chunk_size: object) -> None:
    object_store.put("k", b"data")
    with pytest.raises(InvalidInput):
        object_store.get_stream("k", chunk_size=chunk_size)  # type: ignore[arg-type]


# ------------------------------------------------------------------ list


def test_list_in_key_order_with_prefix(object_store: ObjectStore) -> None:
    names = ["b/2", "a/1", "a/3", "a/2", "ab", "a", "c/é", "c/e", "c/日", "c/z"]
    for name in names:
        object_store.put(name, name.encode())
    assert keys(object_store.list()) == sorted(names)
    assert keys(object_store.list("a/")) == ["a/1", "a/2", "a/3"]
    assert keys(object_store.list("a")) == ["a", "a/1", "a/2", "a/3", "ab"]
    # Code-point order is UTF-8 byte order, the order the clouds list in.
    assert keys(object_store.list("c/")) == ["c/e", "c/z", "c/é", "c/日"]
    assert keys(object_store.list("nothing-here/")) == []


def test_list_yields_full_object_info(object_store: ObjectStore) -> None:
    object_store.put("dir/x", b"12345")
    [info] = list(object_store.list("dir/"))
    assert isinstance(info, ObjectInfo)
    assert (info.key, info.size) == ("dir/x", 5)
    assert info.etag == object_store.head("dir/x").etag


def test_list_is_lazy_and_safe_to_mutate_during(object_store: ObjectStore) -> None:
    for i in range(20):
        object_store.put(f"lazy/{i:02d}", b"x")
    listing = object_store.list("lazy/")
    assert isinstance(listing, Iterator)
    assert iter(listing) is listing
    first = next(listing)
    assert first.key == "lazy/00"
    seen = [first.key]
    for info in listing:
        seen.append(info.key)
        object_store.delete(info.key)  # mutation while iterating must not break the listing
        object_store.put(f"lazy/{info.key}-new", b"y")
    assert set(seen) <= {f"lazy/{i:02d}" for i in range(20)}
    assert seen == sorted(seen)


def test_list_more_than_one_page(object_store: ObjectStore) -> None:
    expected = [f"many/{i:05d}" for i in range(1100)]
    for key in expected:
        object_store.put(key, b"")
    object_store.put("other/1", b"")
    assert keys(object_store.list("many/")) == expected
    assert len(keys(object_store.list())) == 1101


# ------------------------------------------------------------------ delete and copy


def test_delete_is_idempotent(object_store: ObjectStore) -> None:
    object_store.put("gone", b"x")
    object_store.delete("gone")
    with pytest.raises(NotFound):
        object_store.get("gone")
    object_store.delete("gone")
    object_store.delete("never-existed")
    assert keys(object_store.list("gone")) == []


def test_copy(object_store: ObjectStore) -> None:
    data = b"copy me"
    object_store.put("src", data, content_type="text/plain", metadata={"k": "v"})
    info = object_store.copy("src", "dst/copied")
    assert info.key == "dst/copied"
    assert info.size == len(data)
    assert object_store.get("dst/copied") == data
    assert object_store.get("src") == data
    head = object_store.head("dst/copied")
    assert head.checksum == sha256(data)
    assert head.content_type == "text/plain"
    assert dict(head.metadata) == {"k": "v"}


def test_copy_overwrites_destination(object_store: ObjectStore) -> None:
    object_store.put("src", b"new")
    object_store.put("dst", b"old content")
    object_store.copy("src", "dst")
    assert object_store.get("dst") == b"new"
    assert object_store.head("dst").size == 3


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("operation", ["get", "head", "get_range", "get_stream", "copy"])
def test_missing_key_is_not_found(object_store: ObjectStore, operation: str) -> None:
    calls = {
        "get": lambda: object_store.get("missing"),
        "get_stream": lambda: object_store.get_stream("missing"),
        "head": lambda: object_store.head("missing"),
        "get_range": lambda: object_store.get_range("missing", 0, 1),
        "copy": lambda: object_store.copy("missing", "elsewhere"),
    }
    with pytest.raises(NotFound) as caught:
        calls[operation]()
    assert not caught.value.temporary
    with pytest.raises(FileNotFoundError):
        calls[operation]()
    with pytest.raises(NotFound):
        object_store.head("elsewhere")


@pytest.mark.parametrize(
    "key",
    ["", "a\x00b", "new\nline", "del\x7f", "x" * 1025, "é" * 513, 42, None],
    ids=["empty", "nul", "newline", "del", "too-long", "too-long-utf8", "int", "none"],
)
def test_invalid_keys_are_rejected(object_store: ObjectStore, key: object) -> None:
    for call in (
        lambda: object_store.put(key, b"x"),  # type: ignore[arg-type]
        lambda: object_store.get(key),  # type: ignore[arg-type]
        lambda: object_store.head(key),  # type: ignore[arg-type]
        lambda: object_store.get_range(key, 0, 1),  # type: ignore[arg-type]
        lambda: object_store.get_stream(key),  # type: ignore[arg-type]
        lambda: object_store.delete(key),  # type: ignore[arg-type]
        lambda: object_store.copy(key, "ok"),  # type: ignore[arg-type]
        lambda: object_store.copy("ok", key),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidInput):
            call()
    assert keys(object_store.list()) == []


def test_concurrent_writers(object_store: ObjectStore) -> None:
    def write(worker: int) -> None:
        for i in range(50):
            object_store.put(f"w{worker}/{i:02d}", f"{worker}:{i}".encode())

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys(object_store.list())) == 400
    assert object_store.get("w7/49") == b"7:49"


# ------------------------------------------------------------------ portable objects
# One rule set for every provider (failover.portable): what one cloud refuses or changes
# is refused by all, as InvalidInput, before anything is sent.


@pytest.mark.parametrize(
    "key",
    [".", "..", "a/./b", "a/../b", "dir/..", "trailing.", "back\\slash", "lone\ud800surrogate",
     "c1\x85control", "non\uffffcharacter", "non\ufffecharacter", "a/" * 254 + "b"],
    ids=["dot", "dot-dot", "dot-segment", "dot-dot-segment", "ends-dot-dot", "trailing-dot", "backslash",
         "lone-surrogate", "c1-control", "u+ffff", "u+fffe", "too-many-segments"],
)
def test_keys_some_cloud_cannot_store_are_invalid_input(object_store: ObjectStore, key: str) -> None:
    test_invalid_keys_are_rejected(object_store, key)


@pytest.mark.parametrize(
    "metadata",
    [
        {"Project-Name": "x"},
        {"Owner": "x"},
        {"1st": "x"},
        {"project_name": "x"},
        {"naïve": "x"},
        {"note": "two\nlines"},
        {"note": "carriage\rreturn"},
        {"note": "café"},
        {"note": "日本"},
        {"note": ""},
        {"note": " padded "},
        {"failover_sha256": "0" * 64},
        {"failoverversion": "not a version"},
        {f"m{i}": "v" for i in range(65)},
        {"note": "v" * 1800},
        [("note", "x")],
        "note=x",
        {"note": 1},
    ],
    ids=["dash-name", "upper-name", "digit-first-name", "underscore-name", "non-ascii-name", "newline-value",
         "cr-value", "latin1-value", "non-latin1-value", "empty-value", "padded-value", "reserved-checksum-name",
         "malformed-version", "65-entries", "too-many-bytes", "list", "str", "int-value"],
)
def test_unportable_metadata_is_invalid_input_and_writes_nothing(object_store: ObjectStore, metadata: object) -> None:
    with pytest.raises(InvalidInput, match="metadata") as caught:
        object_store.put("portable", b"x", metadata=metadata)  # type: ignore[arg-type]
    assert caught.value.status == "permanent"
    with pytest.raises(NotFound):
        object_store.head("portable")


@pytest.mark.parametrize(
    "content_type",
    ["", "text/plaîn", "text/plain\n", " text/plain", "no-slash", "text/plain; charset=\u00e9", 7],
    ids=["empty", "non-ascii", "newline", "padded", "no-slash", "non-ascii-parameter", "int"],
)
def test_unportable_content_type_is_invalid_input_and_writes_nothing(
    object_store: ObjectStore, content_type: object
) -> None:
    with pytest.raises(InvalidInput, match="content_type"):
        object_store.put("portable", b"x", content_type=content_type)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        object_store.head("portable")


def test_head_metadata_and_content_type_round_trip_into_put(object_store: ObjectStore) -> None:
    metadata = {"projectname": "Apollo 11", "private": "a=b; c", "x1": "~!@#$%^&*()"}
    object_store.put("src", b"one", content_type="text/plain; charset=utf-8", metadata=metadata)
    head = object_store.head("src")
    assert dict(head.metadata) == metadata
    object_store.put("dst", b"two", content_type=head.content_type, metadata=head.metadata)
    again = object_store.head("dst")
    assert (dict(again.metadata), again.content_type) == (metadata, "text/plain; charset=utf-8")


def test_sixty_four_metadata_entries_are_stored_and_read_back(object_store: ObjectStore) -> None:
    metadata = {f"m{i:02d}": f"value {i}" for i in range(64)}
    object_store.put("many", b"x", metadata=metadata)
    assert dict(object_store.head("many").metadata) == metadata


def test_put_returns_what_head_returns(object_store: ObjectStore) -> None:
    version = "01761234567890123456-writer"
    put = object_store.put("same", b"abc", content_type="text/csv", metadata={"a": "1", "failoverversion": version})
    head = object_store.head("same")
    [listed] = object_store.list("same")
    fields = ("key", "size", "etag", "checksum", "content_type", "metadata", "version")
    assert {f: getattr(put, f) for f in fields} == {f: getattr(head, f) for f in fields}
    assert (dict(head.metadata), head.version) == ({"a": "1"}, version)
    assert "failoverversion" not in listed.metadata
    assert listed.version in (None, version)  # S3's listing carries no metadata at all


@pytest.mark.parametrize(("start", "end"), [("0", 1), (0, "1"), (0.0, 1), (0, 1.5), (None, 1)])
def test_get_range_with_a_non_int_offset_is_invalid_input(
    object_store: ObjectStore, start: object, end: object
) -> None:
    object_store.put("ranged", DATA)
    with pytest.raises(InvalidInput, match="range"):
        object_store.get_range("ranged", start, end)  # type: ignore[arg-type]


@pytest.mark.parametrize(("start", "end"), [(10, 20), (11, 12), (5000, 6000)], ids=["past", "one-past", "far-past"])
def test_get_range_past_the_end_is_empty(object_store: ObjectStore, start: int, end: int) -> None:
    object_store.put("small", b"0123456789")
    assert object_store.get_range("small", start, end) == b""
    assert object_store.get_range("small", 8, 20) == b"89"
