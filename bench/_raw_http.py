"""A minimal keep-alive HTTP/1.1 client for benchmarks: the request bytes are built once and
the answer is read by Content-Length, so the figures show the server's time rather than a
client library's (``http.client`` parses every response's headers with the email package,
which costs more than a warm invoke's server work on a small VM)."""

from __future__ import annotations

import socket


class RawConnection:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    @staticmethod
    def build(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
        """The bytes of one request, to send as often as needed."""
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}",
                 *(f"{name}: {value}" for name, value in (headers or {}).items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def send(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send prepared request bytes; the status, headers (lower-case names) and body."""
        self.sock.sendall(request)
        reader = self.reader
        status = int(reader.readline().split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while (line := reader.readline()) != b"\r\n":
            if not line:
                raise ConnectionError("the server closed the connection")
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.lower()] = value.strip()
        return status, headers, reader.read(int(headers.get("content-length", "0")))

    def close(self) -> None:
        self.reader.close()
        self.sock.close()
