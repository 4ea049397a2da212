"""What S3 answers outside its API: static website hosting and CORS.

* **Websites**: a bucket with a website configuration is served on
  ``<bucket>.s3-website.<anything>`` (``http://site.s3-website.localhost:4566/`` locally): GET
  and HEAD of a key, the index document for ``/`` and folders, the error document (or S3's
  HTML page) with 404, and ``RedirectAllRequestsTo``.
* **CORS**: a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) on a
  bucket's URLs is answered from its CORS rules, and S3 API answers to a request with an
  ``Origin`` get the matching rule's ``Access-Control-*`` headers.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest, HttpResponse
from cumulo.protocol.xml_error import xml_error
from cumulo.services.s3.common import BUCKETS, INLINE_BODY

if TYPE_CHECKING:
    from cumulo.platform import Platform
    from cumulo.services.s3.storage import BodyStore
    from cumulo.services.s3.versions import Versions

_WEBSITE_HOST = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3-website[.-]")
_API_HOST = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3[.-]")
_PATH_STYLE_HOST = re.compile(r"^(localhost|\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]|)$")
_NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
                "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
                "whitelisted by the resource's CORS spec.")


def website_bucket(request: HttpRequest) -> str | None:
    found = _WEBSITE_HOST.match(request.host.split(":", 1)[0])
    return found.group("bucket") if found else None


def addressed_bucket(request: HttpRequest) -> str | None:
    """The bucket an S3 request names: virtual-hosted, or path style on the endpoint's own names
    (an IP address, ``localhost``, ``s3.*``) — not on the hosts of HTTP APIs and custom domains."""
    raw = request.host
    host = raw[:raw.index("]") + 1] if raw.startswith("[") and "]" in raw else raw.rsplit(":", 1)[0]
    found = _API_HOST.match(host)
    if found:
        return found.group("bucket")
    if not (_PATH_STYLE_HOST.match(host) or host.startswith(("s3.", "s3-"))):
        return None
    first = unquote(request.path.lstrip("/").split("/", 1)[0])
    return first or None


def _allowed(patterns: list[str], value: str) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def cors_rule(bucket: dict[str, Any], origin: str, method: str, headers: list[str]) -> dict[str, Any] | None:
    """The first CORS rule that allows ``origin`` to use ``method`` with ``headers``."""
    for rule in bucket.get("Cors") or []:
        if (_allowed(rule.get("AllowedOrigins") or [], origin) and method in (rule.get("AllowedMethods") or [])
                and all(_allowed(rule.get("AllowedHeaders") or [], h) for h in headers)):
            return rule
    return None


def cors_headers(rule: dict[str, Any], origin: str) -> dict[str, str]:
    wildcard = rule.get("AllowedOrigins") == ["*"]
    headers = {"Access-Control-Allow-Origin": "*" if wildcard else origin,
               "Access-Control-Allow-Methods": ", ".join(rule.get("AllowedMethods") or []),
               "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"}
    if not wildcard:
        headers["Access-Control-Allow-Credentials"] = "true"
    if rule.get("ExposeHeaders"):
        headers["Access-Control-Expose-Headers"] = ", ".join(rule["ExposeHeaders"])
    if rule.get("MaxAgeSeconds") is not None:
        headers["Access-Control-Max-Age"] = str(rule["MaxAgeSeconds"])
    return headers


class WebsiteOperations:
    platform: Platform
    bodies: BodyStore
    versions: Versions
    _bucket: Callable[[str], dict[str, Any]]

    def preflight(self, request: HttpRequest) -> HttpResponse | None:
        """Answer a CORS preflight on a bucket's URL (None: not one)."""
        origin = request.headers.get("origin")
        method = request.headers.get("access-control-request-method")
        name = addressed_bucket(request)
        if request.method != "OPTIONS" or not origin or not method or not name:
            return None
        bucket = self.platform.store.get(BUCKETS, name)
        if bucket is None:
            return None
        if not bucket.get("Cors"):
            return xml_error(AwsError("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.",
                                      status=403, fields={"Method": method, "ResourceType": "BUCKET"}))
        requested = request.headers.get("access-control-request-headers", "")
        wanted = [h.strip() for h in requested.split(",") if h.strip()]
        rule = cors_rule(bucket, origin, method, wanted)
        if rule is None:
            return xml_error(AwsError("AccessForbidden", _NOT_ALLOWED, status=403,
                                      fields={"Method": method, "ResourceType": "OBJECT"}))
        headers = cors_headers(rule, origin)
        if wanted:
            headers["Access-Control-Allow-Headers"] = ", ".join(wanted)
        return HttpResponse(200, headers)

    def finish_response(self, request: HttpRequest, response: HttpResponse) -> None:
        """Add the CORS headers of the bucket's matching rule to an API answer to a browser."""
        origin = request.headers.get("origin")
        name = addressed_bucket(request) if origin else None
        bucket = self.platform.store.get(BUCKETS, name) if name else None
        if bucket and bucket.get("Cors"):
            rule = cors_rule(bucket, origin or "", request.method, [])
            if rule is not None:
                response.headers.update(cors_headers(rule, origin or ""))

    def serve_website(self, request: HttpRequest, name: str) -> HttpResponse:
        bucket = self.platform.store.get(BUCKETS, name)
        if bucket is None or not bucket.get("Website"):
            code, message = (("NoSuchBucket", "The specified bucket does not exist") if bucket is None else
                             ("NoSuchWebsiteConfiguration", "The specified bucket does not have a website "
                              "configuration"))
            return _html(404, code, message, name)
        website = bucket["Website"]
        redirect = website.get("RedirectAllRequestsTo")
        if redirect:
            location = f"{redirect.get('Protocol') or 'http'}://{redirect['HostName']}{request.path}"
            return HttpResponse(301, {"Location": location})
        if request.method not in ("GET", "HEAD"):
            return _html(405, "MethodNotAllowed", "The specified method is not allowed against this resource.", name)
        key = unquote(request.path.lstrip("/"))
        suffix = website["IndexDocument"]["Suffix"]
        if key == "" or key.endswith("/"):
            key += suffix
        record = self.versions.current(name, key)
        if (record is None or record.get("DeleteMarker")) and self.versions.current(name, f"{key}/{suffix}"):
            return HttpResponse(302, {"Location": f"/{key}/"})
        if record is None or record.get("DeleteMarker"):
            error_key = (website.get("ErrorDocument") or {}).get("Key")
            error_record = self.versions.current(name, error_key) if error_key else None
            if error_record is None or error_record.get("DeleteMarker"):
                return _html(404, "NoSuchKey", "The specified key does not exist.", name, key)
            return self._object_response(404, error_record)
        if record.get("WebsiteRedirectLocation"):
            return HttpResponse(301, {"Location": record["WebsiteRedirectLocation"]})
        return self._object_response(200, record)

    def _object_response(self, status: int, record: dict[str, Any]) -> HttpResponse:
        headers = {"Content-Type": record.get("ContentType") or "binary/octet-stream", "ETag": record["ETag"]}
        for member, header in (("CacheControl", "Cache-Control"), ("ContentEncoding", "Content-Encoding"),
                               ("ContentDisposition", "Content-Disposition")):
            if record.get(member):
                headers[header] = record[member]
        if record["Size"] <= INLINE_BODY:
            return HttpResponse(status, headers, self.bodies.read(record["body"]))
        return HttpResponse(status, headers, file=self.bodies.open(record["body"], 0, record["Size"]))


def _html(status: int, code: str, message: str, bucket: str, key: str | None = None) -> HttpResponse:
    items = f"<li>Code: {code}</li><li>Message: {message}</li><li>BucketName: {bucket}</li>"
    if key is not None:
        items += f"<li>Key: {key}</li>"
    reason = {404: "Not Found", 405: "Method Not Allowed"}.get(status, "Error")
    body = (f"<html><head><title>{status} {reason}</title></head>"
            f"<body><h1>{status} {reason}</h1><ul>{items}</ul></body></html>")
    return HttpResponse(status, {"Content-Type": "text/html; charset=utf-8"}, body.encode())
