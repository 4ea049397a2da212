"""The Lambda proxy contract shared by every HTTP front door of a function (HTTP APIs, function
URLs): how a request body travels in the event, and how the function's answer becomes an HTTP
response.

Bodies that are not text (by content type, or not UTF-8) are base64-encoded with
``isBase64Encoded: true``; a response with ``isBase64Encoded`` is decoded. Payload format 2.0
(HTTP APIs' default and function URLs) lets a function return any JSON: a result without
``statusCode`` becomes a 200 ``application/json`` response. Format 1.0 requires the structured
response. Unknown response members are ignored; a response without content-type is sent as
``application/json``.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from typing import Any

_TEXT_TYPES = {"application/json", "application/javascript", "application/xml", "application/graphql",
               "application/x-javascript", "application/ecmascript", "application/xhtml+xml",
               "application/x-ndjson", "application/yaml", "application/x-yaml"}
HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "upgrade", "date",
              "proxy-connection", "trailer", "te"}


class MalformedResponse(ValueError):
    """The function's answer is not a valid proxy response (API Gateway answers 500)."""


@dataclass
class ProxyResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def is_text(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return (kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith("+json") or kind.endswith("+xml"))
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_clf_cache: tuple[int, str] = (-1, "")


def clf_time(epoch: float) -> str:
    """``12/Mar/2020:19:03:58 +0000``: the time format of proxy events' ``requestContext`` and of
    access logs (computed once per second: every request of that second shares it)."""
    global _clf_cache
    second = int(epoch)
    if _clf_cache[0] != second:
        t = time.gmtime(second)
        _clf_cache = (second, f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:"
                              f"{t.tm_min:02d}:{t.tm_sec:02d} +0000")
    return _clf_cache[1]


def encode_request_body(body: bytes, content_type: str) -> tuple[str | None, bool]:
    """A request body as a proxy event carries it: (text or base64, isBase64Encoded)."""
    if not body:
        return None, False
    if is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, int | float):
        text = str(value)
    else:
        raise MalformedResponse(f"header values must be strings, numbers or booleans, not {type(value).__name__}")
    # Header bytes go out as latin-1: carry UTF-8 text through byte for byte.
    return text.encode("utf-8").decode("latin-1")


def parse_response(payload: bytes, version: str) -> ProxyResponse:
    """The HTTP response for a function's answer; raises ``MalformedResponse``."""
    try:
        result = json.loads(payload) if payload.strip() else None
    except ValueError as exc:
        raise MalformedResponse(f"the function's response is not JSON: {exc}") from None
    if version == "2.0" and not (isinstance(result, dict) and "statusCode" in result):
        body = result.encode("utf-8") if isinstance(result, str) else payload.strip()
        return ProxyResponse(200, {"content-type": "application/json"}, body=body)
    if not isinstance(result, dict):
        raise MalformedResponse("the function's response must be a JSON object with statusCode (payload "
                                "format 1.0)")
    # Members other than these are ignored (HTTP APIs, unlike REST APIs, do not reject them).
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode must be an HTTP status code, not {status!r}")
    response = ProxyResponse(status)
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    for name, value in headers.items():
        if str(name).lower() in multi or str(name) in multi:
            continue
        response.headers[str(name).lower()] = _header_text(value)
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse("multiValueHeaders values must be lists")
        lower = str(name).lower()
        for index, value in enumerate(values):
            if index == 0 and lower not in response.headers:
                response.headers[lower] = _header_text(value)
            else:
                response.extra_headers.append((lower, _header_text(value)))
    cookies = (result.get("cookies") or []) if version == "2.0" else []
    if not isinstance(cookies, list):
        raise MalformedResponse("cookies must be a list of strings")
    for cookie in cookies:
        response.extra_headers.append(("set-cookie", _header_text(cookie)))
    encoded = result.get("isBase64Encoded")
    if isinstance(encoded, str) and encoded.lower() in ("true", "false"):
        encoded = encoded.lower() == "true"
    elif encoded is not None and not isinstance(encoded, bool):
        raise MalformedResponse(f"isBase64Encoded must be a boolean, not {encoded!r}")
    body = result.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str):
        if encoded:
            try:
                raw = base64.b64decode(body, validate=False)
            except (binascii.Error, ValueError):
                raise MalformedResponse("body is not valid base64 but isBase64Encoded is true") from None
        else:
            raw = body.encode("utf-8")
    else:
        raise MalformedResponse(f"body must be a string, not {type(body).__name__}")
    response.body = raw
    if "content-type" not in response.headers and raw:
        response.headers["content-type"] = "application/json"
    for name in HOP_BY_HOP:
        response.headers.pop(name, None)
    response.extra_headers = [(k, v) for k, v in response.extra_headers if k not in HOP_BY_HOP]
    return response
