"""Decoding ``Content-Encoding: aws-chunked`` bodies (streaming SigV4 uploads and checksum trailers).

Each chunk is ``<hex size>[;chunk-signature=...]\\r\\n<data>\\r\\n``; a zero-size chunk ends
the data, optionally followed by trailing headers such as ``x-amz-checksum-crc32:...``.
REST protocols unwrap such a body before binding the request, so an operation reads the plain
payload, and a checksum sent as a trailer as if it had come as its header.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest

CHECKSUM_TRAILER_PREFIX = "x-amz-checksum-"
_HEX_DIGITS = b"0123456789abcdefABCDEF"
TRAILER_SIGNATURE = "x-amz-trailer-signature"


def is_chunked(headers: dict[str, str]) -> bool:
    return "aws-chunked" in headers.get("content-encoding", "") or headers.get(
        "x-amz-content-sha256", "").startswith("STREAMING-")


@dataclass(frozen=True)
class Chunk:
    data: bytes
    signature: str | None  # the ``chunk-signature`` extension of signed streaming uploads


@dataclass(frozen=True)
class ChunkedBody:
    chunks: list[Chunk]  # the data chunks and the final empty one, in order
    trailers: dict[str, str]  # trailing headers in the order sent, names lower-case
    trailer_signature: str | None  # ``x-amz-trailer-signature`` (not among ``trailers``)

    @property
    def payload(self) -> bytes:
        return b"".join(chunk.data for chunk in self.chunks)


def read_chunks(body: bytes) -> ChunkedBody:
    """The chunks (with their signatures) and the trailing headers of an aws-chunked body."""
    chunks = []
    position = 0
    while True:
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            raise AwsError("IncompleteBody", "The request body terminated unexpectedly")
        size_text, _, extension = body[position:line_end].partition(b";")
        size_text = size_text.strip()
        if not size_text or size_text.strip(_HEX_DIGITS):  # int() would take "-6", "0x6" or "6_0"
            raise AwsError("InvalidRequest", "Malformed aws-chunked encoding")
        size = int(size_text, 16)
        name, _, value = extension.decode("latin-1").partition("=")
        position = line_end + 2
        data = body[position:position + size]
        if len(data) < size:
            raise AwsError("IncompleteBody", "The request body terminated unexpectedly")
        chunks.append(Chunk(data, value.strip() if name.strip() == "chunk-signature" else None))
        if size == 0:
            break
        position += size + 2
    trailers = {}
    for line in body[position:].split(b"\r\n"):
        if b":" in line:
            name, value = line.split(b":", 1)
            trailers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    trailer_signature = trailers.pop(TRAILER_SIGNATURE, None)
    return ChunkedBody(chunks, trailers, trailer_signature)


def decode(body: bytes) -> tuple[bytes, dict[str, str]]:
    """The payload and the trailing headers of an aws-chunked body."""
    chunked = read_chunks(body)
    return chunked.payload, chunked.trailers


def unwrap(request: HttpRequest) -> HttpRequest:
    """``request`` with an aws-chunked body decoded and its checksum trailers merged into the
    headers (a trailer wins over a header of the same name); ``request`` itself otherwise."""
    if not is_chunked(request.headers):
        return request
    body, trailers = decode(request.body)
    checksums = {name: value for name, value in trailers.items() if name.startswith(CHECKSUM_TRAILER_PREFIX)}
    return replace(request, body=body, headers={**request.headers, **checksums})
