"""Decoding ``Content-Encoding: aws-chunked`` bodies (streaming SigV4 uploads and checksum trailers).

Each chunk is ``<hex size>[;chunk-signature=...]\\r\\n<data>\\r\\n``; a zero-size chunk ends
the data, optionally followed by trailing headers such as ``x-amz-checksum-crc32:...``.
REST protocols unwrap such a body before binding the request, so an operation reads the plain
payload, and a checksum sent as a trailer as if it had come as its header. Bodies are read from
a file object piece by piece, so a spooled upload of gigabytes is decoded into another file
without being held in memory.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass, replace
from typing import BinaryIO

from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import BodyFile, HttpRequest

CHECKSUM_TRAILER_PREFIX = "x-amz-checksum-"
_HEX_DIGITS = b"0123456789abcdefABCDEF"
TRAILER_SIGNATURE = "x-amz-trailer-signature"
MAX_LINE = 4096  # a chunk header line: hex size and a signature extension
PIECE = 1024 * 1024


def is_chunked(headers: dict[str, str]) -> bool:
    return "aws-chunked" in headers.get("content-encoding", "") or headers.get(
        "x-amz-content-sha256", "").startswith("STREAMING-")


@dataclass(frozen=True)
class Chunk:
    size: int
    sha256: str | None  # hex SHA-256 of the chunk's data, when the reader was asked for it
    signature: str | None  # the ``chunk-signature`` extension of signed streaming uploads


@dataclass(frozen=True)
class ChunkedBody:
    chunks: list[Chunk]  # the data chunks and the final empty one, in order
    trailers: dict[str, str]  # trailing headers in the order sent, names lower-case
    trailer_signature: str | None  # ``x-amz-trailer-signature`` (not among ``trailers``)
    size: int  # of the payload


def _incomplete() -> AwsError:
    return AwsError("IncompleteBody", "The request body terminated unexpectedly")


def read_chunks(source: BinaryIO, sink: BinaryIO | None = None, hashed: bool = False) -> ChunkedBody:
    """The chunks (with their signatures, and the SHA-256 of their data when ``hashed``) and the
    trailing headers of an aws-chunked body; the payload is written to ``sink`` when given."""
    chunks = []
    total = 0
    while True:
        line = source.readline(MAX_LINE)
        if not line.endswith(b"\r\n"):
            raise _incomplete() if len(line) < MAX_LINE else AwsError("InvalidRequest", "Malformed aws-chunked "
                                                                                         "encoding")
        size_text, _, extension = line[:-2].partition(b";")
        size_text = size_text.strip()
        if not size_text or size_text.strip(_HEX_DIGITS):  # int() would take "-6", "0x6" or "6_0"
            raise AwsError("InvalidRequest", "Malformed aws-chunked encoding")
        size = int(size_text, 16)
        name, _, value = extension.decode("latin-1").partition("=")
        digest = hashlib.sha256() if hashed else None
        left = size
        while left:
            piece = source.read(min(PIECE, left))
            if not piece:
                raise _incomplete()
            left -= len(piece)
            if digest is not None:
                digest.update(piece)
            if sink is not None:
                sink.write(piece)
        total += size
        chunks.append(Chunk(size, digest.hexdigest() if digest is not None else None,
                            value.strip() if name.strip() == "chunk-signature" else None))
        if size == 0:
            break
        if source.read(2) != b"\r\n":
            raise _incomplete()
    trailers = {}
    for line in source.read(MAX_LINE * 4).split(b"\r\n"):
        if b":" in line:
            name, value = line.split(b":", 1)
            trailers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    trailer_signature = trailers.pop(TRAILER_SIGNATURE, None)
    return ChunkedBody(chunks, trailers, trailer_signature, total)


def open_body(request: HttpRequest) -> BinaryIO:
    """The request's body as a file object (its spool file, or its bytes)."""
    return open(request.spool.path, "rb") if request.spool is not None else io.BytesIO(request.body)


def decode(body: bytes) -> tuple[bytes, dict[str, str]]:
    """The payload and the trailing headers of an aws-chunked body."""
    sink = io.BytesIO()
    chunked = read_chunks(io.BytesIO(body), sink)
    return sink.getvalue(), chunked.trailers


def unwrap(request: HttpRequest) -> HttpRequest:
    """``request`` with an aws-chunked body decoded and its checksum trailers merged into the
    headers (a trailer wins over a header of the same name); ``request`` itself otherwise.

    A spooled body is decoded into a new file that then takes the spool file's name, so the edge
    still removes it once the request is answered."""
    if not is_chunked(request.headers):
        return request
    if request.spool is None:
        body, trailers = decode(request.body)
        spool = None
    else:
        path = request.spool.path
        with open(path, "rb") as source, tempfile.NamedTemporaryFile(
                dir=os.path.dirname(path), prefix="body-", delete=False) as sink:
            try:
                chunked = read_chunks(source, sink)
            except AwsError:
                sink.close()
                os.unlink(sink.name)
                raise
        os.replace(sink.name, path)
        body, trailers, spool = b"", chunked.trailers, BodyFile(path, chunked.size)
    checksums = {name: value for name, value in trailers.items() if name.startswith(CHECKSUM_TRAILER_PREFIX)}
    return replace(request, body=body, spool=spool, headers={**request.headers, **checksums})
