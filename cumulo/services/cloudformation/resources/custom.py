"""Custom resources (``Custom::*``, ``AWS::CloudFormation::CustomResource``): AWS's request/response contract.

CloudFormation sends the provider (a Lambda function, invoked asynchronously, or an SNS topic, named
by ``ServiceToken``) a request: RequestType Create/Update/Delete, the resource's properties (every
scalar as a string, as AWS sends them), the old properties on Update, and a ``ResponseURL``: a
presigned S3 PUT URL on Cumulo's own S3. The provider PUTs its JSON response there (Status
SUCCESS/FAILED, Reason, PhysicalResourceId, Data for ``Fn::GetAtt``, NoEcho to mask Data's values
in stack events and outputs); the stack operation
polls for that object until ``ServiceTimeout`` (1 to 3600 s; by default the
``custom_resource_timeout_seconds`` setting, AWS's hour). The wait is a cancellable sleep, so a
server stop interrupts it. An Update whose response names a new PhysicalResourceId makes the
engine send Delete for the old one once the stack update completes, and a FAILED Create that names
a PhysicalResourceId gets a Delete at the rollback (or when the stack is deleted), as AWS does.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

from cumulo.arns import service_of
from cumulo.protocol.errors import AwsError
from cumulo.protocol.sigv4 import presign_url
from cumulo.services.cloudformation.resources.base import Deployed, ResourceContext, ResourceFailure, ResourceHandler

CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"
MAX_SERVICE_TIMEOUT = 3600
MAX_RESPONSE = 4096  # bytes of the response body, as AWS limits it
POLL_FIRST, POLL_MAX = 0.02, 0.5  # seconds between looks for the response object


def response_bucket(region: str) -> str:
    """The bucket responses are written to, named as AWS's (cloudformation-custom-resource-response-useast1)."""
    return f"cloudformation-custom-resource-response-{region.replace('-', '')}"


def as_strings(value: Any) -> Any:
    """Properties as a custom resource receives them: every scalar a string (booleans "true"/"false")."""
    if isinstance(value, dict):
        return {k: as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_strings(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) or value is None else str(value)


class CustomResourceHandler(ResourceHandler):
    """One custom resource type; every property is passed on to the provider, none is checked here."""

    open_properties = True

    def __init__(self, resource_type: str = CUSTOM_RESOURCE) -> None:
        self.type = resource_type

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        return await self._request(ctx, "Create", props)

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        if old.get("ServiceToken") != new.get("ServiceToken"):
            raise ResourceFailure("Modifying service token is not allowed.")
        return await self._request(ctx, "Update", new, physical_id, old)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await self._request(ctx, "Delete", props, physical_id)

    def attribute(self, deployed: Deployed, name: str) -> Any:
        if name in deployed.attributes:
            return deployed.attributes[name]
        raise ResourceFailure(f"CustomResource attribute error: Vendor response doesn't contain {name} key in "
                              f"object {deployed.physical_id}")

    # ------------------------------------------------------------ one request
    async def _request(self, ctx: ResourceContext, request_type: str, props: dict[str, Any],
                       physical_id: str | None = None, old: dict[str, Any] | None = None) -> Deployed:
        token = props.get("ServiceToken")
        if not isinstance(token, str) or not token:
            raise ResourceFailure(f"Properties validation failed for resource {ctx.logical_id} with message: "
                                  "#: required key [ServiceToken] not found")
        timeout = self._timeout(ctx, props.get("ServiceTimeout"))
        request_id = str(uuid.uuid4())
        bucket = response_bucket(ctx.region)
        key = f"{ctx.stack_name}/{ctx.logical_id}/{request_id}"
        await self._ensure_bucket(ctx, bucket)
        request: dict[str, Any] = {
            "RequestType": request_type, "ServiceToken": token, "ResponseURL": self._response_url(ctx, bucket, key),
            "StackId": ctx.stack_id, "RequestId": request_id, "LogicalResourceId": ctx.logical_id,
            "ResourceType": self.type, "ResourceProperties": as_strings(props)}
        if physical_id is not None:
            request["PhysicalResourceId"] = physical_id
        if old is not None:
            request["OldResourceProperties"] = as_strings(old)
        await self._send(ctx, token, request)
        response = await self._wait(ctx, bucket, key, timeout, request_id)
        return self._outcome(request, response, physical_id)

    @staticmethod
    def _timeout(ctx: ResourceContext, value: Any) -> float:
        if value is None:
            return float(ctx.platform.settings.custom_resource_timeout_seconds)
        try:
            seconds = int(str(value))
        except ValueError:
            seconds = 0
        if not 1 <= seconds <= MAX_SERVICE_TIMEOUT:
            raise ResourceFailure(f"Properties validation failed for resource {ctx.logical_id} with message: "
                                  f"#/ServiceTimeout: must be an integer from 1 to {MAX_SERVICE_TIMEOUT}")
        return float(seconds)

    @staticmethod
    async def _ensure_bucket(ctx: ResourceContext, bucket: str) -> None:
        try:
            await ctx.call("s3", "CreateBucket", {"Bucket": bucket, "CreateBucketConfiguration": None
                                                  if ctx.region == "us-east-1" else {"LocationConstraint": ctx.region}})
        except ResourceFailure as error:
            if "BucketAlreadyOwnedByYou" not in str(error) and "BucketAlreadyExists" not in str(error):
                raise

    @staticmethod
    def _response_url(ctx: ResourceContext, bucket: str, key: str) -> str:
        """A presigned PUT on Cumulo's S3 that a plain HTTP client can use (valid as long as the longest wait)."""
        settings = ctx.platform.settings
        base = settings.endpoint_url
        access_key = next(iter(settings.access_keys), "test")
        return presign_url(base, f"/{bucket}/{quote(key, safe='/')}", urlsplit(base).netloc, access_key,
                           settings.access_keys.get(access_key, ""), ctx.region, "s3",
                           MAX_SERVICE_TIMEOUT + 600, method="PUT")

    @staticmethod
    async def _send(ctx: ResourceContext, token: str, request: dict[str, Any]) -> None:
        service = service_of(token)
        payload = json.dumps(request)
        try:
            if service == "lambda":
                await ctx.platform.functions.invoke_function(token, payload.encode(), account=ctx.account,
                                                             region=ctx.region, invocation_type="Event")
            elif service == "sns":
                ctx.platform.topics.publish_message(token, payload,
                                                    subject="AWS CloudFormation custom resource request")
            else:
                raise ResourceFailure(f"Invalid service token: {token} (a Lambda function or SNS topic ARN)")
        except AwsError as error:
            raise ResourceFailure(f"Failed to send the custom resource request to {token}: {error.message}") \
                from error

    @staticmethod
    async def _wait(ctx: ResourceContext, bucket: str, key: str, timeout: float, request_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        interval = POLL_FIRST
        while True:
            try:
                body = ctx.platform.objects.read_object(bucket, key)
                break
            except AwsError:
                if time.monotonic() >= deadline:
                    raise ResourceFailure(
                        "CloudFormation did not receive a response from your Custom Resource. Please check your logs "
                        f"for requestId [{request_id}]. If you are using the Python cfn-response module, you may "
                        "need to update your Lambda function code so that CloudFormation can attach the updated "
                        "version.") from None
                await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
                interval = min(interval * 2, POLL_MAX)
        try:
            await ctx.call("s3", "DeleteObject", {"Bucket": bucket, "Key": key})
        except ResourceFailure:
            pass  # the response was read; a leftover object is harmless
        if len(body) > MAX_RESPONSE:
            raise ResourceFailure("Response object is too long.")
        try:
            response = json.loads(body)
        except ValueError:
            response = None
        if not isinstance(response, dict):
            raise ResourceFailure(f"Invalid response from custom resource: not a JSON object (RequestId: {request_id})")
        return response

    @staticmethod
    def _outcome(request: dict[str, Any], response: dict[str, Any], physical_id: str | None) -> Deployed:
        request_id = request["RequestId"]
        for member in ("StackId", "RequestId", "LogicalResourceId"):
            if response.get(member) != request[member]:
                raise ResourceFailure(f"Invalid response from custom resource: {member} does not match the request "
                                      f"(RequestId: {request_id})")
        status = response.get("Status")
        if status == "FAILED":
            named = response.get("PhysicalResourceId")
            raise ResourceFailure(f"Received response status [FAILED] from custom resource. Message returned: "
                                  f"{response.get('Reason') or 'no reason given'} (RequestId: {request_id})",
                                  physical_id=named if request["RequestType"] == "Create" and isinstance(named, str)
                                  else "")
        if status != "SUCCESS":
            raise ResourceFailure(f"Invalid response status [{status}] from custom resource (RequestId: {request_id})")
        new_id = response.get("PhysicalResourceId") or physical_id
        if not isinstance(new_id, str) or not new_id:
            raise ResourceFailure(f"Invalid PhysicalResourceId (RequestId: {request_id})")
        data = response.get("Data") or {}
        if not isinstance(data, dict):
            raise ResourceFailure(f"Invalid response from custom resource: Data must be an object (RequestId: "
                                  f"{request_id})")
        return Deployed(new_id, dict(data), no_echo=str(response.get("NoEcho")).lower() == "true")


HANDLERS = [CustomResourceHandler()]
