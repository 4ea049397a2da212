"""AWS::Lambda::* resources."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from typing import Any

from cumulo.services.cloudformation.resources.base import (
    Deployed,
    ResourceContext,
    ResourceFailure,
    ResourceHandler,
    as_int,
    tags_map,
)

ACTIVE_WAIT_S = 60.0
PROVISIONED_WAIT_S = 300.0
INLINE_FILES = {"python": "index.py", "nodejs": "index.js"}


def _code(props: dict[str, Any], runtime: str | None) -> dict[str, Any]:
    """The API's Code argument; inline ``ZipFile`` source is zipped as index.py/index.js, as AWS does."""
    code = dict(props.get("Code") or {})
    inline = code.pop("ZipFile", None)
    if inline is not None:
        name = next((f for prefix, f in INLINE_FILES.items() if (runtime or "").startswith(prefix)), "index.py")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, inline)
        code["ZipFile"] = buffer.getvalue()
    code.pop("S3ObjectVersion", None)
    return code


def _configuration(props: dict[str, Any]) -> dict[str, Any]:
    """UpdateFunctionConfiguration/CreateFunction members from the resource properties."""
    config = {
        "Role": props.get("Role"), "Handler": props.get("Handler"), "Runtime": props.get("Runtime"),
        "Description": props.get("Description"), "Timeout": as_int(props.get("Timeout")),
        "MemorySize": as_int(props.get("MemorySize")), "Environment": props.get("Environment"),
        "Layers": props.get("Layers"), "TracingConfig": props.get("TracingConfig"),
        "DeadLetterConfig": props.get("DeadLetterConfig"), "KMSKeyArn": props.get("KmsKeyArn"),
        "EphemeralStorage": {"Size": as_int(props["EphemeralStorage"]["Size"])} if props.get(
            "EphemeralStorage") else None,
        "LoggingConfig": props.get("LoggingConfig"), "VpcConfig": props.get("VpcConfig"),
        "FileSystemConfigs": props.get("FileSystemConfigs"), "SnapStart": props.get("SnapStart"),
        "DurableConfig": {k: as_int(v) for k, v in props["DurableConfig"].items()} if props.get(
            "DurableConfig") else None,
    }
    return {k: v for k, v in config.items() if v is not None}


async def wait_until_ready(ctx: ResourceContext, name: str) -> dict[str, Any]:
    """Wait for Active/Successful, as CloudFormation does before the resource counts as done."""
    deadline = asyncio.get_running_loop().time() + ACTIVE_WAIT_S
    while True:
        config = await ctx.call("lambda", "GetFunctionConfiguration", {"FunctionName": name})
        if config.get("State") == "Failed" or config.get("LastUpdateStatus") == "Failed":
            raise ResourceFailure(config.get("StateReason") or config.get("LastUpdateStatusReason") or "failed")
        if config.get("State") == "Active" and config.get("LastUpdateStatus", "Successful") == "Successful":
            return config
        if asyncio.get_running_loop().time() > deadline:
            raise ResourceFailure(f"Function {name} did not become Active within {ACTIVE_WAIT_S:.0f} seconds")
        await asyncio.sleep(0.01)


class FunctionHandler(ResourceHandler):
    type = "AWS::Lambda::Function"
    replace_on = frozenset({"FunctionName", "PackageType"})
    properties = frozenset({"FunctionName", "Code", "Tags", "PackageType", "Architectures", "Role", "Handler",
                            "Runtime", "Description", "Timeout", "MemorySize", "Environment", "Layers",
                            "TracingConfig", "DeadLetterConfig", "KmsKeyArn", "EphemeralStorage", "LoggingConfig",
                            "VpcConfig", "FileSystemConfigs", "SnapStart", "ReservedConcurrentExecutions",
                            "DurableConfig"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("FunctionName") or ctx.physical_name(64)
        created = await ctx.call("lambda", "CreateFunction", {
            "FunctionName": name, "Code": _code(props, props.get("Runtime")), "Tags": tags_map(props.get("Tags")),
            "PackageType": props.get("PackageType"), "Architectures": props.get("Architectures"),
            **_configuration(props)})
        await self._concurrency(ctx, name, props)
        await wait_until_ready(ctx, name)
        return Deployed(name, {"Arn": created["FunctionArn"]})

    async def _concurrency(self, ctx: ResourceContext, name: str, props: dict[str, Any]) -> None:
        reserved = as_int(props.get("ReservedConcurrentExecutions"))
        if reserved is not None:
            await ctx.call("lambda", "PutFunctionConcurrency",
                           {"FunctionName": name, "ReservedConcurrentExecutions": reserved})
        else:
            await ctx.call("lambda", "DeleteFunctionConcurrency", {"FunctionName": name})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        config = _configuration(new)
        for member in ("Environment", "Layers", "DeadLetterConfig", "VpcConfig"):
            if member in _configuration(old) and member not in config:
                config[member] = {"Variables": {}} if member == "Environment" else (
                    [] if member == "Layers" else {})
        await ctx.call("lambda", "UpdateFunctionConfiguration", {"FunctionName": physical_id, **config})
        await wait_until_ready(ctx, physical_id)
        if old.get("Code") != new.get("Code") or old.get("Architectures") != new.get("Architectures"):
            await ctx.call("lambda", "UpdateFunctionCode", {"FunctionName": physical_id, **_code(
                new, new.get("Runtime")), "Architectures": new.get("Architectures")})
            await wait_until_ready(ctx, physical_id)
        if old.get("ReservedConcurrentExecutions") != new.get("ReservedConcurrentExecutions"):
            await self._concurrency(ctx, physical_id, new)
        old_tags, new_tags = tags_map(old.get("Tags")), tags_map(new.get("Tags"))
        arn = (await ctx.call("lambda", "GetFunctionConfiguration", {"FunctionName": physical_id}))["FunctionArn"]
        removed = sorted(set(old_tags) - set(new_tags))
        if removed:
            await ctx.call("lambda", "UntagResource", {"Resource": arn, "TagKeys": removed})
        if new_tags and new_tags != old_tags:
            await ctx.call("lambda", "TagResource", {"Resource": arn, "Tags": new_tags})
        return Deployed(physical_id, {"Arn": arn})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("lambda", "DeleteFunction", {"FunctionName": physical_id})


async def provision(ctx: ResourceContext, function: str, qualifier: str, old: dict[str, Any] | None,
                    new: dict[str, Any] | None) -> None:
    """Apply a ProvisionedConcurrencyConfig and wait for READY, as CloudFormation does."""
    wanted = as_int((new or {}).get("ProvisionedConcurrentExecutions"))
    if not wanted:
        if (old or {}).get("ProvisionedConcurrentExecutions"):
            await ctx.call("lambda", "DeleteProvisionedConcurrencyConfig",
                           {"FunctionName": function, "Qualifier": qualifier})
        return
    await ctx.call("lambda", "PutProvisionedConcurrencyConfig", {
        "FunctionName": function, "Qualifier": qualifier, "ProvisionedConcurrentExecutions": wanted})
    deadline = asyncio.get_running_loop().time() + PROVISIONED_WAIT_S
    while True:
        config = await ctx.call("lambda", "GetProvisionedConcurrencyConfig",
                                {"FunctionName": function, "Qualifier": qualifier})
        if config.get("Status") == "READY":
            return
        if config.get("Status") == "FAILED":
            raise ResourceFailure(f"Provisioned concurrency for {function}:{qualifier} failed: "
                                  f"{config.get('StatusReason') or 'FAILED'}")
        if asyncio.get_running_loop().time() > deadline:
            raise ResourceFailure(f"Provisioned concurrency for {function}:{qualifier} was not READY within "
                                  f"{PROVISIONED_WAIT_S:.0f} seconds")
        await asyncio.sleep(0.05)


class VersionHandler(ResourceHandler):
    type = "AWS::Lambda::Version"
    replace_on = frozenset({"FunctionName", "CodeSha256", "Description", "ProvisionedConcurrencyConfig",
                            "RuntimePolicy"})
    properties = frozenset({"FunctionName", "CodeSha256", "Description", "ProvisionedConcurrencyConfig"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        await wait_until_ready(ctx, props["FunctionName"])
        published = await ctx.call("lambda", "PublishVersion", {
            "FunctionName": props["FunctionName"], "Description": props.get("Description"),
            "CodeSha256": props.get("CodeSha256")})
        await provision(ctx, props["FunctionName"], published["Version"], None,
                        props.get("ProvisionedConcurrencyConfig"))
        return Deployed(published["FunctionArn"], {"Version": published["Version"],
                                                   "FunctionArn": published["FunctionArn"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        function, _, version = physical_id.rpartition(":")
        await ctx.call("lambda", "DeleteFunction", {"FunctionName": function, "Qualifier": version})


def _routing(props: dict[str, Any]) -> dict[str, Any] | None:
    routing = props.get("RoutingConfig")
    if not routing:
        return None
    weights = routing.get("AdditionalVersionWeights") or []
    return {"AdditionalVersionWeights": {w["FunctionVersion"]: float(w["FunctionWeight"]) for w in weights}}


class AliasHandler(ResourceHandler):
    type = "AWS::Lambda::Alias"
    replace_on = frozenset({"FunctionName", "Name"})
    properties = frozenset({"FunctionName", "Name", "FunctionVersion", "Description", "RoutingConfig",
                            "ProvisionedConcurrencyConfig"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        alias = await ctx.call("lambda", "CreateAlias", {
            "FunctionName": props["FunctionName"], "Name": props["Name"],
            "FunctionVersion": str(props["FunctionVersion"]), "Description": props.get("Description"),
            "RoutingConfig": _routing(props)})
        await provision(ctx, props["FunctionName"], props["Name"], None, props.get("ProvisionedConcurrencyConfig"))
        return Deployed(alias["AliasArn"], {"AliasArn": alias["AliasArn"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        alias = await ctx.call("lambda", "UpdateAlias", {
            "FunctionName": new["FunctionName"], "Name": new["Name"], "FunctionVersion": str(new["FunctionVersion"]),
            "Description": new.get("Description") or "",
            "RoutingConfig": _routing(new) or {"AdditionalVersionWeights": {}}})
        if old.get("ProvisionedConcurrencyConfig") != new.get("ProvisionedConcurrencyConfig"):
            await provision(ctx, new["FunctionName"], new["Name"], old.get("ProvisionedConcurrencyConfig"),
                            new.get("ProvisionedConcurrencyConfig"))
        return Deployed(alias["AliasArn"], {"AliasArn": alias["AliasArn"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("lambda", "DeleteAlias", {"FunctionName": props["FunctionName"], "Name": props["Name"]})


class PermissionHandler(ResourceHandler):
    type = "AWS::Lambda::Permission"
    replace_on = frozenset({"Action", "FunctionName", "Principal", "SourceArn", "SourceAccount", "EventSourceToken",
                            "PrincipalOrgID", "FunctionUrlAuthType", "InvokedViaFunctionUrl"})
    properties = replace_on

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        statement_id = f"{ctx.stack_name}-{ctx.logical_id}-{uuid.uuid4().hex[:12]}"[:100]
        await ctx.call("lambda", "AddPermission", {
            "FunctionName": props["FunctionName"], "StatementId": statement_id, "Action": props["Action"],
            "Principal": props["Principal"], "SourceArn": props.get("SourceArn"),
            "SourceAccount": props.get("SourceAccount"), "EventSourceToken": props.get("EventSourceToken"),
            "PrincipalOrgID": props.get("PrincipalOrgID"), "FunctionUrlAuthType": props.get("FunctionUrlAuthType"),
            "InvokedViaFunctionUrl": props.get("InvokedViaFunctionUrl")})
        return Deployed(statement_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("lambda", "RemovePermission", {"FunctionName": props["FunctionName"],
                                                      "StatementId": physical_id})


class LayerVersionHandler(ResourceHandler):
    type = "AWS::Lambda::LayerVersion"
    replace_on = frozenset({"Content", "LayerName", "Description", "CompatibleRuntimes", "LicenseInfo",
                            "CompatibleArchitectures"})
    properties = replace_on

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        content = {k: v for k, v in (props.get("Content") or {}).items() if k != "S3ObjectVersion"}
        layer = await ctx.call("lambda", "PublishLayerVersion", {
            "LayerName": props.get("LayerName") or ctx.physical_name(140), "Content": content,
            "Description": props.get("Description"), "CompatibleRuntimes": props.get("CompatibleRuntimes"),
            "LicenseInfo": props.get("LicenseInfo"), "CompatibleArchitectures": props.get("CompatibleArchitectures")})
        return Deployed(layer["LayerVersionArn"], {"LayerVersionArn": layer["LayerVersionArn"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        layer, _, version = physical_id.rpartition(":")
        await ctx.call("lambda", "DeleteLayerVersion", {"LayerName": layer, "VersionNumber": int(version)})


class LayerVersionPermissionHandler(ResourceHandler):
    """Recorded only: layers are readable by every account on a Cumulo server."""

    type = "AWS::Lambda::LayerVersionPermission"
    properties = frozenset({"LayerVersionArn"})
    ignored = frozenset({"Action", "Principal", "OrganizationId"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        return Deployed(f"{props['LayerVersionArn']}#{uuid.uuid4().hex[:8]}")

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        return None


class UrlHandler(ResourceHandler):
    """``AWS::Lambda::Url`` (SAM's ``FunctionUrlConfig``); Ref is the function's ARN."""

    type = "AWS::Lambda::Url"
    replace_on = frozenset({"TargetFunctionArn", "Qualifier"})
    properties = replace_on | {"AuthType", "Cors", "InvokeMode"}

    @staticmethod
    def _params(props: dict[str, Any]) -> dict[str, Any]:
        return {"FunctionName": props["TargetFunctionArn"], "Qualifier": props.get("Qualifier"),
                "AuthType": props.get("AuthType"), "Cors": props.get("Cors"), "InvokeMode": props.get("InvokeMode")}

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        url = await ctx.call("lambda", "CreateFunctionUrlConfig", self._params(props))
        return Deployed(url["FunctionArn"], {"FunctionArn": url["FunctionArn"], "FunctionUrl": url["FunctionUrl"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        params = self._params(new)
        params["Cors"] = params["Cors"] or {}
        url = await ctx.call("lambda", "UpdateFunctionUrlConfig", params)
        return Deployed(url["FunctionArn"], {"FunctionArn": url["FunctionArn"], "FunctionUrl": url["FunctionUrl"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("lambda", "DeleteFunctionUrlConfig", {"FunctionName": props["TargetFunctionArn"],
                                                             "Qualifier": props.get("Qualifier")})


HANDLERS = [FunctionHandler(), VersionHandler(), AliasHandler(), PermissionHandler(), LayerVersionHandler(),
            LayerVersionPermissionHandler(), UrlHandler()]
