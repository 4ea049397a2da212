"""CORS as AWS's HTTP front doors configure it: an HTTP API's CorsConfiguration and a function
URL's Cors have the same members (AllowOrigins, AllowMethods, AllowHeaders, ExposeHeaders,
MaxAge, AllowCredentials).

With a configuration, the front door answers preflight requests (OPTIONS with Origin and
Access-Control-Request-Method) itself, whatever the routes, and adds the configured headers to
responses for allowed origins; CORS headers the function returns are replaced.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from cumulo.protocol.http import HttpRequest


def is_preflight(request: HttpRequest) -> bool:
    return (request.method == "OPTIONS" and "origin" in request.headers
            and "access-control-request-method" in request.headers)


@lru_cache(maxsize=256)
def _origin_pattern(origin: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(origin.lower()).replace(r"\*", "[^/.]*") + "$")


def allowed_origin(cors: dict[str, Any], origin: str) -> str | None:
    """The Access-Control-Allow-Origin value for ``origin`` (None when it is not allowed)."""
    origins = cors.get("AllowOrigins") or []
    if "*" in origins:
        return origin if cors.get("AllowCredentials") else "*"
    lowered = origin.lower()
    for allowed in origins:
        if allowed.lower() == lowered or ("*" in allowed and _origin_pattern(allowed).match(lowered)):
            return origin
    return None


def preflight_headers(cors: dict[str, Any], request: HttpRequest) -> dict[str, str]:
    origin = request.headers.get("origin", "")
    allow_origin = allowed_origin(cors, origin)
    if allow_origin is None:
        return {}
    requested = request.headers.get("access-control-request-method", "").upper()
    methods = [m.upper() for m in cors.get("AllowMethods") or []]
    if "*" not in methods and requested not in methods:
        return {}
    headers = {"access-control-allow-origin": allow_origin}
    if methods:
        headers["access-control-allow-methods"] = ",".join(methods) if "*" not in methods else "*"
    allow_headers = [h.lower() for h in cors.get("AllowHeaders") or []]
    if allow_headers:
        if "*" in allow_headers:
            asked = request.headers.get("access-control-request-headers")
            headers["access-control-allow-headers"] = asked.lower() if asked else "*"
        else:
            headers["access-control-allow-headers"] = ",".join(allow_headers)
    if cors.get("AllowCredentials"):
        headers["access-control-allow-credentials"] = "true"
    if cors.get("MaxAge") is not None and cors["MaxAge"] >= 0:
        headers["access-control-max-age"] = str(cors["MaxAge"])
    return headers


def response_headers(cors: dict[str, Any], request: HttpRequest) -> dict[str, str]:
    origin = request.headers.get("origin")
    if not origin:
        return {}
    allow_origin = allowed_origin(cors, origin)
    if allow_origin is None:
        return {}
    headers = {"access-control-allow-origin": allow_origin}
    if cors.get("AllowCredentials"):
        headers["access-control-allow-credentials"] = "true"
    if cors.get("ExposeHeaders"):
        headers["access-control-expose-headers"] = ",".join(h.lower() for h in cors["ExposeHeaders"])
    return headers
