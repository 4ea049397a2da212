"""A small HTTP/1.1 request parser and response writer for the in-environment APIs.

The agent serves a handful of local clients (the runtime, later extensions), so it needs
keep-alive, Content-Length and chunked bodies, and exact status lines and JSON error
bodies -- nothing more.  Pure standard library so every runtime interpreter can run it.
"""

from __future__ import annotations

import json

MAX_HEAD = 64 * 1024

REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}


class BadRequest(Exception):
    """The bytes on the connection are not an HTTP/1.1 request we can serve."""


STREAMING_MODE_HEADER = "lambda-runtime-function-response-mode"


class Request:
    __slots__ = ("body", "close", "headers", "method", "path", "streaming")

    def __init__(self, method: str, path: str, headers: dict, body: bytes, close: bool,
                 streaming: bool = False) -> None:
        self.method = method
        self.path = path
        self.headers = headers  # lower-cased names
        self.body = body
        self.close = close
        # A streamed response (chunked, ``Lambda-Runtime-Function-Response-Mode: streaming``): only
        # the head has been taken off the buffer; its chunks follow, read by a ``ChunkedBody``.
        self.streaming = streaming


def parse(buf: bytearray, max_body: int) -> Request | None:
    """Take one complete request off the front of ``buf``; None if more bytes are needed.

    Bodies larger than ``max_body`` raise BadRequest("too large") once their size is known,
    so a runaway client cannot make the agent buffer unbounded data.
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > MAX_HEAD:
            raise BadRequest("header too large")
        return None
    try:
        head = bytes(buf[:end]).decode("latin-1")
    except UnicodeDecodeError as e:  # pragma: no cover - latin-1 decodes everything
        raise BadRequest(str(e)) from e
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest("bad request line")
    method, path, version = parts
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest("bad header line")
        headers[name.strip().lower()] = value.strip()
    conn = headers.get("connection", "").lower()
    close = conn == "close" or (version == "HTTP/1.0" and conn != "keep-alive")
    start = end + 4
    chunked = headers.get("transfer-encoding", "").lower() == "chunked"
    if chunked and method == "POST" and headers.get(STREAMING_MODE_HEADER, "").lower() == "streaming":
        del buf[:start]
        return Request(method, path, headers, b"", close, streaming=True)
    if chunked:
        body, consumed = _parse_chunked(buf, start, max_body)
        if body is None:
            return None
        del buf[:consumed]
        return Request(method, path, headers, body, close)
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError as e:
        raise BadRequest("bad content-length") from e
    if length < 0:
        raise BadRequest("bad content-length")
    if length > max_body:
        raise BadRequest("too large")
    if len(buf) - start < length:
        return None
    body = bytes(buf[start : start + length])
    del buf[: start + length]
    return Request(method, path, headers, body, close)


def _parse_chunked(buf: bytearray, pos: int, max_body: int) -> tuple[bytes | None, int]:
    chunks = []
    total = 0
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None, 0
        try:
            size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
        except ValueError as e:
            raise BadRequest("bad chunk size") from e
        total += size
        if total > max_body:
            raise BadRequest("too large")
        pos = eol + 2
        if size == 0:
            # trailers end with an empty line
            while True:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    return None, 0
                if eol == pos:
                    return b"".join(chunks), eol + 2
                pos = eol + 2
        if len(buf) < pos + size + 2:
            return None, 0
        chunks.append(bytes(buf[pos : pos + size]))
        pos += size + 2


class ChunkedBody:
    """Reads a chunked body as it arrives: each call takes what ``buf`` holds of it and returns the
    chunk data found; ``done`` is set (and ``trailers`` filled) once the last chunk and the trailers
    are in."""

    __slots__ = ("done", "left", "trailers")

    def __init__(self) -> None:
        self.left = -1  # bytes of the current chunk still to come (-1: a chunk-size line is next)
        self.done = False
        self.trailers: dict[str, str] = {}

    def feed(self, buf: bytearray) -> list[bytes]:
        pieces: list[bytes] = []
        while not self.done:
            if self.left > 0:
                if not buf:
                    break
                piece = bytes(buf[: self.left])
                del buf[: len(piece)]
                self.left -= len(piece)
                pieces.append(piece)
                continue
            if self.left == 0:  # the CRLF after a chunk's data
                if len(buf) < 2:
                    break
                if buf[:2] != b"\r\n":
                    raise BadRequest("bad chunk")
                del buf[:2]
                self.left = -1
                continue
            eol = buf.find(b"\r\n")
            if eol < 0:
                if len(buf) > MAX_HEAD:
                    raise BadRequest("bad chunk size")
                break
            if self.left == -2:  # trailers, up to an empty line
                line = bytes(buf[:eol]).decode("latin-1")
                del buf[: eol + 2]
                if not line:
                    self.done = True
                    break
                name, _, value = line.partition(":")
                self.trailers[name.strip().lower()] = value.strip()
                continue
            try:
                size = int(bytes(buf[:eol]).split(b";")[0], 16)
            except ValueError as e:
                raise BadRequest("bad chunk size") from e
            del buf[: eol + 2]
            self.left = size if size else -2
        return pieces


def response(status: int, body: bytes = b"", headers: dict | None = None,
             content_type: str = "application/json") -> bytes:
    """Serialize a response with Content-Length (always keep-alive unless the caller closes)."""
    out = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n"]
    if content_type:
        out.append(f"Content-Type: {content_type}\r\n")
    if headers:
        for name, value in headers.items():
            out.append(f"{name}: {value}\r\n")
    out.append(f"Content-Length: {len(body)}\r\n\r\n")
    return "".join(out).encode("latin-1") + body


def json_response(status: int, obj: object) -> bytes:
    """JSON body followed by a newline, as Go's json.Encoder (used by the AWS emulator) writes it."""
    return response(status, json.dumps(obj, separators=(",", ":")).encode() + b"\n",
                    content_type="application/json")


def error_response(status: int, error_type: str, message: str) -> bytes:
    return json_response(status, {"errorMessage": message, "errorType": error_type})
