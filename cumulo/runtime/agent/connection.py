"""The agent's HTTP connections (Runtime, Extensions and Telemetry APIs on one port).

Non-blocking sockets on the agent's one ``selectors`` loop: accept, read pipelined requests,
hand each to the router, write the answers.  A router's ``None`` parks the request (a long
poll such as ``GET /runtime/invocation/next``); its answer comes later through :meth:`write`.

A streamed response (``Lambda-Runtime-Function-Response-Mode: streaming``) is not buffered: once
the ``streams`` sink accepts its head, each chunk goes to the sink as it arrives, and the answer
is given when the last chunk and the trailers are in.
"""

from __future__ import annotations

import mmap
import re
import selectors
import socket
from collections.abc import Callable

from . import http, peercheck

MAX_BODY = 16 * 1024 * 1024  # bodies are buffered up to this; larger ones are refused unread
RECV_SIZE = 1 << 20  # bytes taken off a socket per read


class StreamSink:
    """Where streamed response bodies go: the interface the Runtime API implements (a plain class,
    not a ``typing.Protocol``: the agent imports nothing it does not need)."""

    def open_stream(self, conn: Conn, req: http.Request) -> bytes | None:
        """Accept a streamed response's head (None) or refuse it (the answer to send)."""

    def stream_chunk(self, data: bytes) -> None: ...

    def close_stream(self, trailers: dict[str, str]) -> bytes:
        """The body is complete: the answer to send."""

    def abort_stream(self) -> None:
        """The connection closed before the body was complete."""


class Conn:
    __slots__ = ("close_after", "closed", "held", "inbuf", "outbuf", "sock", "stream")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.stream: http.ChunkedBody | None = None  # a streamed response body being read
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.held = bytearray()  # answers waiting to go out with the parked request's answer
        self.closed = False
        self.close_after = False  # "Connection: close" on a parked request: close once answered


class Connections:
    """Every connection to the agent's port (see the module docstring).

    ``route(conn, request)`` answers a request (or parks it with None); ``refuse_oversized(path,
    size)`` answers one whose body is over :data:`MAX_BODY`; ``forget(conn)`` drops what the
    APIs hold of a closed connection.
    """

    def __init__(self, sel: selectors.BaseSelector, route: Callable[[Conn, http.Request], bytes | None],
                 refuse_oversized: Callable[[str, int], bytes], forget: Callable[[Conn], None]) -> None:
        self.sel = sel
        self.route = route
        self.refuse_oversized = refuse_oversized
        self.forget = forget
        self.streams: StreamSink | None = None
        self.peer_check = False  # accept connections from this environment's processes only
        # anonymous memory: only the pages reads have touched become resident (a bytearray of this
        # size would add 1 MB to every idle environment)
        self.recv_buffer = mmap.mmap(-1, RECV_SIZE)
        self.recv_view = memoryview(self.recv_buffer)

    def receive(self, sock: socket.socket) -> memoryview:
        """What ``sock`` holds now (empty at end of stream), in the agent's one receive buffer: a
        fresh large ``recv`` per call would map and unmap memory on every invoke. Valid until the
        next call."""
        return self.recv_view[: sock.recv_into(self.recv_buffer)]

    def on_accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            if self.peer_check and not peercheck.peer_is_local(sock):
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Conn(sock)
            self.sel.register(sock, selectors.EVENT_READ, lambda s, c=conn: self._on_readable(c))

    def _on_readable(self, conn: Conn) -> None:
        try:
            data = self.receive(conn.sock)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close(conn)
            return
        conn.inbuf += data
        if conn.stream is not None and not self._read_stream(conn):
            return
        # Answers to pipelined requests go out in one write; when the last one is parked (a
        # runtime that sent its result and `next` together), the earlier answers (the 202)
        # wait for the event and go out with it: the runtime wakes once per invoke, not twice.
        out: list[bytes] = []
        parked = False
        while not conn.closed:
            try:
                req = http.parse(conn.inbuf, MAX_BODY)
            except http.BadRequest as e:
                if out:
                    self.write(conn, b"".join(out))
                self._bad_request(conn, str(e))
                return
            if req is None:
                break
            if req.streaming and self.streams is not None:
                refusal = self.streams.open_stream(conn, req)
                if refusal is not None:
                    out.append(refusal)
                    self.write(conn, b"".join(out))
                    self.close(conn, after_write=True)  # the body that follows cannot be skipped
                    return
                if out:
                    self.write(conn, b"".join(out))
                    out = []
                conn.stream = http.ChunkedBody()
                if not self._read_stream(conn):
                    return
                continue
            reply = self.route(conn, req)
            if reply is not None:
                out.append(reply)
                parked = False
                if req.close:
                    self.write(conn, b"".join(out))
                    out = []
                    self.close(conn, after_write=True)
            else:
                parked = True
                if req.close:
                    conn.close_after = True
        if out and not conn.closed:
            if parked:
                conn.held += b"".join(out)
            else:
                self.write(conn, b"".join(out))

    def _read_stream(self, conn: Conn) -> bool:
        """Pass on what has arrived of a streamed body; True once it is complete (and answered)."""
        body = conn.stream
        sink = self.streams
        try:
            pieces = body.feed(conn.inbuf)
        except http.BadRequest as e:
            conn.stream = None
            sink.abort_stream()
            self._bad_request(conn, str(e))
            return False
        for piece in pieces:
            sink.stream_chunk(piece)
        if not body.done:
            return False
        conn.stream = None
        self.write(conn, sink.close_stream(body.trailers))
        return not conn.closed

    def _bad_request(self, conn: Conn, why: str) -> None:
        if why == "too large":  # refused unread: fail the invoke if it was its response
            head = bytes(conn.inbuf[: conn.inbuf.find(b"\r\n\r\n")]).decode("latin-1")
            line = head.split("\r\n", 1)[0].split(" ")
            length = re.search(r"(?im)^content-length:\s*(\d+)", head)
            size = int(length.group(1)) if length else MAX_BODY + 1
            self.write(conn, self.refuse_oversized(line[1] if len(line) > 1 else "", size))
        else:
            self.write(conn, http.error_response(400, "InvalidRequest", "Bad request: " + why))
        self.close(conn, after_write=True)

    def write(self, conn: Conn, data: bytes) -> None:
        """Send ``data`` (after any held answers); what the socket does not take now goes later."""
        if conn.closed:
            return
        if conn.held:
            data = bytes(conn.held) + data
            conn.held = bytearray()
        if conn.close_after:
            conn.close_after = False
            self.write(conn, data)
            self.close(conn, after_write=True)
            return
        if not conn.outbuf:
            try:
                sent = conn.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.close(conn)
                return
            if sent == len(data):
                return
            data = data[sent:]
            self.sel.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE,
                            lambda s, c=conn: self._on_event(c))
        conn.outbuf += data

    def _on_event(self, conn: Conn) -> None:
        if conn.outbuf:
            try:
                sent = conn.sock.send(conn.outbuf)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.close(conn)
                return
            del conn.outbuf[:sent]
            if not conn.outbuf:
                if conn.closed:
                    self.close(conn)
                    return
                self.sel.modify(conn.sock, selectors.EVENT_READ, lambda s, c=conn: self._on_readable(c))
        if not conn.closed:
            self._on_readable(conn)

    def close(self, conn: Conn, after_write: bool = False) -> None:
        if conn.stream is not None:
            conn.stream = None
            self.streams.abort_stream()
        conn.closed = True
        if after_write and conn.outbuf:
            return  # _on_event closes once the buffer is flushed
        self.forget(conn)
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
