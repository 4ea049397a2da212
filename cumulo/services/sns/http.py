"""POSTing SNS deliveries to HTTP/S endpoints, through the platform's outbound HTTP client.

Only the status code matters to SNS. ``http://user:password@host/`` endpoints get Basic
authentication, as SNS supports.
"""

from __future__ import annotations

import base64
from urllib.parse import unquote, urlsplit, urlunsplit

from cumulo.net import http_client

TIMEOUT_S = 15.0
USER_AGENT = "Amazon Simple Notification Service Agent"
MAX_REPLY_BYTES = 1 << 16  # the answer's body is not used; a short one is read so the connection is reused


class DeliveryFailed(Exception):
    """The endpoint could not be reached or did not answer in time."""


async def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_S) -> int:
    """POST ``body`` to ``url``; returns the HTTP status, raises DeliveryFailed on network errors."""
    parts = urlsplit(url)
    sent = {"User-Agent": USER_AGENT}
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        sent["Authorization"] = f"Basic {base64.b64encode(credentials).decode()}"
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])
    sent.update(headers)
    try:
        reply = await http_client.request("POST", urlunsplit(parts._replace(path=parts.path or "/")), sent, body,
                                          timeout=timeout, max_body=MAX_REPLY_BYTES)
    except (TimeoutError, http_client.HttpClientError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    return reply.status
