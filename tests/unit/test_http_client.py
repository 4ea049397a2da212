"""The outbound HTTP client sends what the caller gives (no headers of its own beyond Host and
Content-Length), does not follow redirects unless asked, reuses connections and times out."""

from __future__ import annotations

import asyncio

import pytest

from cumulo.net import http_client


class Recorder:
    """A tiny HTTP/1.1 server that records each request head and answers from a script."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers
        self.heads: list[str] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while self.answers:
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head.decode("latin-1"))
            length = next((int(line.split(":", 1)[1]) for line in head.decode().split("\r\n")
                           if line.lower().startswith("content-length:")), 0)
            await reader.readexactly(length)
            writer.write(self.answers.pop(0))
            await writer.drain()
        writer.close()


async def _serve(recorder: Recorder) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Repeat: a\r\nX-Repeat: b\r\n\r\nok"


def test_sends_only_the_callers_headers_and_keeps_the_connection() -> None:
    async def main() -> None:
        recorder = Recorder([OK, OK])
        server, url = await _serve(recorder)
        try:
            first = await http_client.request("POST", f"{url}/a%2Fb?x=1", [("X-One", "1")], b"body")
            await http_client.request("GET", f"{url}/", {"X-Two": "2"})
        finally:
            await http_client.close()
            server.close()
        assert first.status == 200 and first.body == b"ok"
        assert [(n, v) for n, v in first.headers if n == "X-Repeat"] == [("X-Repeat", "a"), ("X-Repeat", "b")]
        request_line, *lines = recorder.heads[0].strip().split("\r\n")
        assert request_line == "POST /a%2Fb?x=1 HTTP/1.1"
        assert sorted(line.split(":", 1)[0].lower() for line in lines) == ["content-length", "host", "x-one"]
        assert recorder.connections == 1

    asyncio.run(main())


def test_redirects_are_answered_not_followed() -> None:
    async def main() -> None:
        recorder = Recorder([b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"])
        server, url = await _serve(recorder)
        try:
            reply = await http_client.request("GET", url)
        finally:
            await http_client.close()
            server.close()
        assert reply.status == 302 and len(recorder.heads) == 1

    asyncio.run(main())


def test_a_silent_server_times_out_and_a_closed_port_fails() -> None:
    async def main() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1 << 16)
            await asyncio.sleep(5)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(TimeoutError):
                await http_client.request("GET", f"http://127.0.0.1:{port}/", timeout=0.2)
        finally:
            server.close()
        with pytest.raises(http_client.HttpClientError):
            await http_client.request("GET", f"http://127.0.0.1:{port}/", timeout=2)
        await http_client.close()

    asyncio.run(main())
