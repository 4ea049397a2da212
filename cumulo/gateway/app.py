"""The ASGI edge: one endpoint for every AWS service, plus Cumulo's own ``/_cumulo/`` routes.

Kept as a bare ASGI callable (no framework) because it is on every request's path; other
parts of the platform mount extra HTTP routes (API data planes) through ``mount``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cumulo.gateway.dispatch import Dispatcher
from cumulo.platform import Platform
from cumulo.protocol.http import HttpRequest, HttpResponse

log = logging.getLogger("cumulo.gateway")
RouteHandler = Callable[[HttpRequest], Awaitable[HttpResponse | None]]
_CODE_PATH = re.compile(r"^/_cumulo/code/([0-9a-f]{64})\.zip$")
MAX_BODY = 64 * 1024 * 1024  # larger than any AWS request limit this endpoint serves


class GatewayApp:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.dispatcher = Dispatcher(platform)
        # Handlers tried before the AWS API, e.g. HTTP API invoke URLs; return None to pass.
        self.mounts: list[RouteHandler] = []
        # A provider serves extra plain-HTTP routes (SNS's signing certificate) by defining
        # ``async def http_route(request) -> HttpResponse | None``.
        for provider in platform.providers.values():
            route = getattr(provider, "http_route", None)
            if route is not None:
                self.mount(route)

    def mount(self, handler: RouteHandler) -> None:
        self.mounts.append(handler)

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request = await self._read_request(scope, receive)
        if request is None:
            await self._send(send, HttpResponse(413, {"Content-Type": "application/json"},
                                                b'{"message":"Request entity too large"}'))
            return
        response, label = await self._respond(request)
        await self._send(send, response, request.method)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %d %s %.2fms", request.method, request.path, response.status, label,
                      (time.perf_counter() - started) * 1000)

    async def _respond(self, request: HttpRequest) -> tuple[HttpResponse, str]:
        if request.path.startswith("/_cumulo/"):
            return self._internal(request), "cumulo"
        for handler in self.mounts:
            response = await handler(request)
            if response is not None:
                return response, "mount"
        return await self.dispatcher.handle(request)

    def _internal(self, request: HttpRequest) -> HttpResponse:
        if request.path in ("/_cumulo/health", "/_cumulo/health/"):
            body = json.dumps(self.platform.health()).encode()
            return HttpResponse(200, {"Content-Type": "application/json"}, body)
        found = _CODE_PATH.match(request.path)
        if found and request.method == "GET" and self.platform.artifacts.exists(found.group(1)):
            return HttpResponse(200, {"Content-Type": "application/zip"},
                                self.platform.artifacts.read(found.group(1)))
        return HttpResponse(404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')

    @staticmethod
    async def _read_request(scope: dict[str, Any], receive: Callable) -> HttpRequest | None:
        chunks = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        return HttpRequest(method=scope["method"], path=path.split("?", 1)[0],
                           query_string=scope.get("query_string", b"").decode("latin-1"),
                           headers=headers, body=b"".join(chunks))

    @staticmethod
    async def _send(send: Callable, response: HttpResponse, method: str = "GET") -> None:
        """Send a response; HEAD answers and 204/304 carry no body (HEAD keeps its Content-Length)."""
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
        has_length = any(k.lower() == "content-length" for k in response.headers)
        body = response.body
        if method == "HEAD" or response.status in (204, 304):
            body = b""
            if response.status in (204, 304):
                headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            elif not has_length:
                headers.append((b"content-length", str(len(response.body)).encode()))
        elif not has_length:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.platform.start()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.platform.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
