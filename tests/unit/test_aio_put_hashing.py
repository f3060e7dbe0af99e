"""An async put hashes a big body in a worker thread, not on the event loop, and a put
cancelled meanwhile ends only once that thread has let go of the caller's file (which a
retry on the next target reads next)."""

from __future__ import annotations

import asyncio
import io
import threading
from typing import Any

import pytest

from failover.errors import InvalidInput
from failover.providers._aio import HASH_ON_LOOP_LIMIT, prepared_write
from failover.providers._objects import sha256_hex
from failover.providers.aws import AsyncS3Store


class Watched(io.BytesIO):
    """A file that records which thread reads it, and can hold its first read until ``go``."""

    def __init__(self, data: bytes, *, hold: bool = False) -> None:
        super().__init__(data)
        self.readers: list[str] = []
        self.reading = threading.Event()
        self.go = threading.Event()
        if not hold:
            self.go.set()

    def read(self, size: int | None = -1) -> bytes:
        self.readers.append(threading.current_thread().name)
        self.reading.set()
        assert self.go.wait(10), "the test never let the read go on"
        return super().read(size)


def prepared(data: Any) -> Any:
    return prepared_write("big/file.bin", data, None, None, None, False, limit=("S3", 2048))


def test_a_file_is_hashed_off_the_loop_and_rewound_for_the_upload() -> None:
    data = b"q" * (3 * 1024 * 1024)
    file = Watched(data)
    write = asyncio.run(prepared(file))
    assert (write.body.size, write.body.sha256) == (len(data), sha256_hex(data))
    assert file.readers and threading.main_thread().name not in file.readers
    assert file.tell() == 0  # the upload reads it again from its start


def test_small_bytes_are_hashed_on_the_loop_and_big_ones_off_it(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed_on: list[str] = []
    real = asyncio.to_thread

    async def counted(*args: Any, **kwargs: Any) -> Any:
        hashed_on.append("thread")
        return await real(*args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    small, big = b"s" * HASH_ON_LOOP_LIMIT, b"b" * (HASH_ON_LOOP_LIMIT + 1)
    assert asyncio.run(prepared(small)).body.sha256 == sha256_hex(small)
    assert hashed_on == []
    assert asyncio.run(prepared(big)).body.sha256 == sha256_hex(big)
    assert hashed_on == ["thread"]


def test_bad_input_found_while_hashing_in_the_thread_is_still_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="binary"):
        asyncio.run(prepared(io.StringIO("text, not bytes")))


def test_a_put_cancelled_while_hashing_ends_after_the_thread_lets_go_of_the_file() -> None:
    file = Watched(b"c" * (2 * 1024 * 1024), hold=True)
    store = AsyncS3Store("bucket", region="us-east-1", endpoint_url="http://127.0.0.1:9")

    async def scenario() -> list[str]:
        put = asyncio.create_task(store.put("big/file.bin", file))
        await asyncio.to_thread(file.reading.wait, 10)  # the thread is in the file now
        put.cancel()
        for _ in range(3):  # the cancellation delivered, and the put's answer to it
            await asyncio.sleep(0)
        assert not put.done(), "the put ended while its thread still read the caller's file"
        file.go.set()
        with pytest.raises(asyncio.CancelledError):
            await put
        return list(file.readers)

    readers_when_cancelled = asyncio.run(scenario())
    assert file.readers == readers_when_cancelled  # nothing read the file after the put ended
    assert file.tell() == 0
