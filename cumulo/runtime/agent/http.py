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


class Request:
    __slots__ = ("body", "close", "headers", "method", "path")

    def __init__(self, method: str, path: str, headers: dict, body: bytes, close: bool) -> None:
        self.method = method
        self.path = path
        self.headers = headers  # lower-cased names
        self.body = body
        self.close = close


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
    if headers.get("transfer-encoding", "").lower() == "chunked":
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
