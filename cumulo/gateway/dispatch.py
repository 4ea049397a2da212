"""From an HTTP request to a provider call and back: resolve, authenticate, parse, validate, run.

Every failure on the way out becomes an AWS error in the wire shape the client expects;
bad input never produces a 500 or a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import uuid
from xml.etree import ElementTree as ET

from cumulo.gateway.auth import SignatureInfo, read_signature, verify
from cumulo.gateway.s3_auth import verify_s3
from cumulo.gateway.session_auth import SigningSecrets, check_session
from cumulo.iam.enforcement import authorize
from cumulo.iam.sessions import Session
from cumulo.platform import Platform
from cumulo.protocol.catalog import Resolved
from cumulo.protocol.errors import AwsError
from cumulo.protocol.http import BodyTooLarge, HttpRequest, HttpResponse
from cumulo.protocol.xml_codec import to_bytes
from cumulo.services.base import RequestContext, run_operation

log = logging.getLogger("cumulo.gateway")
_REGION_IN_HOST = re.compile(r"\.([a-z]{2}(?:-gov)?-[a-z]+-\d)\.")


class Dispatcher:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.sessions = platform.sessions
        self.secrets = SigningSecrets(platform.settings.access_keys, self.sessions)

    async def handle(self, request: HttpRequest) -> tuple[HttpResponse, str]:
        """Answer one AWS API request; also returns "service.Operation" for the request log."""
        request_id = str(uuid.uuid4())
        signed = request  # signatures cover the request as sent, before any rewriting
        try:
            signature = read_signature(request)
            if (signature is not None and signature.service == "s3") or ".s3." in request.host:
                request = path_style(request)
            elif request.spool is not None:
                request = signed = request.load_body()  # only S3's uploads stream
            resolved = self.platform.catalog.resolve(request, signature.service if signature else None)
            if request.spool is not None and resolved.service.service_name != "s3":
                request = signed = request.load_body()
        except AwsError as error:
            return unresolved_error(request, error, request_id), "-"
        except BodyTooLarge:  # answered as the HTTP server refuses bodies beyond every limit
            return HttpResponse(413, {"Content-Type": "application/json", "Connection": "close"},
                                b'{"message":"Request entity too large"}'), "-"
        label = f"{resolved.service.service_name}.{resolved.operation.name}"
        try:
            settings = self.platform.settings
            session = self._session(signature)
            if settings.auth_required:
                if resolved.service.service_name == "s3":
                    verify_s3(signed, signature, self.secrets)
                else:
                    verify(signed, signature, self.secrets, resolved.protocol.name)
                if session is not None:
                    check_session(signed, session, resolved.protocol.name)
            context = RequestContext(
                request_id=request_id,
                region=self._region(request, signature.region if signature else None),
                account_id=settings.account_id,
                service=resolved.service.service_name,
                operation=resolved.operation.name,
                access_key=signature.access_key if signature else None,
                base_url=f"http://{request.host}" if request.host else settings.endpoint_url,
                trace_header=request.headers.get("x-amzn-trace-id"),
            )
            enforced = session if settings.enforce_iam else None
            response, subject = await self._run(resolved, request, context, enforced)
            return response, f"{label} {subject}" if subject else label
        except AwsError as error:
            return resolved.protocol.serialize_error(resolved.service, error, request_id), label
        except Exception:
            log.exception("internal error in %s", label)
            error = AwsError("InternalFailure" if resolved.protocol.name == "query" else "ServiceException",
                             "The request processing has failed because of an unknown error, "
                             "exception or failure.", status=500, sender_fault=False)
            return resolved.protocol.serialize_error(resolved.service, error, request_id), label

    def _session(self, signature: SignatureInfo | None) -> Session | None:
        """The role session whose credentials signed the request (None for operator keys)."""
        if signature is None or signature.access_key in self.platform.settings.access_keys:
            return None
        return self.sessions.find(signature.access_key)

    async def _run(self, resolved: Resolved, request: HttpRequest, context: RequestContext,
                   enforced: Session | None) -> tuple[HttpResponse, str | None]:
        """Parse and run the operation; a request of an ``enforced`` session must be allowed by its role.
        Also returns the name of the resource it acts on, for the request log."""
        operation = resolved.operation
        provider = self.platform.providers[resolved.service.service_name]
        params = resolved.protocol.parse(request, operation, resolved.labels)
        if enforced is not None:
            authorize(self.platform.store, enforced, signing_name=resolved.service.signing_name,
                      operation=operation.name, params=params, region=context.region, source_ip=request.client,
                      protocol_family=resolved.protocol.name)
        result = await run_operation(provider, operation, context, params, resolved.protocol.name)
        response = resolved.protocol.serialize(operation, result, context.request_id)
        finish = getattr(provider, "finish_response", None)  # S3's CORS headers for browsers
        if finish is not None:
            finish(request, response)
        return response, subject_of(params)

    def _region(self, request: HttpRequest, signed_region: str | None) -> str:
        if signed_region:
            return signed_region
        found = _REGION_IN_HOST.search("." + request.host.split(":")[0] + ".")
        return found.group(1) if found else self.platform.settings.default_region


# Members naming what a request acts on, most specific first (for the one-line request log).
_SUBJECT_MEMBERS = ("FunctionName", "QueueUrl", "TopicArn", "SubscriptionArn", "stateMachineArn", "executionArn",
                    "StackName", "logGroupName", "Bucket", "Rule", "EventBusName", "ApiId", "RoleName", "Name",
                    "name", "ResourceArn", "resourceArn")


def subject_of(params: dict) -> str | None:
    """The short name of the resource a request acts on (``hello`` for a function's ARN), if any."""
    for member in _SUBJECT_MEMBERS:
        value = params.get(member)
        if isinstance(value, str) and value:
            return value.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] if member.endswith(
                ("Url", "Arn", "arn")) else value
    return None


_VIRTUAL_HOST = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3[.-]")


def path_style(request: HttpRequest) -> HttpRequest:
    """Rewrite S3's virtual-hosted addressing (``bucket.s3.localhost``) into path style (``/bucket/key``)."""
    found = _VIRTUAL_HOST.match(request.host.split(":", 1)[0])
    if found is None:
        return request
    return dataclasses.replace(request, path=f"/{found.group('bucket')}{request.path}")


def unresolved_error(request: HttpRequest, error: AwsError, request_id: str) -> HttpResponse:
    """An error for a request whose service is unknown, in the shape its form suggests."""
    headers = {"x-amzn-RequestId": request_id}
    status = error.status or 400
    looks_like_query = "Action" in request.query or (
        request.content_type == "application/x-www-form-urlencoded" and b"Action=" in request.body)
    if looks_like_query:
        root = ET.Element("ErrorResponse")
        body = ET.SubElement(root, "Error")
        ET.SubElement(body, "Type").text = "Sender"
        ET.SubElement(body, "Code").text = error.code
        ET.SubElement(body, "Message").text = error.message
        ET.SubElement(root, "RequestId").text = request_id
        headers["Content-Type"] = "text/xml"
        return HttpResponse(status, headers, to_bytes(root))
    headers["x-amzn-ErrorType"] = error.code
    headers["Content-Type"] = ("application/x-amz-json-1.1" if "x-amz-target" in request.headers
                               else "application/json")
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    return HttpResponse(status, headers, body)
