"""Streamed reads: the memory store's checksum check, the shared chunking helper, and
`FailoverStorage.get_stream` (failover on the call, errors raised once streaming began)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from failover.errors import IntegrityError, InvalidInput, NotFound
from failover.providers._objects import sha256_hex, verified_chunks
from failover.providers.memory import MemoryObjectStore
from failover.providers.memory.storage import _Object
from tests.unit.pools import make_rig
from tests.unit.replicas import make_replicas


def corrupt(store: MemoryObjectStore, key: str, data: bytes) -> None:
    """Replace the stored bytes and keep the recorded checksum: a rotten replica."""
    obj = store._objects[key]
    store._objects[key] = _Object(data, replace(obj.info, size=len(data)))


# ------------------------------------------------------------------ memory store


def test_memory_integrity_mismatch_is_raised_from_the_iterator_before_the_last_chunk() -> None:
    store = MemoryObjectStore()
    data = bytes(range(256)) * 10
    store.put("k", data)
    corrupt(store, "k", data[:-1] + b"\x00")
    stream = store.get_stream("k", chunk_size=1000)  # the call itself succeeds
    assert next(stream) == data[:1000]
    assert next(stream) == data[1000:2000]
    with pytest.raises(IntegrityError) as caught:
        next(stream)  # the last chunk is never handed out
    assert caught.value.temporary
    assert caught.value.operation == "get_stream"


def test_memory_integrity_mismatch_of_a_single_chunk_and_of_an_empty_object() -> None:
    store = MemoryObjectStore()
    store.put("one", b"abc")
    corrupt(store, "one", b"abd")
    with pytest.raises(IntegrityError):
        list(store.get_stream("one"))
    store.put("empty", b"")
    corrupt(store, "empty", b"")  # unchanged: still verifies
    assert list(store.get_stream("empty")) == []
    store.put("was-empty", b"x")
    corrupt(store, "was-empty", b"")
    with pytest.raises(IntegrityError):
        list(store.get_stream("was-empty"))


def test_memory_stream_serves_the_version_it_opened() -> None:
    store = MemoryObjectStore()
    store.put("k", b"old" * 10)
    stream = store.get_stream("k", chunk_size=4)
    store.put("k", b"new")
    assert b"".join(stream) == b"old" * 10


# ------------------------------------------------------------------ shared helper


def test_verified_chunks_recuts_skips_empty_pieces_and_checks_the_digest() -> None:
    data = os.urandom(10_000)
    pieces = [data[:3000], b"", data[3000:3001], data[3001:]]
    chunks = list(verified_chunks(pieces, sha256_hex(data), chunk_size=1024, where="w"))
    assert all(0 < len(c) <= 1024 for c in chunks)
    assert b"".join(chunks) == data
    # Without a stored digest (an object written by another tool) nothing is checked.
    assert b"".join(verified_chunks(pieces, None, chunk_size=7, where="w")) == data
    assert list(verified_chunks([], sha256_hex(b""), chunk_size=7, where="w")) == []


def test_verified_chunks_withholds_the_last_chunk_on_a_mismatch() -> None:
    data = b"0123456789"
    stream = verified_chunks([data], sha256_hex(b"something else"), chunk_size=4, where="s3://b/k")
    assert next(stream) == b"0123"
    assert next(stream) == b"4567"
    with pytest.raises(IntegrityError, match="s3://b/k"):
        next(stream)


# ------------------------------------------------------------------ facade


def test_facade_streams_and_validates_before_calling_any_provider() -> None:
    rig = make_rig()
    assert b"".join(rig.storage.get_stream("seed", chunk_size=2)) == b"seed-data"
    calls = sum(c.calls for c in rig.chaos)
    for bad in (0, -5, 2.0, False):
        with pytest.raises(InvalidInput):
            rig.storage.get_stream("seed", chunk_size=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        rig.storage.get_stream("")
    assert sum(c.calls for c in rig.chaos) == calls


def test_facade_missing_key_is_not_found_on_the_call() -> None:
    rig = make_rig()
    with pytest.raises(NotFound) as caught:
        rig.storage.get_stream("missing")
    assert caught.value.target == "memory:a"
    assert rig.chaos[1].calls == 0


def test_facade_empty_object_yields_nothing() -> None:
    rig = make_rig()
    rig.storage.put("empty", b"")
    assert list(rig.storage.get_stream("empty")) == []


def test_a_corrupt_first_chunk_fails_over_on_the_call() -> None:
    rig = make_rig()
    corrupt(rig.stores[0], "seed", b"rotten!!!")
    # One chunk: it is read, and verified, before get_stream returns.
    assert b"".join(rig.storage.get_stream("seed")) == b"seed-data"
    assert rig.storage.status()["memory:a"].errors == 1


def test_a_failure_after_streaming_began_is_raised_and_recorded_not_failed_over() -> None:
    rig = make_rig()
    data = os.urandom(5000)
    for store in rig.stores:
        store.put("big", data)
    corrupt(rig.stores[0], "big", data[:-1] + bytes([data[-1] ^ 1]))
    stream = rig.storage.get_stream("big", chunk_size=1000)
    received = [next(stream) for _ in range(4)]
    assert b"".join(received) == data[:4000]
    with pytest.raises(IntegrityError) as caught:
        next(stream)
    assert caught.value.target == "memory:a"
    assert caught.value.operation == "get_stream"
    assert rig.chaos[1].calls == 0, "bytes already handed out cannot be taken back: no failover"
    assert rig.storage.status()["memory:a"].errors == 1


def test_read_your_writes_streams_from_a_target_that_holds_the_latest(tmp_path: Path) -> None:
    r = make_replicas(tmp_path)
    r.storage.put("k", b"old")
    r.storage.repair()
    r.chaos[0].down()
    r.storage.put("k", b"new")
    r.heal()
    assert r.stores[0].get("k") == b"old"  # a still owes the new version...
    assert b"".join(r.storage.get_stream("k", chunk_size=1)) == b"new"  # ...so the stream avoids it
