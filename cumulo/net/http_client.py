"""The platform's one client for outbound HTTP: SNS deliveries, HTTP API proxies, JWT key sets.

aiohttp's ``ClientSession``, one per event loop, keeps connections to each host alive and
pooled, so repeated calls to the same endpoint skip the TCP and TLS handshakes. The calls
behave like a plain HTTP/1.1 client: no proxies from the environment (``HTTP_PROXY`` names the
HTTP API integration, not a forward proxy), no headers added beyond ``Host`` and
``Content-Length`` (the caller's are sent as given), bodies are not decompressed and
redirects are not followed unless asked. ``close`` ends the session at platform stop.
aiohttp is imported on first use, so start-up does not pay for it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

DEFAULT_TIMEOUT_S = 15.0
MAX_CONNECTIONS = 100
# aiohttp adds these unless told not to; a plain client (and the old one) sends none of them.
_NOT_ADDED = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")

Headers = dict[str, str] | Iterable[tuple[str, str]]
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary())


class HttpClientError(Exception):
    """The server could not be reached, broke the connection or sent a malformed response."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]  # as received: names in their case, repeats kept apart
    body: bytes

    def relayed_headers(self, dropped: Collection[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
        """The headers to pass on to a client, names lower-cased and those in ``dropped`` (hop-by-hop
        ones) left out: the first value of each name, then the repeats in order."""
        first: dict[str, str] = {}
        repeats: list[tuple[str, str]] = []
        for name, value in self.headers:
            lower = name.lower()
            if lower in dropped:
                continue
            if lower in first:
                repeats.append((lower, value))
            else:
                first[lower] = value
        return first, repeats


def _session() -> aiohttp.ClientSession:
    import aiohttp

    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS), trust_env=False, auto_decompress=False,
            skip_auto_headers=_NOT_ADDED, cookie_jar=aiohttp.DummyCookieJar())
        _sessions[loop] = session
    return session


async def request(method: str, url: str, headers: Headers = (), body: bytes = b"", *,
                  timeout: float = DEFAULT_TIMEOUT_S, follow_redirects: bool = False,
                  max_body: int | None = None) -> Reply:
    """Send one request; ``url`` is used as written (already percent-encoded). The reply's body is
    cut at ``max_body`` bytes if given. Raises ``TimeoutError`` when ``timeout`` (seconds, for the
    whole exchange) runs out, ``HttpClientError`` on any other failure to get an answer."""
    import aiohttp
    from yarl import URL

    try:
        async with _session().request(
                method, URL(url, encoded=True), headers=list(headers.items() if isinstance(headers, dict) else headers),
                data=body or None, allow_redirects=follow_redirects,
                timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            data = await _read(response.content, max_body)
            received = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in response.raw_headers]
            return Reply(response.status, received, data)
    except TimeoutError:
        raise
    except (aiohttp.ClientError, OSError, ValueError) as exc:  # ValueError: a URL aiohttp cannot use
        raise HttpClientError(f"{type(exc).__name__}: {exc}") from exc


async def _read(content: aiohttp.StreamReader, limit: int | None) -> bytes:
    if limit is None:
        return await content.read()
    data = bytearray()
    while len(data) < limit:
        chunk = await content.read(limit - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


async def close() -> None:
    """Close the running loop's session and its pooled connections (at platform stop)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()
