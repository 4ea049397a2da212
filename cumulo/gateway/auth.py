"""AWS Signature Version 4: reading the credential scope and verifying signatures.

The scope (access key, date, region, service) is read from every signed request, because
it routes the request and names its region. Verification recomputes the signature with
botocore's own SigV4 implementation (the same code that signed it on the client), from the
header form (``Authorization: AWS4-HMAC-SHA256 ...``) or the presigned-URL form
(``X-Amz-Signature`` and friends in the query string).
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass
from urllib.parse import urlencode

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


def verify(request: HttpRequest, info: SignatureInfo | None, secrets: dict[str, str],
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
    """Recompute the signature with botocore's SigV4 code over what the client signed."""
    # Imported on first use: botocore.auth pulls in urllib3, which the server's start-up need not pay.
    from botocore.auth import SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    credentials = Credentials(info.access_key, secret)
    host = request.headers.get("host", "")
    if info.presigned:
        query = [(k, v) for k, v in request.query_items if k != "X-Amz-Signature"]
        url = f"http://{host}{request.path}" + ("?" + urlencode(query) if query else "")
        signer: SigV4Auth = SigV4QueryAuth(credentials, info.service, info.region, expires=info.expires or 3600)
    else:
        url = f"http://{host}{request.path}" + (f"?{request.query_string}" if request.query_string else "")
        signer = SigV4Auth(credentials, info.service, info.region)
    headers = {name: request.headers.get(name, "") for name in info.signed_headers}
    aws_request = AWSRequest(method=request.method, url=url, headers=headers, data=request.body)
    aws_request.context["timestamp"] = info.amz_date
    canonical = signer.canonical_request(aws_request)
    string_to_sign = signer.string_to_sign(aws_request, canonical)
    return signer.signature(string_to_sign, aws_request)
