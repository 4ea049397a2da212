"""The download URL of a function's or layer's code package (``Code.Location``, ``Content.Location``).

As on AWS, the URL is presigned (SigV4 in the query string, S3's rules) and valid for ten
minutes, so it can be handed to a plain HTTP client; the endpoint verifies it when it requires
authentication. It is signed with the caller's access key when the server knows its secret,
otherwise with the first configured key.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from cumulo.protocol.sigv4 import presign_url
from cumulo.services.base import RequestContext

EXPIRES_SECONDS = 600
# A URL asked for again within a minute is handed out again (still valid for 9 minutes or more):
# signing costs more than the rest of a GetFunction.
REUSE_SECONDS = 60
_issued: dict[tuple[str, str, str, str], tuple[float, str]] = {}


def code_location(context: RequestContext, access_keys: dict[str, str], sha256_hex: str) -> str:
    access_key = context.access_key if context.access_key in access_keys else next(iter(access_keys), "")
    key = (context.base_url, access_key, context.region, sha256_hex)
    now = time.monotonic()
    issued = _issued.get(key)
    if issued is not None and now - issued[0] < REUSE_SECONDS:
        return issued[1]
    url = presign_url(context.base_url, f"/_cumulo/code/{sha256_hex}.zip", urlsplit(context.base_url).netloc,
                      access_key, access_keys.get(access_key, ""), context.region, "s3", EXPIRES_SECONDS)
    if len(_issued) >= 1024:
        _issued.clear()
    _issued[key] = (now, url)
    return url
