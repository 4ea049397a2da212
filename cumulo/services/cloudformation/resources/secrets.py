"""AWS::SecretsManager::* and AWS::SSM::Parameter resources."""

from __future__ import annotations

import json
from typing import Any

from cumulo.services.cloudformation.resources.base import (
    Deployed,
    ResourceContext,
    ResourceFailure,
    ResourceHandler,
    as_bool,
    as_int,
    tags_map,
)
from cumulo.services.tagging import tag_list

PASSWORD_OPTIONS = ("ExcludeCharacters", "ExcludeLowercase", "ExcludeNumbers", "ExcludePunctuation",
                    "ExcludeUppercase", "IncludeSpace", "PasswordLength", "RequireEachIncludedType")


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


async def _generated(ctx: ResourceContext, spec: dict[str, Any]) -> str:
    """GenerateSecretString: a random password, alone or under GenerateStringKey in SecretStringTemplate."""
    options = {key: spec[key] for key in PASSWORD_OPTIONS if spec.get(key) is not None}
    for key in options:
        options[key] = as_int(options[key]) if key == "PasswordLength" else \
            options[key] if key == "ExcludeCharacters" else as_bool(options[key])
    password = (await ctx.call("secretsmanager", "GetRandomPassword", options))["RandomPassword"]
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if (template is None) != (key is None):
        raise ResourceFailure("GenerateSecretString needs both SecretStringTemplate and GenerateStringKey, or "
                              "neither")
    if template is None:
        return password
    try:
        document = json.loads(template)
    except ValueError as exc:
        raise ResourceFailure("SecretStringTemplate must be a JSON object") from exc
    if not isinstance(document, dict):
        raise ResourceFailure("SecretStringTemplate must be a JSON object")
    document[key] = password
    return json.dumps(document)


class SecretHandler(ResourceHandler):
    type = "AWS::SecretsManager::Secret"
    replace_on = frozenset({"Name"})
    properties = frozenset({"Name", "Description", "SecretString", "GenerateSecretString", "KmsKeyId", "Tags"})
    ignored = frozenset({"ReplicaRegions"})  # one local region: nothing to replicate to

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        if props.get("SecretString") is not None and props.get("GenerateSecretString") is not None:
            raise ResourceFailure("You can't specify both SecretString and GenerateSecretString")
        value = props.get("SecretString")
        if props.get("GenerateSecretString") is not None:
            value = await _generated(ctx, props["GenerateSecretString"])
        created = await ctx.call("secretsmanager", "CreateSecret", {
            "Name": props.get("Name") or ctx.physical_name(), "Description": props.get("Description"),
            "KmsKeyId": props.get("KmsKeyId"), "SecretString": value,
            "Tags": tag_list(tags_map(props.get("Tags"))) or None})
        return Deployed(created["ARN"], {"Id": created["ARN"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        value = new.get("SecretString") if new.get("SecretString") != old.get("SecretString") else None
        if new.get("GenerateSecretString") != old.get("GenerateSecretString") and new.get("GenerateSecretString"):
            value = await _generated(ctx, new["GenerateSecretString"])
        await ctx.call("secretsmanager", "UpdateSecret", {"SecretId": physical_id, "SecretString": value,
                                                          "Description": new.get("Description"),
                                                          "KmsKeyId": new.get("KmsKeyId")})
        old_tags, new_tags = tags_map(old.get("Tags")), tags_map(new.get("Tags"))
        if set(old_tags) - set(new_tags):
            await ctx.call("secretsmanager", "UntagResource", {"SecretId": physical_id,
                                                               "TagKeys": sorted(set(old_tags) - set(new_tags))})
        if new_tags and new_tags != old_tags:
            await ctx.call("secretsmanager", "TagResource", {"SecretId": physical_id, "Tags": tag_list(new_tags)})
        return Deployed(physical_id, {"Id": physical_id})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        # CloudFormation deletes a stack's secrets without a recovery window.
        await ctx.call("secretsmanager", "DeleteSecret", {"SecretId": physical_id, "ForceDeleteWithoutRecovery": True})


class SecretResourcePolicyHandler(ResourceHandler):
    type = "AWS::SecretsManager::ResourcePolicy"
    replace_on = frozenset({"SecretId"})
    properties = frozenset({"SecretId", "ResourcePolicy", "BlockPublicPolicy"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        await ctx.call("secretsmanager", "PutResourcePolicy", {
            "SecretId": props["SecretId"], "ResourcePolicy": _json_text(props["ResourcePolicy"]),
            "BlockPublicPolicy": as_bool(props.get("BlockPublicPolicy"))})
        return Deployed(props["SecretId"], {"Id": props["SecretId"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("secretsmanager", "DeleteResourcePolicy", {"SecretId": physical_id})


class RotationScheduleHandler(ResourceHandler):
    type = "AWS::SecretsManager::RotationSchedule"
    replace_on = frozenset({"SecretId"})
    properties = frozenset({"SecretId", "RotationLambdaARN", "RotationRules", "RotateImmediatelyOnUpdate"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        rules = dict(props.get("RotationRules") or {})
        if "AutomaticallyAfterDays" in rules:
            rules["AutomaticallyAfterDays"] = as_int(rules["AutomaticallyAfterDays"])
        immediately = as_bool(props.get("RotateImmediatelyOnUpdate"))
        await ctx.call("secretsmanager", "RotateSecret", {
            "SecretId": props["SecretId"], "RotationLambdaARN": props.get("RotationLambdaARN"),
            "RotationRules": rules or None, "RotateImmediately": True if immediately is None else immediately})
        return Deployed(props["SecretId"], {"Id": props["SecretId"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        return await self.create(ctx, new)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("secretsmanager", "CancelRotateSecret", {"SecretId": physical_id})


class SecretTargetAttachmentHandler(ResourceHandler):
    """Adds the target's identity to the secret's JSON as AWS does; Cumulo serves no databases, so
    only ``TargetId`` and ``TargetType`` are recorded (as ``dbInstanceIdentifier`` or ``dbClusterIdentifier``)."""

    type = "AWS::SecretsManager::SecretTargetAttachment"
    replace_on = frozenset({"SecretId"})
    properties = frozenset({"SecretId", "TargetId", "TargetType"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        current = await ctx.call("secretsmanager", "GetSecretValue", {"SecretId": props["SecretId"]})
        try:
            document = json.loads(current.get("SecretString") or "{}")
        except ValueError as exc:
            raise ResourceFailure("The secret's value must be a JSON object to attach a target") from exc
        field = "dbClusterIdentifier" if "Cluster" in str(props.get("TargetType")) else "dbInstanceIdentifier"
        document[field] = props["TargetId"]
        await ctx.call("secretsmanager", "PutSecretValue", {"SecretId": props["SecretId"],
                                                            "SecretString": json.dumps(document)})
        return Deployed(props["SecretId"], {"Id": props["SecretId"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        return await self.create(ctx, new)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        """Nothing to undo: the secret keeps its value (and goes with its own resource)."""


class ParameterHandler(ResourceHandler):
    type = "AWS::SSM::Parameter"
    replace_on = frozenset({"Name"})
    properties = frozenset({"Name", "Type", "Value", "Description", "AllowedPattern", "Tier", "Policies",
                            "DataType", "Tags"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("Name") or ctx.physical_name(2048)
        await ctx.call("ssm", "PutParameter", {**self._members(props), "Name": name,
                                               "Tags": tag_list(tags_map(props.get("Tags"))) or None})
        return Deployed(name, {"Type": props["Type"], "Value": props["Value"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        await ctx.call("ssm", "PutParameter", {**self._members(new), "Name": physical_id, "Overwrite": True})
        old_tags, new_tags = tags_map(old.get("Tags")), tags_map(new.get("Tags"))
        if set(old_tags) - set(new_tags):
            await ctx.call("ssm", "RemoveTagsFromResource", {"ResourceType": "Parameter", "ResourceId": physical_id,
                                                              "TagKeys": sorted(set(old_tags) - set(new_tags))})
        if new_tags and new_tags != old_tags:
            await ctx.call("ssm", "AddTagsToResource", {"ResourceType": "Parameter", "ResourceId": physical_id,
                                                         "Tags": tag_list(new_tags)})
        return Deployed(physical_id, {"Type": new["Type"], "Value": new["Value"]})

    @staticmethod
    def _members(props: dict[str, Any]) -> dict[str, Any]:
        policies = props.get("Policies")
        return {"Type": props["Type"], "Value": props["Value"], "Description": props.get("Description"),
                "AllowedPattern": props.get("AllowedPattern"), "Tier": props.get("Tier"),
                "DataType": props.get("DataType"),
                "Policies": _json_text(policies) if policies is not None else None}

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("ssm", "DeleteParameter", {"Name": physical_id})


HANDLERS = [SecretHandler(), SecretResourcePolicyHandler(), RotationScheduleHandler(), SecretTargetAttachmentHandler(),
            ParameterHandler()]
