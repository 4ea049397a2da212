"""The HTTP/1.1 server of the endpoint: asyncio (uvloop where installed) with httptools' parser.

Every request of every service passes through here, so it is kept to what the endpoint needs:
keep-alive and pipelining (requests on one connection are answered in order), Content-Length
and chunked request bodies, ``Expect: 100-continue``, HEAD, idle connections closed after a
keep-alive period, and a graceful stop that lets requests in flight finish. A response goes out
in one write (status line, headers and body together). A general ASGI server cost about 70 us
more per request here, a sixth of a warm Invoke.

No client can stall the endpoint: request heads (request line and headers) are bounded in size
and count and must arrive within ``ServerLimits.header_timeout_s``, the number of open
connections is capped, and bodies beyond the server's limit are refused (before they are sent, when the
client asks ``Expect: 100-continue``, as S3 uploads do). The timeouts are enforced by
one periodic sweep over the connections, so a request costs no timer.

Large bodies never sit in memory: given a spool directory, a request body beyond
``SPOOL_THRESHOLD`` is written to a file there as it arrives (up to ``MAX_SPOOLED``, S3's 5 GB
single upload plus its chunk framing) and removed once the request is answered; a response with a
``file`` is streamed from it in pieces, at the pace the client reads.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import email.utils
import http
import logging
import os
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httptools

from cumulo.protocol.http import MAX_BODY, BodyFile, HttpRequest, HttpResponse, remove_spool

log = logging.getLogger("cumulo.http")
Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]

SPOOL_THRESHOLD = 10 * 1024 * 1024  # bodies up to this stay in memory (an HTTP API's payload limit)
MAX_SPOOLED = 5 * 1024 ** 3 + 64 * 1024 * 1024  # S3's largest PutObject with its aws-chunked framing
STREAM_PIECE = 1024 * 1024  # a streamed response is read and written this much at a time
MAX_QUEUED = 16  # pipelined requests waiting on one connection before reading pauses
# Request heads: AWS's front ends refuse heads beyond 16-64 KiB (an ALB allows 64 KiB of headers and
# a 16 KiB request line); SDK requests stay far below (S3 allows 2 KiB of user metadata). Bounding the
# head also bounds what httptools accumulates for one header, which it does by repeated concatenation.
MAX_HEAD_BYTES = 64 * 1024
MAX_URL_BYTES = 16 * 1024
MAX_HEADERS = 100
_STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n" for status in http.HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_TOO_LARGE = HttpResponse(413, {"Content-Type": "application/json"}, b'{"message":"Request entity too large"}')
_BAD_REQUEST = HttpResponse(400, {"Content-Type": "text/plain; charset=utf-8"}, b"Invalid HTTP request received.")
_INTERNAL = HttpResponse(500, {"Content-Type": "text/plain; charset=utf-8"}, b"Internal Server Error")
_HEAD_TOO_LARGE = HttpResponse(431, {"Content-Type": "application/json"},
                               b'{"message":"Request header fields too large"}')
_URL_TOO_LONG = HttpResponse(414, {"Content-Type": "application/json"}, b'{"message":"Request URI too long"}')
_HEAD_TIMEOUT = HttpResponse(408, {"Content-Type": "application/json"}, b'{"message":"Request timeout"}')
_BUSY = HttpResponse(503, {"Content-Type": "application/json"},
                     b'{"message":"Too many connections, try again later"}')


@dataclass(frozen=True)
class ServerLimits:
    """How long and how many: idle keep-alive period, time to send a request head, open connections."""

    keep_alive_s: float = 75.0
    header_timeout_s: float = 30.0
    max_connections: int = 1000


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that is answered with ``response``."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


class _Date:
    """The Date header, formatted once a second."""

    second = -1
    value = ""

    @classmethod
    def now(cls) -> str:
        second = int(time.time())
        if second != cls.second:
            cls.second, cls.value = second, email.utils.formatdate(second, usegmt=True)
        return cls.value


def _status_line(status: int) -> str:
    return _STATUS_LINES.get(status) or f"HTTP/1.1 {status} Unknown\r\n"


def encode_response(response: HttpResponse, method: str, close: bool) -> bytes:
    """Status line, headers and body as one block. HEAD answers and 204/304 carry no body (HEAD
    keeps its Content-Length); a header that would break the framing (CR/LF in it) is refused."""
    lines = [_status_line(response.status)]
    has_length = False
    for name, value in (*response.headers.items(), *response.extra_headers):
        if name == "Connection":
            continue  # written below when the connection closes
        if "\r" in name or "\n" in name or ":" in name or "\r" in value or "\n" in value:
            raise ValueError(f"invalid response header {name!r}")
        if name.lower() == "content-length":
            if response.status in (204, 304):
                continue
            has_length = True
        lines.append(f"{name}: {value}\r\n")
    body = response.body
    if response.status in (204, 304):
        body = b""
    elif response.stream is not None:
        lines.append("transfer-encoding: chunked\r\n")
    elif not has_length:
        lines.append(f"content-length: {response.file.size if response.file else len(body)}\r\n")
    if method == "HEAD":
        body = b""
    lines.append(f"date: {_Date.now()}\r\n")
    if close:
        lines.append("connection: close\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1") + body


class _Connection(asyncio.Protocol):
    """One client connection: parses requests, answers them one at a time in arrival order."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()  # kept: each lookup makes a getpid() system call
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.client = ""
        self.queue: collections.deque[tuple[HttpRequest | HttpResponse, bool]] = collections.deque()
        self.busy = False
        self.closing = False
        self.last_active = time.monotonic()
        # The head (request line and headers) being read: since when (None once it is complete and
        # until the next request starts), whether any of it arrived, and its size so far.
        self.head_since: float | None = self.last_active
        self.head_begun = False
        self.head_bytes = 0
        self.reading_head = True
        self._drained: asyncio.Future | None = None
        self._reading_paused = False
        self._reset()

    def _reset(self) -> None:
        self.url: list[bytes] = []
        self.url_size = 0
        self.headers: dict[str, str] = {}
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.header_size = 0
        self.body: list[bytes] = []
        self.size = 0
        self.spool_file: BinaryIO | None = None

    # --- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if len(self.server.connections) >= self.server.limits.max_connections:
            self.closing = True  # over the cap: answered at once, the connections served stay undisturbed
            transport.write(encode_response(_BUSY, "GET", close=True))  # type: ignore[attr-defined]
            transport.close()
            return
        peer = transport.get_extra_info("peername")
        # a Unix socket's clients are functions of isolated environments (cumulo.runtime.network),
        # local as they were on the host's loopback
        self.client = peer[0] if isinstance(peer, tuple) else "127.0.0.1"
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.connections.discard(self)
        self._drop_spool()
        if not self.busy:
            self._drop_queue()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        if self.reading_head:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.closing = True  # no protocol upgrades here: answer what was asked, then close
        except httptools.HttpParserError as error:
            refused = error.__context__
            self.refuse(refused.response if isinstance(refused, _Refused) else _BAD_REQUEST)
        else:
            if self.reading_head and self.head_bytes > MAX_HEAD_BYTES:
                self.refuse(_HEAD_TOO_LARGE)  # a header still incomplete after more than the limit

    def refuse(self, response: HttpResponse) -> None:
        """Answer ``response`` after the requests before it, read nothing more, then close."""
        self.head_since = None
        self.reading_head = False
        self.transport.pause_reading()
        self._reading_paused = False  # so that answering the queue never resumes reading
        self._enqueue(response, keep_alive=False)

    def pause_writing(self) -> None:
        self._drained = self.loop.create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    # --- httptools callbacks ---------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.head_since = self.last_active
        self.head_begun = True

    def on_url(self, url: bytes) -> None:
        self.url_size += len(url)
        if self.url_size > MAX_URL_BYTES:
            raise _Refused(_URL_TOO_LONG)
        self.url.append(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_size += len(name) + len(value)
        if self.header_size > MAX_HEAD_BYTES or len(self.raw_headers) >= MAX_HEADERS:
            raise _Refused(_HEAD_TOO_LARGE)
        name = name.lower()
        self.raw_headers.append((name, value))
        key, text = name.decode("latin-1"), value.decode("latin-1")
        headers = self.headers
        headers[key] = f"{headers[key]},{text}" if key in headers else text

    def on_headers_complete(self) -> None:
        self.reading_head = False
        self.head_since = None
        if self.headers.get("expect", "").lower() == "100-continue":
            length = self.headers.get("content-length", "")  # llhttp has checked it is one number
            if length.isdigit() and int(length) > self.server.max_body:  # refused before the client sends it
                raise _Refused(_TOO_LARGE)
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.server.max_body:
            self._drop_spool()
        elif self.spool_file is not None:
            self.spool_file.write(body)
        elif self.size > SPOOL_THRESHOLD and self.server.spool_dir is not None:
            self.spool_file = tempfile.NamedTemporaryFile(dir=self.server.spool_dir, prefix="body-",  # noqa: SIM115
                                                          delete=False)
            self.spool_file.writelines(self.body)
            self.spool_file.write(body)
            self.body = []
        else:
            self.body.append(body)

    def _drop_spool(self) -> None:
        """Close and delete the spool file of a body being read (refused, or its client gone)."""
        if self.spool_file is not None:
            self.spool_file.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.spool_file.name)
            self.spool_file = None

    def _drop_queue(self) -> None:
        """Delete the spool files of requests that will not be answered (the connection is gone)."""
        while self.queue:
            item, _ = self.queue.popleft()
            if isinstance(item, HttpRequest):
                remove_spool(item)

    def on_message_complete(self) -> None:
        keep_alive = self.parser.should_keep_alive() and not self.closing
        self.reading_head, self.head_begun, self.head_bytes = True, False, 0
        if self.size > self.server.max_body:
            item: HttpRequest | HttpResponse = _TOO_LARGE
            keep_alive = False
        else:
            spool = None
            if self.spool_file is not None:
                self.spool_file.close()
                spool = BodyFile(self.spool_file.name, self.size)
                self.spool_file = None
            url = httptools.parse_url(b"".join(self.url))
            item = HttpRequest(method=self.parser.get_method().decode("latin-1"),
                               path=url.path.decode("latin-1"),
                               query_string=(url.query or b"").decode("latin-1"),
                               headers=self.headers, body=b"".join(self.body), client=self.client,
                               raw_headers=self.raw_headers, spool=spool)
        self._reset()
        self._enqueue(item, keep_alive)

    # --- answering ---------------------------------------------------------------------------
    def _enqueue(self, item: HttpRequest | HttpResponse, keep_alive: bool) -> None:
        if self.busy:
            self.queue.append((item, keep_alive))
            if len(self.queue) >= MAX_QUEUED and not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()
            return
        self.busy = True
        task = self.loop.create_task(self._answer(item, keep_alive))
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def _answer(self, item: HttpRequest | HttpResponse, keep_alive: bool) -> None:
        try:
            while True:
                if isinstance(item, HttpResponse):
                    response, method = item, "GET"
                else:
                    try:
                        response = await self._respond(item)
                    finally:
                        remove_spool(item)
                    method = item.method
                # a handler may end the connection after its answer (a body it refused unread)
                close = not keep_alive or self.server.stopping or response.headers.get("Connection") == "close"
                try:
                    if not self.closing:
                        self.transport.write(self._encode(response, method, close))
                        if method != "HEAD" and response.status not in (204, 304):
                            if response.file is not None:
                                await self._stream(response.file)
                            elif response.stream is not None:
                                await self._send_chunks(response.stream)
                        if close:
                            self.closing = True
                            self.transport.close()
                            return
                        if self._drained is not None:
                            await self._drained
                finally:
                    response.close()
                if not self.queue or self.closing:
                    return
                item, keep_alive = self.queue.popleft()
                if self._reading_paused and len(self.queue) < MAX_QUEUED // 2:
                    self._reading_paused = False
                    self.transport.resume_reading()
        finally:
            self.busy = False
            self.last_active = time.monotonic()
            if self.closing:
                self._drop_queue()

    async def _stream(self, file: BodyFile) -> None:
        """Send ``file``'s range after the head, one piece at a time, waiting while the client's
        socket buffer is full; stops when the client goes."""
        handle = file.handle
        assert handle is not None
        await self.loop.run_in_executor(None, handle.seek, file.start)
        left = file.size
        while left > 0 and not self.closing:
            piece = await self.loop.run_in_executor(None, handle.read, min(STREAM_PIECE, left))
            if not piece:  # the file is shorter than announced: the framing cannot be kept
                self.closing = True
                self.transport.close()
                return
            left -= len(piece)
            self.transport.write(piece)
            if self._drained is not None:
                await self._drained
        self.last_active = time.monotonic()

    async def _send_chunks(self, pieces: AsyncIterator[bytes]) -> None:
        """A streamed body in chunked transfer encoding, each piece as it comes, at the pace the
        client reads; a client that goes away ends it (and the connection, mid-body)."""
        try:
            async for piece in pieces:
                if self.closing:
                    return
                if piece:
                    self.transport.write(b"%x\r\n%b\r\n" % (len(piece), piece))
                    if self._drained is not None:
                        await self._drained
            if not self.closing:
                self.transport.write(b"0\r\n\r\n")
        except Exception as error:  # cut mid-body, so that the client sees the response is incomplete
            log.warning("a streamed response ended with an error (%r); its connection is closed", error)
            self.closing = True
            self.transport.close()
        finally:
            self.last_active = time.monotonic()

    async def _respond(self, request: HttpRequest) -> HttpResponse:
        try:
            return await self.server.handler(request)
        except Exception:
            log.exception("unhandled error answering %s %s", request.method, request.path)
            return _INTERNAL

    @staticmethod
    def _encode(response: HttpResponse, method: str, close: bool) -> bytes:
        try:
            return encode_response(response, method, close)
        except ValueError:
            log.exception("refused a response")
            return encode_response(_INTERNAL, method, close)


class HttpServer:
    """Serves ``handler`` on ``host:port``; ``stop`` lets requests in flight finish first."""

    def __init__(self, handler: Handler, host: str, port: int, limits: ServerLimits | None = None,
                 spool_dir: Path | None = None) -> None:
        self.handler = handler
        # Without a spool directory every body is held in memory, up to ``MAX_BODY``.
        self.spool_dir = spool_dir
        self.max_body = MAX_SPOOLED if spool_dir is not None else MAX_BODY
        self.host = host
        self.port = port
        self.limits = limits or ServerLimits()
        self.connections: set[_Connection] = set()
        self.tasks: set[asyncio.Task] = set()
        self.stopping = False
        self._server: asyncio.base_events.Server | None = None
        self._unix_server: asyncio.base_events.Server | None = None
        self._sweeper: asyncio.Task | None = None

    async def start(self, sock: socket.socket | None = None, unix: socket.socket | None = None) -> None:
        """Listen on ``host:port``, or on ``sock`` when the caller has bound it already; and on the
        bound Unix socket ``unix`` too, if given."""
        loop = asyncio.get_running_loop()
        if self.spool_dir is not None:  # bodies of requests a crash interrupted
            self.spool_dir.mkdir(parents=True, exist_ok=True)
            for leftover in self.spool_dir.glob("body-*"):
                leftover.unlink(missing_ok=True)
        if sock is not None:
            self._server = await loop.create_server(lambda: _Connection(self), sock=sock, backlog=2048)
        else:
            self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port,
                                                    reuse_address=True, backlog=2048)
        if unix is not None:
            self._unix_server = await loop.create_unix_server(lambda: _Connection(self), sock=unix, backlog=1024)
        self._sweeper = loop.create_task(self._sweep())

    async def _sweep(self) -> None:
        """Close connections idle beyond the keep-alive period, and those that took longer than
        the header timeout to send a request head (answered 408 when part of it came).

        One pass every half of the shorter period, so a limit is enforced within 1.5 times itself."""
        limits = self.limits
        interval = min(limits.keep_alive_s, limits.header_timeout_s, 10.0) / 2
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            idle_since, head_since = now - limits.keep_alive_s, now - limits.header_timeout_s
            for connection in [c for c in self.connections if not c.busy and not c.closing]:
                if connection.head_since is not None and connection.head_since < head_since:
                    if connection.head_begun:
                        connection.refuse(_HEAD_TIMEOUT)
                    else:
                        connection.transport.close()
                elif connection.last_active < idle_since:
                    connection.transport.close()

    def abandon(self) -> None:
        """Stop waiting for requests in flight (a second Ctrl-C)."""
        for task in list(self.tasks):
            task.cancel()

    async def stop(self, grace_s: float) -> None:
        """Stop accepting, close idle connections, give busy ones ``grace_s`` to answer."""
        self.stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        for server in (self._server, self._unix_server):
            if server is not None:
                server.close()
        for connection in list(self.connections):
            if not connection.busy:
                connection.transport.close()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=grace_s)
        for connection in list(self.connections):
            with contextlib.suppress(Exception):
                connection.transport.close()
