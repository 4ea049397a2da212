"""AWS::IAM::* and AWS::Logs::LogGroup resources."""

from __future__ import annotations

import json
from typing import Any

from cumulo.services.cloudformation.resources.base import Deployed, ResourceContext, ResourceHandler, as_int, tags_map
from cumulo.services.tagging import tag_list


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class RoleHandler(ResourceHandler):
    type = "AWS::IAM::Role"
    replace_on = frozenset({"RoleName", "Path"})
    properties = frozenset({"RoleName", "Path", "AssumeRolePolicyDocument", "Description", "MaxSessionDuration",
                            "Tags", "Policies", "ManagedPolicyArns"})
    # Boundaries only ever narrow what the role's policies allow, and --enforce-iam does not evaluate them.
    ignored = frozenset({"PermissionsBoundary"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("RoleName") or ctx.physical_name(64)
        role = (await ctx.call("iam", "CreateRole", {
            "RoleName": name, "Path": props.get("Path"), "AssumeRolePolicyDocument": _json(
                props["AssumeRolePolicyDocument"]), "Description": props.get("Description"),
            "MaxSessionDuration": as_int(props.get("MaxSessionDuration")),
            "Tags": tag_list(tags_map(props.get("Tags"))) or None}))["Role"]
        await self._policies(ctx, name, {}, props)
        return Deployed(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    async def _policies(self, ctx: ResourceContext, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        old_inline = {p["PolicyName"]: p for p in old.get("Policies") or []}
        new_inline = {p["PolicyName"]: p for p in new.get("Policies") or []}
        for policy_name in set(old_inline) - set(new_inline):
            await ctx.call("iam", "DeleteRolePolicy", {"RoleName": name, "PolicyName": policy_name})
        for policy_name, policy in new_inline.items():
            if old_inline.get(policy_name) != policy:
                await ctx.call("iam", "PutRolePolicy", {"RoleName": name, "PolicyName": policy_name,
                                                         "PolicyDocument": _json(policy["PolicyDocument"])})
        old_managed, new_managed = set(old.get("ManagedPolicyArns") or []), set(new.get("ManagedPolicyArns") or [])
        for arn in old_managed - new_managed:
            await ctx.call("iam", "DetachRolePolicy", {"RoleName": name, "PolicyArn": arn})
        for arn in sorted(new_managed - old_managed):
            await ctx.call("iam", "AttachRolePolicy", {"RoleName": name, "PolicyArn": arn})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        if old.get("AssumeRolePolicyDocument") != new.get("AssumeRolePolicyDocument"):
            await ctx.call("iam", "UpdateAssumeRolePolicy", {"RoleName": physical_id,
                                                              "PolicyDocument": _json(new["AssumeRolePolicyDocument"])})
        await self._policies(ctx, physical_id, old, new)
        role = (await ctx.call("iam", "GetRole", {"RoleName": physical_id}))["Role"]
        return Deployed(physical_id, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await self._policies(ctx, physical_id, props, {})
        await ctx.call("iam", "DeleteRole", {"RoleName": physical_id})


class PolicyHandler(ResourceHandler):
    """An inline policy attached to roles (AWS::IAM::Policy)."""

    type = "AWS::IAM::Policy"
    properties = frozenset({"PolicyName", "PolicyDocument", "Roles"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        await self._attach(ctx, props)
        return Deployed(ctx.physical_name())

    async def _attach(self, ctx: ResourceContext, props: dict[str, Any]) -> None:
        for role in props.get("Roles") or []:
            await ctx.call("iam", "PutRolePolicy", {"RoleName": role, "PolicyName": props["PolicyName"],
                                                     "PolicyDocument": _json(props["PolicyDocument"])})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        await self.delete(ctx, physical_id, old)
        await self._attach(ctx, new)
        return Deployed(physical_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        for role in props.get("Roles") or []:
            await ctx.call("iam", "DeleteRolePolicy", {"RoleName": role, "PolicyName": props["PolicyName"]})


class ManagedPolicyHandler(ResourceHandler):
    type = "AWS::IAM::ManagedPolicy"
    replace_on = frozenset({"ManagedPolicyName", "Path", "PolicyDocument", "Description"})
    properties = frozenset({"ManagedPolicyName", "Path", "PolicyDocument", "Description", "Roles"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        policy = (await ctx.call("iam", "CreatePolicy", {
            "PolicyName": props.get("ManagedPolicyName") or ctx.physical_name(128), "Path": props.get("Path"),
            "PolicyDocument": _json(props["PolicyDocument"]), "Description": props.get("Description")}))["Policy"]
        for role in props.get("Roles") or []:
            await ctx.call("iam", "AttachRolePolicy", {"RoleName": role, "PolicyArn": policy["Arn"]})
        return Deployed(policy["Arn"], {"PolicyArn": policy["Arn"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        for role in props.get("Roles") or []:
            await ctx.call("iam", "DetachRolePolicy", {"RoleName": role, "PolicyArn": physical_id})
        await ctx.call("iam", "DeletePolicy", {"PolicyArn": physical_id})


class LogGroupHandler(ResourceHandler):
    type = "AWS::Logs::LogGroup"
    replace_on = frozenset({"LogGroupName", "LogGroupClass"})
    properties = frozenset({"LogGroupName", "LogGroupClass", "RetentionInDays", "Tags"})
    ignored = frozenset({"KmsKeyId"})  # encryption at rest: log data stays on the local disk

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("LogGroupName") or ctx.physical_name(512)
        await ctx.call("logs", "CreateLogGroup", {"logGroupName": name, "tags": tags_map(props.get("Tags")) or None,
                                                  "logGroupClass": props.get("LogGroupClass")})
        return await self.update(ctx, name, {}, props)

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        retention = as_int(new.get("RetentionInDays"))
        if retention:
            await ctx.call("logs", "PutRetentionPolicy", {"logGroupName": physical_id, "retentionInDays": retention})
        elif old.get("RetentionInDays"):
            await ctx.call("logs", "DeleteRetentionPolicy", {"logGroupName": physical_id})
        return Deployed(physical_id, {"Arn": f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{physical_id}:*"})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("logs", "DeleteLogGroup", {"logGroupName": physical_id})


HANDLERS = [RoleHandler(), PolicyHandler(), ManagedPolicyHandler(), LogGroupHandler()]
