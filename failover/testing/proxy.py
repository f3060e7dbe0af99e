"""A loopback TCP proxy that injects network faults in front of a real server.

``TcpProxy(upstream_port)`` listens on 127.0.0.1 (a free port) and forwards to
127.0.0.1:``upstream_port``.  Its mode can be switched at any moment, from any thread:

* ``pass_through()``: forward bytes both ways;
* ``delay(seconds)``: forward, but hold each chunk from the client for ``seconds``;
* ``blackhole()``: accept, read and discard, never answer (a silent firewall drop or a
  hung server: the case where an SDK's defaults wait for minutes);
* ``reset()``: close every connection with a TCP RST as soon as it is seen;
* ``http_503()``: answer each request with ``503 Service Unavailable`` and
  ``Retry-After: 1``, then close (a throttling or overloaded front end).

The mode applies to connections already open too, chunk by chunk: a client's pooled
keep-alive connection is blackholed like a new one, as a real network fault would be.
A connection that lost any bytes to the blackhole stays blackholed, because its HTTP
stream is broken from then on.

Why asyncio in one background thread: one loop serves every connection, and ``stop()``
can close them all from one place.  Everything is bounded: at most ``max_connections``
at a time, reads of at most 64 KiB, a 503 answer reads at most 64 KiB of headers for at
most ``_DRAIN_SECONDS`` (`failover.testing._http_503` reads the request), and ``stop()``
joins the (daemon) thread with a timeout.  Loopback only: both ends must be loopback
addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import ipaddress
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from failover.testing._http_503 import RESPONSE_503, read_request, read_within

T = TypeVar("T")

_CHUNK = 64 * 1024
_DRAIN_SECONDS = 2.0
_CONNECT_TIMEOUT = 2.0
_CONTROL_TIMEOUT = 5.0


class Mode(str, enum.Enum):
    PASS = "pass"
    DELAY = "delay"
    BLACKHOLE = "blackhole"
    RESET = "reset"
    HTTP_503 = "http_503"


@dataclass
class ProxyStats:
    """What the proxy did, so a test can prove its fault was really exercised."""

    accepted: int = 0
    rejected: int = 0  # over max_connections
    forwarded_chunks: int = 0
    blackholed_chunks: int = 0
    resets: int = 0
    answered_503: int = 0
    upstream_refused: int = 0
    by_mode: dict[str, int] = field(default_factory=dict)  # chunks seen from clients, per mode


def _require_loopback(host: str) -> None:
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the fault proxy is for loopback tests only, not {host}")


class TcpProxy:
    """A fault-injecting proxy: ``with TcpProxy(server.port) as proxy: proxy.blackhole()``."""

    def __init__(
        self,
        upstream_port: int,
        *,
        upstream_host: str = "127.0.0.1",
        host: str = "127.0.0.1",
        max_connections: int = 256,
    ) -> None:
        _require_loopback(upstream_host)
        _require_loopback(host)
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.port = 0
        self.max_connections = max_connections
        self.stats = ProxyStats()
        # One tuple, replaced whole: a reader on the loop never sees a mode with the
        # delay of another (attribute assignment is atomic under the GIL).
        self._setting: tuple[Mode, float] = (Mode.PASS, 0.0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    # ------------------------------------------------------------ control (any thread)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def mode(self) -> Mode:
        return self._setting[0]

    def set_mode(self, mode: Mode, delay: float = 0.0) -> None:
        if delay < 0:
            raise ValueError("delay must be >= 0")
        self._setting = (Mode(mode), float(delay))

    def pass_through(self) -> None:
        self.set_mode(Mode.PASS)

    def delay(self, seconds: float) -> None:
        self.set_mode(Mode.DELAY, seconds)

    def blackhole(self) -> None:
        self.set_mode(Mode.BLACKHOLE)

    def reset(self) -> None:
        self.set_mode(Mode.RESET)

    def http_503(self) -> None:
        self.set_mode(Mode.HTTP_503)

    @property
    def open_connections(self) -> int:
        return len(self._writers)

    def start(self) -> TcpProxy:
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=f"tcp-proxy-{self.upstream[1]}", daemon=True)
        self._thread.start()
        try:
            self._call(self._listen())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Close the listener and every connection, stop the loop, join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            if loop.is_running():
                self._call(self._shutdown())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=_CONTROL_TIMEOUT)
            if not thread.is_alive():
                loop.close()
            self._loop = None
            self._thread = None

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<TcpProxy {self.endpoint} -> {self.upstream[0]}:{self.upstream[1]} {self.mode.value}>"

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=_CONTROL_TIMEOUT)

    # ------------------------------------------------------------ the loop's side

    async def _listen(self) -> None:
        server = await asyncio.start_server(self._accept, self.host, 0, reuse_address=True)
        self.port = int(server.sockets[0].getsockname()[1])
        self._server = server

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        # Aborting a transport ends its reads with EOF, so each handler returns by itself;
        # cancelling is the fallback for one that does not (asleep in delay mode, say).
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=_CONTROL_TIMEOUT)
        if self._server is not None:
            # Only now: wait_closed() also waits for handlers on Python >= 3.12.
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._writers) >= self.max_connections:
            self.stats.rejected += 1
            writer.transport.abort()
            return
        self.stats.accepted += 1
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass  # a peer went away: the connection is over either way
        except asyncio.CancelledError:
            # Cancelled by stop(): end quietly.  asyncio's stream server asks each handler
            # task for its exception and logs a cancelled one as an error otherwise.
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode is Mode.RESET:
            self._rst(writer)
            return
        upstream: asyncio.StreamWriter | None = None
        back: asyncio.Task[None] | None = None
        poisoned = [False]  # shared with the pump back: a lost byte either way breaks the stream
        client_closed = False
        try:
            while True:
                chunk = await reader.read(_CHUNK)
                if not chunk:
                    client_closed = True
                    return
                mode, delay = self._setting
                self.stats.by_mode[mode.value] = self.stats.by_mode.get(mode.value, 0) + 1
                if poisoned[0] or mode is Mode.BLACKHOLE:
                    poisoned[0] = True
                    self.stats.blackholed_chunks += 1
                    continue
                if mode is Mode.RESET:
                    self._rst(writer)
                    return
                if mode is Mode.HTTP_503:
                    await self._answer_503(chunk, reader, writer)
                    return
                if mode is Mode.DELAY and delay:
                    await asyncio.sleep(delay)
                if upstream is None:
                    try:
                        up_reader, up_writer = await asyncio.wait_for(
                            asyncio.open_connection(*self.upstream), _CONNECT_TIMEOUT
                        )
                    except (OSError, asyncio.TimeoutError):
                        # A dead server behind a live proxy: the client sees its connection reset.
                        self.stats.upstream_refused += 1
                        self._rst(writer)
                        return
                    upstream = up_writer
                    self._writers.add(upstream)
                    back = asyncio.create_task(self._pump_back(up_reader, writer, poisoned))
                    self._tasks.add(back)
                upstream.write(chunk)
                await upstream.drain()
                self.stats.forwarded_chunks += 1
        finally:
            if client_closed and upstream is not None and back is not None:
                await self._half_close(upstream, back)
            if back is not None:
                back.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await back
                self._tasks.discard(back)
            if upstream is not None:
                self._writers.discard(upstream)
                upstream.transport.abort()

    async def _half_close(self, upstream: asyncio.StreamWriter, back: asyncio.Task[None]) -> None:
        """The client closed (or died) after sending: pass its FIN on, as a network would, and
        let the server read what it was sent and answer (bounded).  Aborting at once would
        reset the server's side and lose a request that, on a real network, still arrives."""
        with contextlib.suppress(OSError):
            if upstream.can_write_eof():
                upstream.write_eof()
        with contextlib.suppress(asyncio.TimeoutError, OSError):
            await asyncio.wait_for(asyncio.shield(back), _DRAIN_SECONDS)

    async def _pump_back(
        self, upstream: asyncio.StreamReader, writer: asyncio.StreamWriter, poisoned: list[bool]
    ) -> None:
        """Server to client; dropped while blackholed, and the client closed when the server
        does.  A client gone away does not stop the reading: the server's answer is drained,
        so its side ends with a FIN, not a reset."""
        client_gone = False
        while True:
            try:
                chunk = await upstream.read(_CHUNK)
            except OSError:
                break
            if not chunk:
                break
            if poisoned[0] or self.mode is Mode.BLACKHOLE:
                poisoned[0] = True
                continue
            if client_gone:
                continue
            try:
                writer.write(chunk)
                await writer.drain()
            except OSError:
                client_gone = True
        if not poisoned[0] and not client_gone:
            # The server closed: close the client's side too, after what is buffered.
            writer.close()

    async def _answer_503(self, first: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read the whole request (closing with unread bytes would send an RST instead), then 503."""
        loop = asyncio.get_running_loop()
        until = loop.time() + _DRAIN_SECONDS
        await read_request(first, reader, until)
        self.stats.answered_503 += 1  # before the answer, so a client that saw it sees the count
        writer.write(RESPONSE_503)
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        # Give the client a moment to read the answer and close first (bounded), then
        # close after what is buffered is sent.
        await read_within(reader, min(0.2, max(0.0, until - loop.time())))
        writer.close()
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)

    def _rst(self, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER on, 0 s: close() sends RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.stats.resets += 1
        writer.transport.abort()


__all__ = ["RESPONSE_503", "Mode", "ProxyStats", "TcpProxy"]
