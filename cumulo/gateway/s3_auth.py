"""Verifying S3 requests: SigV4 with S3's own rules, answered with S3's error codes.

S3 differs from the other services in ways that matter for security: the canonical URI is the
path exactly as sent (not normalized, not encoded a second time), so a signature for one key
never verifies another; the payload hash travels in ``x-amz-content-sha256`` and must match the
body (or be ``UNSIGNED-PAYLOAD``, or announce a streaming upload whose chunks are signed in a
chain starting from the request's signature); presigned URLs always sign ``UNSIGNED-PAYLOAD``
and carry their own expiry. Cumulo's code download URLs are verified by the same rules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import BinaryIO

from cumulo.gateway.auth import MAX_SKEW, SecretLookup, SignatureInfo
from cumulo.protocol import aws_chunked, sigv4
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SIGNED_STREAMING = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
UNSIGNED_STREAMING = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600
_HEX_DIGITS = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class _Signed:
    """What was signed and with which key: the basis for checking a streaming body's chunks."""

    key: bytes
    scope: str
    amz_date: str
    seed_signature: str


def access_denied(message: str = "Access Denied", **fields: str) -> AwsError:
    return AwsError("AccessDenied", message, status=403, fields=fields)


def verify_s3(request: HttpRequest, info: SignatureInfo | None, secrets: SecretLookup,
              now: dt.datetime | None = None) -> None:
    """Raise S3's error unless ``request`` (as sent, before any rewriting) is validly signed."""
    if info is None:
        raise access_denied()
    secret = secrets.get(info.access_key)
    if secret is None:
        raise AwsError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                       status=403, fields={"AWSAccessKeyId": info.access_key})
    _check_time(info, now or dt.datetime.now(dt.UTC))
    payload_hash = _payload_hash(request, info)
    signed = _check_signature(request, info, secret, payload_hash)
    if payload_hash in SIGNED_STREAMING:
        with aws_chunked.open_body(request) as body:
            _check_chunks(body, signed)
    elif payload_hash not in (UNSIGNED_PAYLOAD, UNSIGNED_STREAMING):
        computed = _body_sha256(request)
        if computed != payload_hash:
            raise AwsError("XAmzContentSHA256Mismatch",
                           "The provided 'x-amz-content-sha256' header does not match what was computed.",
                           status=400, fields={"ClientComputedContentSHA256": payload_hash,
                                               "S3ComputedContentSHA256": computed})


def _check_time(info: SignatureInfo, now: dt.datetime) -> None:
    try:
        signed_at = dt.datetime.strptime(info.amz_date, sigv4.TIMESTAMP_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise access_denied("AWS authentication requires a valid Date or x-amz-date header") from exc
    if info.date != info.amz_date[:8]:
        raise AwsError("AuthorizationHeaderMalformed", f"The authorization header is malformed; Invalid "
                       f"credential date. Date is not the same as X-Amz-Date: {info.date}.", status=400)
    server_time = f"{now:%Y-%m-%dT%H:%M:%SZ}"
    if info.presigned:
        if info.expires is None or not 0 < info.expires <= MAX_PRESIGN_EXPIRES:
            raise AwsError("AuthorizationQueryParametersError", "X-Amz-Expires must be less than a week "
                           f"(in seconds) that is {MAX_PRESIGN_EXPIRES}", status=400)
        expiry = signed_at + dt.timedelta(seconds=info.expires)
        if now > expiry:
            raise access_denied("Request has expired", **{"X-Amz-Expires": str(info.expires)},
                                Expires=f"{expiry:%Y-%m-%dT%H:%M:%SZ}", ServerTime=server_time)
        if signed_at - now > MAX_SKEW:
            raise access_denied("Request is not valid yet")
    elif abs(now - signed_at) > MAX_SKEW:
        raise AwsError("RequestTimeTooSkewed", "The difference between the request time and the current "
                       "time is too large.", status=403,
                       fields={"RequestTime": info.amz_date, "ServerTime": server_time,
                               "MaxAllowedSkewMilliseconds": str(int(MAX_SKEW.total_seconds() * 1000))})


def _payload_hash(request: HttpRequest, info: SignatureInfo) -> str:
    """The payload hash the client signed: ``UNSIGNED-PAYLOAD``, a streaming mode, or a hex SHA-256."""
    if info.presigned:
        return request.query.get("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD)
    value = request.headers.get("x-amz-content-sha256")
    if value is None:
        raise AwsError("InvalidRequest", "Missing required header for this request: x-amz-content-sha256",
                       status=400)
    if value in (UNSIGNED_PAYLOAD, UNSIGNED_STREAMING, *SIGNED_STREAMING) or (
            len(value) == 64 and set(value) <= _HEX_DIGITS):
        return value
    raise AwsError("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                   f"{UNSIGNED_STREAMING}, {', '.join(SIGNED_STREAMING)} or a valid sha256 value.", status=400,
                   fields={"ArgumentName": "x-amz-content-sha256", "ArgumentValue": value})


def canonical_request(request: HttpRequest, info: SignatureInfo, payload_hash: str) -> str:
    """S3's canonical request: the path as sent, the query (less the signature), the signed headers."""
    pairs = sigv4.raw_query_pairs(request.query_string)
    if info.presigned:
        pairs = [(name, value) for name, value in pairs if name != "X-Amz-Signature"]
    return "\n".join([request.method, request.path or "/", sigv4.canonical_query(pairs),
                      sigv4.canonical_headers(request.headers, info.signed_headers),
                      ";".join(info.signed_headers), payload_hash])


def _check_signature(request: HttpRequest, info: SignatureInfo, secret: str, payload_hash: str) -> _Signed:
    canonical = canonical_request(request, info, payload_hash)
    credential_scope = sigv4.scope(info.date, info.region, info.service)
    text = sigv4.string_to_sign(info.amz_date, credential_scope, canonical)
    key = sigv4.signing_key(secret, info.date, info.region, info.service)
    expected = sigv4.signature(key, text)
    if not hmac.compare_digest(expected, info.signature.lower()):
        raise _signature_mismatch(info, text, canonical)
    return _Signed(key, credential_scope, info.amz_date, expected)


def _signature_mismatch(info: SignatureInfo, text: str, canonical: str) -> AwsError:
    """S3's answer, with what it signed, so a client author can see where the two sides differ."""
    return AwsError(
        "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you "
        "provided. Check your key and signing method.", status=403,
        fields={"AWSAccessKeyId": info.access_key, "StringToSign": text, "SignatureProvided": info.signature,
                "StringToSignBytes": _spaced_hex(text), "CanonicalRequest": canonical,
                "CanonicalRequestBytes": _spaced_hex(canonical)})


def _spaced_hex(text: str) -> str:
    return " ".join(f"{byte:02x}" for byte in text.encode())


def _body_sha256(request: HttpRequest) -> str:
    """The hex SHA-256 of the body, read from its spool file piece by piece when it has one."""
    if request.spool is None:
        return sigv4.hex_sha256(request.body)
    digest = hashlib.sha256()
    with open(request.spool.path, "rb") as handle:
        while piece := handle.read(aws_chunked.PIECE):
            digest.update(piece)
    return digest.hexdigest()


def _check_chunks(body: BinaryIO, signed: _Signed) -> None:
    """Each chunk's signature chains from the previous one, starting at the request's signature;
    trailing headers, when sent, are signed last in the same chain."""
    chunked = aws_chunked.read_chunks(body, hashed=True)
    previous = signed.seed_signature
    for chunk in chunked.chunks:
        text = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", signed.amz_date, signed.scope, previous,
                          sigv4.EMPTY_SHA256, chunk.sha256 or ""])
        previous = _chained(signed.key, text, chunk.signature)
    if chunked.trailers or chunked.trailer_signature is not None:
        canonical = "".join(f"{name}:{value}\n" for name, value in chunked.trailers.items())
        text = "\n".join(["AWS4-HMAC-SHA256-TRAILER", signed.amz_date, signed.scope, previous,
                          sigv4.hex_sha256(canonical.encode())])
        _chained(signed.key, text, chunked.trailer_signature)


def _chained(key: bytes, text: str, provided: str | None) -> str:
    expected = sigv4.signature(key, text)
    if provided is None or not hmac.compare_digest(expected, provided.lower()):
        raise AwsError("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                       "signature you provided. Check your key and signing method.", status=403,
                       fields={"StringToSign": text, "SignatureProvided": provided or ""})
    return expected

