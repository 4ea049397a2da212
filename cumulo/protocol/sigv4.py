"""The arithmetic of AWS Signature Version 4, written from AWS's documented rules.

A signature is an HMAC chain: the signing key is derived from the secret, the date, the region
and the service; the string to sign names the algorithm, the time, the credential scope and the
hash of a canonical form of what is signed (an HTTP request, or for streaming uploads the
previous signature and a chunk). Server-side verification and the presigning of Cumulo's own
URLs both build on these functions.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"


def hex_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def uri_encode(text: str, safe: str = "") -> str:
    """AWS's URI encoding: every byte but the unreserved ``A-Za-z0-9-._~`` (and ``safe``) as %XX."""
    return quote(text, safe="-_.~" + safe)


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    """Names and values URI-encoded once, sorted by name then value, joined with ``&``.

    ``pairs`` are taken as sent (percent-encoded) and re-encoded from their decoded form, so a
    client that leaves a character such as ``/`` unencoded on the wire still matches.
    """
    encoded = sorted((uri_encode(unquote(name)), uri_encode(unquote(value))) for name, value in pairs)
    return "&".join(f"{name}={value}" for name, value in encoded)


def raw_query_pairs(query_string: str) -> list[tuple[str, str]]:
    """The ``name=value`` pairs of a query string, still percent-encoded (``+`` is not a space)."""
    pairs = []
    for item in query_string.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((name, value))
    return pairs


def canonical_headers(headers: dict[str, str], names: tuple[str, ...]) -> str:
    """``name:value\\n`` for each signed header, values trimmed and inner runs of spaces collapsed."""
    return "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in names)


def scope(date: str, region: str, service: str) -> str:
    return f"{date}/{region}/{service}/aws4_request"


@functools.lru_cache(maxsize=256)  # one derivation per key, day, region and service, not per request
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def string_to_sign(amz_date: str, credential_scope: str, canonical_request: str) -> str:
    return f"{ALGORITHM}\n{amz_date}\n{credential_scope}\n{hex_sha256(canonical_request.encode())}"


def signature(key: bytes, text: str) -> str:
    return hmac.digest(key, text.encode(), "sha256").hex()


@functools.lru_cache(maxsize=256)
def _encoded_credential(access_key: str, credential_scope: str) -> str:
    return uri_encode(f"{access_key}/{credential_scope}")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.digest(key, text.encode(), "sha256")


def presign_url(base_url: str, path: str, host: str, access_key: str, secret: str, region: str,
                service: str, expires: int, now: dt.datetime | None = None, method: str = "GET") -> str:
    """``base_url + path`` presigned for ``method`` (query-string SigV4, only ``host`` signed, payload unsigned).

    ``path`` must already be percent-encoded as it will be sent; it is signed as it stands (S3's rule).
    """
    amz_date = (now or dt.datetime.now(dt.UTC)).strftime(TIMESTAMP_FORMAT)
    credential_scope = scope(amz_date[:8], region, service)
    # The parameters in name order, encoded as AWS encodes them: the query string is its own canonical form.
    query = (f"X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={_encoded_credential(access_key, credential_scope)}"
             f"&X-Amz-Date={amz_date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host")
    canonical = "\n".join([method, path, query,
                           canonical_headers({"host": host}, ("host",)), "host", "UNSIGNED-PAYLOAD"])
    signed = signature(signing_key(secret, amz_date[:8], region, service),
                       string_to_sign(amz_date, credential_scope, canonical))
    return f"{base_url}{path}?{query}&X-Amz-Signature={signed}"
