"""Nested stacks (``AWS::CloudFormation::Stack``; SAM's ``AWS::Serverless::Application`` becomes one).

The nested stack is an ordinary stack made through CloudFormation's own API (CreateStack,
UpdateStack, DeleteStack), named as AWS names them (``<parent>-<LogicalId>-<SUFFIX>``), with the
capabilities the parent was granted. The parent's operation waits for the nested one to finish;
its outputs are ``Fn::GetAtt Nested.Outputs.Name``, its ARN is ``Ref``. Deleting the parent
deletes it. ``TemplateURL`` is an ``s3://`` URI or an HTTP(S) S3 URL of an object in Cumulo's S3
(``cumulo deploy`` uploads a local path there, as ``sam package`` does).
"""

from __future__ import annotations

import asyncio
from typing import Any

from cumulo.services.cloudformation.resources.base import Deployed, ResourceContext, ResourceFailure, ResourceHandler
from cumulo.services.cloudformation.resources.custom import as_strings

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
POLL_FIRST, POLL_MAX = 0.02, 0.5
NO_UPDATES = "No updates are to be performed."


def _parameters(props: dict[str, Any]) -> list[dict[str, str]]:
    values = props.get("Parameters") or {}
    if not isinstance(values, dict):
        raise ResourceFailure("Properties validation failed: Parameters must be a map of parameter names to values")
    return [{"ParameterKey": name, "ParameterValue": ",".join(as_strings(value)) if isinstance(value, list)
             else as_strings(value)} for name, value in values.items()]


def _tags(props: dict[str, Any]) -> list[dict[str, str]] | None:
    tags = props.get("Tags")
    if isinstance(tags, dict):
        return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
    return [{"Key": t["Key"], "Value": str(t["Value"])} for t in tags] if tags else None


class NestedStackHandler(ResourceHandler):
    type = "AWS::CloudFormation::Stack"
    properties = frozenset({"TemplateURL", "Parameters", "Tags"})
    # The nested operation is bounded by its own resources' timeouts; CloudFormation's overall stack
    # timeout is not enforced here (nor for top-level stacks).
    ignored = frozenset({"TimeoutInMinutes"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = ctx.physical_name(128)
        created = await ctx.call("cloudformation", "CreateStack", {
            "StackName": name, "TemplateURL": props.get("TemplateURL"), "Parameters": _parameters(props),
            "Capabilities": CAPABILITIES, "Tags": _tags(props)})
        try:
            return await self._finish(ctx, created["StackId"], "CREATE_COMPLETE", "created")
        except ResourceFailure:
            # Never recorded as the parent's resource, so the parent's rollback cannot reach it: delete it here.
            await self.delete(ctx, created["StackId"], props)
            raise
        except asyncio.CancelledError:
            if ctx.platform.state.get("cloudformation") == "running":  # cancelled by the user, not a server stop:
                await ctx.call("cloudformation", "DeleteStack", {"StackName": created["StackId"]})  # so is this one
            raise

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        try:
            await ctx.call("cloudformation", "UpdateStack", {
                "StackName": physical_id, "TemplateURL": new.get("TemplateURL"), "Parameters": _parameters(new),
                "Capabilities": CAPABILITIES, "Tags": _tags(new)})
        except ResourceFailure as error:
            if NO_UPDATES not in str(error):
                raise
        return await self._finish(ctx, physical_id, "UPDATE_COMPLETE", "updated")

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("cloudformation", "DeleteStack", {"StackName": physical_id})
        await self._finish(ctx, physical_id, "DELETE_COMPLETE", "deleted")

    def attribute(self, deployed: Deployed, name: str) -> Any:
        if name in deployed.attributes:
            return deployed.attributes[name]
        if name.startswith("Outputs."):
            raise ResourceFailure(f"Template error: Output '{name.removeprefix('Outputs.')}' not found in the nested "
                                  f"stack {deployed.physical_id}")
        raise ResourceFailure(f"Template error: resource {self.type} does not support attribute {name}")

    @staticmethod
    async def _finish(ctx: ResourceContext, stack_id: str, wanted: str, verb: str) -> Deployed:
        """Wait for the nested stack's operation to end; its outputs as attributes."""
        interval = POLL_FIRST
        while True:
            stack = (await ctx.call("cloudformation", "DescribeStacks", {"StackName": stack_id}))["Stacks"][0]
            status = stack["StackStatus"]
            if not status.endswith("_IN_PROGRESS"):
                break
            await asyncio.sleep(interval)
            interval = min(interval * 2, POLL_MAX)
        if status != wanted:
            reason = stack.get("StackStatusReason") or await _failure_reason(ctx, stack_id) or status
            raise ResourceFailure(f"Embedded stack {stack_id} was not successfully {verb}: {reason}")
        attributes = {f"Outputs.{o['OutputKey']}": o["OutputValue"] for o in stack.get("Outputs") or []}
        return Deployed(stack_id, {**attributes, "StackId": stack_id})


async def _failure_reason(ctx: ResourceContext, stack_id: str) -> str:
    """Why the nested stack's operation failed: the reason its rollback started with (the status reason
    is gone once the rollback completes)."""
    events = (await ctx.call("cloudformation", "DescribeStackEvents", {"StackName": stack_id}))["StackEvents"]
    for event in events:  # newest first
        if event["PhysicalResourceId"] == stack_id and event.get("ResourceStatusReason") and \
                event["ResourceStatus"] in ("ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "CREATE_FAILED",
                                            "DELETE_FAILED", "UPDATE_FAILED"):
            return event["ResourceStatusReason"]
    return ""


HANDLERS = [NestedStackHandler()]
