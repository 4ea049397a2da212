"""Protocol-neutral HTTP request and response records passed between the edge and the protocols."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import parse_qsl


@dataclass
class HttpRequest:
    method: str
    path: str  # percent-encoded path, without the query string
    query_string: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names; repeats joined by ","
    body: bytes = b""
    # The client's address and the headers exactly as received ((name, value) byte pairs, names
    # lower-case, repeats kept apart), for data planes that pass them on (HTTP APIs' sourceIp and
    # multiValueHeaders).
    client: str = ""
    raw_headers: list[tuple[bytes, bytes]] = field(default_factory=list)

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
