"""Decoding ``Content-Encoding: aws-chunked`` bodies (streaming SigV4 uploads and checksum trailers).

Each chunk is ``<hex size>[;chunk-signature=...]\\r\\n<data>\\r\\n``; a zero-size chunk ends
the data, optionally followed by trailing headers such as ``x-amz-checksum-crc32:...``.
"""

from __future__ import annotations

from cumulo.protocol.errors import AwsError


def is_chunked(headers: dict[str, str]) -> bool:
    return "aws-chunked" in headers.get("content-encoding", "") or headers.get(
        "x-amz-content-sha256", "").startswith("STREAMING-")


def decode(body: bytes) -> tuple[bytes, dict[str, str]]:
    """The payload and the trailing headers of an aws-chunked body."""
    data = bytearray()
    position = 0
    while True:
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            raise AwsError("IncompleteBody", "The request body terminated unexpectedly")
        size_text = body[position:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as exc:
            raise AwsError("InvalidRequest", "Malformed aws-chunked encoding") from exc
        position = line_end + 2
        if size == 0:
            break
        data += body[position:position + size]
        position += size + 2
    trailers = {}
    for line in body[position:].split(b"\r\n"):
        if b":" in line:
            name, value = line.split(b":", 1)
            trailers[name.decode().strip().lower()] = value.decode().strip()
    return bytes(data), trailers
