"""AWS Signature Version 4: reading the credential scope and verifying signatures.

The scope (access key, date, region, service) is read from every signed request, because
it routes the request and names its region. Verification recomputes the signature by
SigV4's general rules (``cumulo.protocol.sigv4``), from the header form (``Authorization:
AWS4-HMAC-SHA256 ...``) or the presigned-URL form (``X-Amz-Signature`` and friends in the query
string). S3 signs by rules of its own: see ``cumulo.gateway.s3_auth``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass
from typing import Protocol

from cumulo.protocol import sigv4
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest

_AUTH_HEADER = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-fA-F]+)")
MAX_SKEW = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class SignatureInfo:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    presigned: bool
    expires: int | None = None


def read_signature(request: HttpRequest) -> SignatureInfo | None:
    """The SigV4 fields of a request, or None when it is not signed with SigV4."""
    header = request.headers.get("authorization", "")
    if header.startswith("AWS4-HMAC-SHA256"):
        found = _AUTH_HEADER.match(header)
        if found is None:
            raise AwsError("IncompleteSignatureException",
                           "Authorization header requires 'Credential', 'SignedHeaders' and "
                           "'Signature' parameters.", status=400)
        parts = found.group("credential").split("/")
        if len(parts) != 5:
            raise AwsError("IncompleteSignatureException", "Credential is malformed: expected "
                           "<access-key>/<date>/<region>/<service>/aws4_request", status=400)
        return SignatureInfo(parts[0], parts[1], parts[2], parts[3],
                             tuple(found.group("signed").split(";")), found.group("signature"),
                             request.headers.get("x-amz-date", ""), presigned=False)
    query = request.query
    if query.get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256" and "X-Amz-Credential" in query:
        parts = query["X-Amz-Credential"].split("/")
        if len(parts) != 5:
            raise AwsError("IncompleteSignatureException", "X-Amz-Credential is malformed", status=400)
        expires = query.get("X-Amz-Expires")
        return SignatureInfo(parts[0], parts[1], parts[2], parts[3],
                             tuple(query.get("X-Amz-SignedHeaders", "host").split(";")),
                             query.get("X-Amz-Signature", ""), query.get("X-Amz-Date", ""),
                             presigned=True, expires=int(expires) if expires and expires.isdigit() else None)
    return None


def read_access_key(request: HttpRequest) -> str | None:
    """The access key of an unsigned-but-identified request (SigV2-style or none)."""
    info = read_signature(request)
    return info.access_key if info else None


def _query_family(protocol_family: str) -> bool:
    return protocol_family == "query"


def auth_error(kind: str, protocol_family: str) -> AwsError:
    """AWS's error for a failed authentication, worded per protocol family."""
    query = _query_family(protocol_family)
    if kind == "missing":
        return AwsError("MissingAuthenticationToken" if query else "MissingAuthenticationTokenException",
                        "Request is missing Authentication Token", status=403)
    if kind == "unknown-key":
        return AwsError("InvalidClientTokenId" if query else "UnrecognizedClientException",
                        "The security token included in the request is invalid.", status=403)
    return AwsError("SignatureDoesNotMatch" if query else "InvalidSignatureException",
                    "The request signature we calculated does not match the signature you provided. "
                    "Check your AWS Secret Access Key and signing method. Consult the service "
                    "documentation for details.", status=403)


class SecretLookup(Protocol):
    """Secret access keys by access key id: a dict of operator keys, or those plus live sessions."""

    def get(self, access_key: str, /) -> str | None: ...


def verify(request: HttpRequest, info: SignatureInfo | None, secrets: SecretLookup,
           protocol_family: str, now: dt.datetime | None = None) -> None:
    """Raise AWS's auth error unless ``request`` carries a valid signature of a known key."""
    if info is None:
        raise auth_error("missing", protocol_family)
    secret = secrets.get(info.access_key)
    if secret is None:
        raise auth_error("unknown-key", protocol_family)
    try:
        signed_at = dt.datetime.strptime(info.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise auth_error("bad-signature", protocol_family) from exc
    now = now or dt.datetime.now(dt.UTC)
    if info.presigned:
        if info.expires is not None and now > signed_at + dt.timedelta(seconds=info.expires):
            raise AwsError("InvalidSignatureException" if not _query_family(protocol_family)
                           else "SignatureDoesNotMatch", "Signature expired: the presigned request "
                           f"expired at {(signed_at + dt.timedelta(seconds=info.expires)):%Y%m%dT%H%M%SZ}",
                           status=403)
    elif abs(now - signed_at) > MAX_SKEW:
        raise AwsError("InvalidSignatureException" if not _query_family(protocol_family)
                       else "SignatureDoesNotMatch",
                       f"Signature expired: {info.amz_date} is now earlier than "
                       f"{(now - MAX_SKEW):%Y%m%dT%H%M%SZ} ({now:%Y%m%dT%H%M%SZ} - 15 min.)", status=403)
    expected = expected_signature(request, info, secret)
    if not hmac.compare_digest(expected, info.signature.lower()):
        raise auth_error("bad-signature", protocol_family)


def expected_signature(request: HttpRequest, info: SignatureInfo, secret: str) -> str:
    """Recompute the signature over what the client signed, by SigV4's general rules (not S3's)."""
    return sigv4.signature(sigv4.signing_key(secret, info.date, info.region, info.service),
                           sigv4.string_to_sign(info.amz_date, sigv4.scope(info.date, info.region, info.service),
                                                canonical_request(request, info)))


def canonical_request(request: HttpRequest, info: SignatureInfo) -> str:
    """The canonical request: the path normalized and encoded (a second time), the query less the
    signature, the signed headers, and the payload hash (declared, or of the body)."""
    pairs = sigv4.raw_query_pairs(request.query_string)
    if info.presigned:
        pairs = [(name, value) for name, value in pairs if name != "X-Amz-Signature"]
    payload_hash = request.headers.get("x-amz-content-sha256") or sigv4.hex_sha256(request.body)
    return "\n".join([request.method, sigv4.uri_encode(normalized_path(request.path), safe="/"),
                      sigv4.canonical_query(pairs), sigv4.canonical_headers(request.headers, info.signed_headers),
                      ";".join(info.signed_headers), payload_hash])


def normalized_path(path: str) -> str:
    """``path`` with ``.`` and ``..`` segments resolved and empty segments (``//``) dropped."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    trailing = "/" if path.endswith("/") and segments else ""
    return "/" + "/".join(segments) + trailing
