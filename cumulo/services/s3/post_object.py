"""S3's POST Object: browser form uploads authorized by a signed policy document (presigned POST).

The form carries the object (``file``, last), its key and headers, a base64 policy document and
the SigV4 fields; the signature is an HMAC of the base64 policy with the signing key of the
credential's scope. The policy expires, and its conditions (exact values, prefixes, a size range)
must hold for every form field, and every field must be covered by one. The S3 API model does
not describe this operation, so it is served as a plain HTTP route before API dispatch.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from cumulo.protocol import form_data, sigv4
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import HttpRequest, HttpResponse
from cumulo.protocol.xml_codec import to_bytes

_BUCKET_PATH = re.compile(r"^/([a-z0-9][a-z0-9.-]*)/?$")
_UNCHECKED_FIELDS = frozenset({"policy", "x-amz-signature", "file"})
_META_PREFIX = "x-amz-meta-"
_HEADER_FIELDS = {"content-type": "ContentType", "cache-control": "CacheControl",
                  "content-disposition": "ContentDisposition", "content-encoding": "ContentEncoding",
                  "expires": "Expires"}


@dataclass
class FormUpload:
    key: str
    body: bytes
    params: dict[str, Any] = field(default_factory=dict)
    success_status: str = "204"


def form_upload_bucket(request: HttpRequest) -> str | None:
    """The bucket of a form upload (path-style ``POST /bucket``), or None for any other request."""
    if request.method != "POST" or request.query_string or request.content_type != "multipart/form-data":
        return None
    found = _BUCKET_PATH.match(request.path)
    return found.group(1) if found else None


def read_upload(request: HttpRequest, bucket: str, secrets: dict[str, str] | None,
                now: dt.datetime | None = None) -> FormUpload:
    """The object a form uploads; its policy and signature are checked when ``secrets`` is given."""
    fields: dict[str, str] = {}
    file: form_data.FormPart | None = None
    for part in form_data.parse(request.headers.get("content-type", ""), request.body):
        if part.name.lower() == "file":
            file = part
            break  # AWS ignores the fields after the file
        fields[part.name.lower()] = part.value.decode("utf-8", "replace")
    if file is None:
        raise AwsError("InvalidArgument", "POST requires exactly one file upload per request.", status=400,
                       fields={"ArgumentName": "file", "ArgumentValue": "0"})
    if "key" not in fields:
        raise AwsError("InvalidArgument", "Bucket POST must contain a field named 'key'.  If it is specified, "
                       "please check the order of the fields.", status=400,
                       fields={"ArgumentName": "key", "ArgumentValue": ""})
    if secrets is not None:
        policy = _signed_policy(fields, secrets)
        _check_policy(policy, fields, bucket, len(file.value), now or dt.datetime.now(dt.UTC))
    params: dict[str, Any] = {name: fields[wire] for wire, name in _HEADER_FIELDS.items() if fields.get(wire)}
    if "ContentType" not in params and file.content_type:
        params["ContentType"] = file.content_type
    params["Metadata"] = {name[len(_META_PREFIX):]: value for name, value in fields.items()
                          if name.startswith(_META_PREFIX)}
    key = fields["key"].replace("${filename}", file.filename or "")
    return FormUpload(key, file.value, params, fields.get("success_action_status", "204"))


def upload_response(upload: FormUpload, bucket: str, etag: str, base_url: str) -> HttpResponse:
    """204 by default; 200 or 201 (with a ``PostResponse`` document) as ``success_action_status`` asks."""
    location = f"{base_url}/{bucket}/{sigv4.uri_encode(upload.key, safe='/')}"
    headers = {"ETag": etag, "Location": location}
    if upload.success_status == "201":
        root = ET.Element("PostResponse")
        for name, value in (("Location", location), ("Bucket", bucket), ("Key", upload.key), ("ETag", etag)):
            ET.SubElement(root, name).text = value
        return HttpResponse(201, {**headers, "Content-Type": "application/xml"}, to_bytes(root))
    return HttpResponse(200 if upload.success_status == "200" else 204, headers)


def _policy_denied(reason: str) -> AwsError:
    return AwsError("AccessDenied", f"Invalid according to Policy: {reason}", status=403)


def _signed_policy(fields: dict[str, str], secrets: dict[str, str]) -> dict[str, Any]:
    """The policy document, once its signature is verified."""
    encoded = fields.get("policy")
    if not encoded or "x-amz-signature" not in fields:
        raise AwsError("AccessDenied", "Access Denied", status=403)
    if fields.get("x-amz-algorithm") != sigv4.ALGORITHM:
        raise AwsError("InvalidArgument", "POST form fields x-amz-algorithm must be AWS4-HMAC-SHA256", status=400,
                       fields={"ArgumentName": "x-amz-algorithm", "ArgumentValue": fields.get("x-amz-algorithm", "")})
    credential = fields.get("x-amz-credential", "").split("/")
    if len(credential) != 5:
        raise AwsError("InvalidArgument", "Invalid credential in POST form fields", status=400,
                       fields={"ArgumentName": "x-amz-credential", "ArgumentValue": fields.get("x-amz-credential")})
    access_key, date, region, service, _ = credential
    secret = secrets.get(access_key)
    if secret is None:
        raise AwsError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                       status=403, fields={"AWSAccessKeyId": access_key})
    expected = sigv4.signature(sigv4.signing_key(secret, date, region, service), encoded)
    if not hmac.compare_digest(expected, fields["x-amz-signature"].lower()):
        raise AwsError("SignatureDoesNotMatch", "The request signature we calculated does not match the signature "
                       "you provided. Check your key and signing method.", status=403,
                       fields={"AWSAccessKeyId": access_key, "StringToSign": encoded,
                               "SignatureProvided": fields["x-amz-signature"]})
    try:
        policy = json.loads(base64.b64decode(encoded, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise AwsError("InvalidPolicyDocument", "Invalid Policy: Invalid JSON.", status=400) from exc
    if not isinstance(policy, dict) or not isinstance(policy.get("conditions"), list):
        raise AwsError("InvalidPolicyDocument", "Invalid Policy: Policy missing conditions.", status=400)
    return policy


def _check_policy(policy: dict[str, Any], fields: dict[str, str], bucket: str, size: int,
                  now: dt.datetime) -> None:
    try:
        expiration = dt.datetime.fromisoformat(str(policy.get("expiration", "")).replace("Z", "+00:00"))
    except ValueError as exc:
        raise AwsError("InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value.", status=400) from exc
    if now > (expiration if expiration.tzinfo else expiration.replace(tzinfo=dt.UTC)):
        raise _policy_denied("Policy expired.")
    values = {**fields, "bucket": bucket}
    covered = {"bucket"}
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            for name, expected in condition.items():
                covered.add(name.lower())
                if values.get(name.lower()) != str(expected):
                    raise _policy_denied(f"Policy Condition failed: [\"eq\", \"${name}\", \"{expected}\"]")
        elif isinstance(condition, list) and len(condition) == 3:
            _check_rule([str(item) for item in condition], values, covered, size)
        else:
            raise AwsError("InvalidPolicyDocument", "Invalid Policy: Invalid Simple-Condition.", status=400)
    extra = [name for name in fields
             if name not in covered and name not in _UNCHECKED_FIELDS and not name.startswith("x-ignore-")]
    if extra:
        raise _policy_denied(f"Extra input fields: {', '.join(extra)}")


def _check_rule(rule: list[str], values: dict[str, str], covered: set[str], size: int) -> None:
    operator, target, expected = rule[0].lower(), rule[1], rule[2]
    if operator == "content-length-range":
        if not (target.isdigit() and expected.isdigit()):
            raise AwsError("InvalidPolicyDocument", "Invalid Policy: Invalid content-length-range.", status=400)
        if size < int(target):
            raise AwsError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size",
                           status=400, fields={"ProposedSize": size, "MinSizeAllowed": target})
        if size > int(expected):
            raise AwsError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                           status=400, fields={"ProposedSize": size, "MaxSizeAllowed": expected})
        return
    name = target.removeprefix("$").lower()
    covered.add(name)
    value = values.get(name, "")
    if operator == "eq":
        holds = value == expected
    elif operator == "starts-with":
        holds = value.startswith(expected)
    else:
        raise AwsError("InvalidPolicyDocument", f"Invalid Policy: Invalid Condition: {operator}", status=400)
    if not holds:
        raise _policy_denied(f"Policy Condition failed: [\"{operator}\", \"{target}\", \"{expected}\"]")
