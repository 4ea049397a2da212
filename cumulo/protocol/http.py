"""Protocol-neutral HTTP request and response records passed between the edge and the protocols.

Large bodies travel as files rather than bytes: the edge spools a request body beyond
``SPOOL_THRESHOLD`` to a file in the data directory (``HttpRequest.spool``), and a response may
carry an open file range (``HttpResponse.file``) that the edge streams out piece by piece, so an
S3 object of any size passes through in a few megabytes of memory.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import BinaryIO
from urllib.parse import parse_qsl

MAX_BODY = 64 * 1024 * 1024  # the largest body any API but S3's object uploads reads into memory


class BodyTooLarge(Exception):
    """A spooled body was asked for in memory but is larger than ``MAX_BODY``."""


@dataclass(frozen=True)
class BodyFile:
    """A body held in a file: a spooled request body (whole file), or an object range to send."""

    path: str
    size: int
    handle: BinaryIO | None = None  # an open file (a response's, opened before its object could change)
    start: int = 0

    def read_all(self) -> bytes:
        if self.size > MAX_BODY:
            raise BodyTooLarge(self.size)
        with open(self.path, "rb") as handle:
            handle.seek(self.start)
            return handle.read(self.size)


@dataclass
class HttpRequest:
    method: str
    path: str  # percent-encoded path, without the query string
    query_string: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names; repeats joined by ","
    body: bytes = b""  # empty when the body was spooled to ``spool``
    # The client's address and the headers exactly as received ((name, value) byte pairs, names
    # lower-case, repeats kept apart), for data planes that pass them on (HTTP APIs' sourceIp and
    # multiValueHeaders).
    client: str = ""
    raw_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    spool: BodyFile | None = None  # a body too large to hold in memory, in a file the edge removes

    @cached_property
    def query_items(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query_string, keep_blank_values=True) if self.query_string else []

    @cached_property
    def query(self) -> dict[str, str]:
        return dict(self.query_items)

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def body_size(self) -> int:
        return self.spool.size if self.spool is not None else len(self.body)

    def load_body(self) -> HttpRequest:
        """This request with a spooled body read into ``body`` (``BodyTooLarge`` beyond ``MAX_BODY``),
        for the APIs that parse whole bodies in memory."""
        if self.spool is None:
            return self
        return HttpRequest(self.method, self.path, self.query_string, self.headers, self.spool.read_all(),
                           self.client, self.raw_headers)


@dataclass
class HttpResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Headers sent in addition to ``headers``, in order: repeated names such as Set-Cookie.
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    # A body sent as it is produced (chunked transfer encoding) instead of ``body``: a streamed
    # Lambda response, for instance.
    stream: AsyncIterator[bytes] | None = None
    file: BodyFile | None = None  # streamed after the head instead of ``body``; the edge closes it

    def close(self) -> None:
        if self.file is not None and self.file.handle is not None:
            self.file.handle.close()


def remove_spool(request: HttpRequest) -> None:
    """Delete a request's spool file (gone already when its content became an object)."""
    if request.spool is not None:
        try:
            os.unlink(request.spool.path)
        except FileNotFoundError:
            pass
