"""The HTTP side of the fault proxy's ``http_503`` mode: the canned ``503 Service
Unavailable`` answer, and the reading of the request it answers (its head, then as much of
its body as ``Content-Length`` says, all bounded in bytes and time).  It stands apart from
`failover.testing.proxy` because it is the only code there that looks inside the bytes:
every other mode moves chunks without parsing them, and this is all the HTTP the proxy knows.
"""

from __future__ import annotations

import asyncio

# Reads of at most 64 KiB, and at most that much of a request's head before answering.
_CHUNK = 64 * 1024
_HEAD_LIMIT = 64 * 1024

RESPONSE_503 = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Retry-After: 1\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 19\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"Service Unavailable"
)


async def read_request(first: bytes, reader: asyncio.StreamReader, until: float) -> None:
    """Read the rest of the request that began with ``first``, until the loop's time ``until``:
    closing a socket with unread bytes sends an RST, which would hide the 503 from the client."""
    loop = asyncio.get_running_loop()
    buf = bytearray(first)
    while b"\r\n\r\n" not in buf and len(buf) < _HEAD_LIMIT:
        more = await read_within(reader, until - loop.time())
        if not more:
            break
        buf += more
    head, _, body = bytes(buf).partition(b"\r\n\r\n")
    headers = _headers(head)
    # With "Expect: 100-continue" the client waits for us before sending the body.
    if "100-continue" not in headers.get("expect", "").lower():
        remaining = _int(headers.get("content-length")) - len(body)
        while remaining > 0:
            more = await read_within(reader, until - loop.time())
            if not more:
                break
            remaining -= len(more)


async def read_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """One read of what the client sent within ``seconds``; nothing once time is up or the
    client is gone, so a caller's loop ends either way."""
    if seconds <= 0:
        return b""
    try:
        return await asyncio.wait_for(reader.read(_CHUNK), seconds)
    except (asyncio.TimeoutError, OSError):
        return b""


def _headers(head: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            out[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return out


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


__all__ = ["RESPONSE_503", "read_request", "read_within"]
