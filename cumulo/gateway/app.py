"""The edge: one endpoint for every AWS service, plus Cumulo's own ``/_cumulo/`` routes.

Other parts of the platform mount extra HTTP routes (API data planes) through ``mount``;
``cumulo.gateway.http_server`` carries requests to ``respond`` and its answers back.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable

from cumulo.gateway.auth import read_signature
from cumulo.gateway.caller import has_valid_signature, is_loopback
from cumulo.gateway.dispatch import Dispatcher
from cumulo.gateway.s3_auth import verify_s3
from cumulo.platform import Platform
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest, HttpResponse
from cumulo.protocol.xml_error import xml_error

log = logging.getLogger("cumulo.gateway")
RouteHandler = Callable[[HttpRequest], Awaitable[HttpResponse | None]]
_CODE_PATH = re.compile(r"^/_cumulo/code/([0-9a-f]{64})\.zip$")
_NOT_FOUND = HttpResponse(404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')


class GatewayApp:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.dispatcher = Dispatcher(platform)
        # Handlers tried before the AWS API, e.g. HTTP API invoke URLs; return None to pass.
        self.mounts: list[RouteHandler] = []
        # Handlers that read spooled bodies (``HttpRequest.spool``) themselves; the others never
        # see a request whose body is too large to hold in memory.
        self.spool_mounts: set[RouteHandler] = set()
        # A provider serves extra plain-HTTP routes (SNS's signing certificate) by defining
        # ``async def http_route(request) -> HttpResponse | None`` (and ``http_route_spools = True``
        # when it reads spooled bodies).
        for provider in platform.providers.values():
            route = getattr(provider, "http_route", None)
            if route is not None:
                self.mount(route, spools=getattr(provider, "http_route_spools", False))

    def mount(self, handler: RouteHandler, spools: bool = False) -> None:
        self.mounts.append(handler)
        if spools:
            self.spool_mounts.add(handler)

    async def respond(self, request: HttpRequest) -> HttpResponse:
        """Answer one request, logged as one line: ``lambda.Invoke hello 200 3.1 ms`` for AWS API
        calls, ``GET /_api/abc/orders 200 4.0 ms`` for API data planes (info level);
        Cumulo's own ``/_cumulo/`` routes (health checks) only at debug level."""
        started = time.perf_counter()
        response, label = await self._route(request)
        internal = label == "cumulo"
        if log.isEnabledFor(logging.DEBUG if internal else logging.INFO):
            what = f"{request.method} {request.path}" if label in ("cumulo", "mount", "-") else label
            log.log(logging.DEBUG if internal else logging.INFO, "%s %d %.1f ms", what, response.status,
                    (time.perf_counter() - started) * 1000)
        return response

    async def _route(self, request: HttpRequest) -> tuple[HttpResponse, str]:
        if request.path.startswith("/_cumulo/"):
            return self._internal(request), "cumulo"
        for handler in self.mounts:
            if request.spool is not None and handler not in self.spool_mounts:
                continue
            response = await handler(request)
            if response is not None:
                return response, "mount"
        return await self.dispatcher.handle(request)

    def _internal(self, request: HttpRequest) -> HttpResponse:
        if request.path in ("/_cumulo/health", "/_cumulo/health/"):
            detailed = is_loopback(request.client) or has_valid_signature(request, self.platform.settings.access_keys)
            body = json.dumps(self.platform.health(detailed)).encode()
            return HttpResponse(200, {"Content-Type": "application/json"}, body)
        found = _CODE_PATH.match(request.path)
        if found and request.method == "GET":
            return self._code_download(request, found.group(1))
        return _NOT_FOUND

    def _code_download(self, request: HttpRequest, sha256_hex: str) -> HttpResponse:
        """A code package, for a presigned ``Code.Location`` URL (checked when auth is required)."""
        settings = self.platform.settings
        if settings.auth_required:
            try:
                verify_s3(request, read_signature(request), settings.access_keys)
            except AwsError as error:
                return xml_error(error)
        if not self.platform.artifacts.exists(sha256_hex):
            return _NOT_FOUND
        return HttpResponse(200, {"Content-Type": "application/zip"}, self.platform.artifacts.read(sha256_hex))
