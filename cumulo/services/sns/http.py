"""A small asyncio HTTP/1.1 client for POSTing SNS deliveries (no third-party dependency).

One request per connection (``Connection: close``); only the status code matters to SNS.
``http://user:password@host/`` endpoints get Basic authentication, as SNS supports.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from urllib.parse import unquote, urlsplit

TIMEOUT_S = 15.0
USER_AGENT = "Amazon Simple Notification Service Agent"


class DeliveryFailed(Exception):
    """The endpoint could not be reached or did not answer in time."""


async def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_S) -> int:
    """POST ``body`` to ``url``; returns the HTTP status, raises DeliveryFailed on network errors."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc.rsplit('@', 1)[-1]}", f"User-Agent: {USER_AGENT}",
             f"Content-Length: {len(body)}", "Connection: close"]
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        lines.append(f"Authorization: Basic {base64.b64encode(credentials).decode()}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    writer = None
    try:
        context = ssl.create_default_context() if secure else None
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context), timeout)
        writer.write(head + body)
        await asyncio.wait_for(writer.drain(), timeout)
        status_line = await asyncio.wait_for(reader.readline(), timeout)
        fields = status_line.decode("latin-1").split()
        if len(fields) < 2 or not fields[1].isdigit():
            raise DeliveryFailed(f"malformed HTTP response from {host}:{port}")
        return int(fields[1])
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
