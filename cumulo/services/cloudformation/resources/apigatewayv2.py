"""AWS::ApiGatewayV2::* resources (what SAM's HttpApi translates to), over the apigatewayv2 provider.

An ``Api`` with ``Body`` (or ``BodyS3Location``) is imported from its OpenAPI definition and
reimported on update, as CloudFormation does; otherwise it is created from its properties
(quick create included). ``Ref`` gives the id (or, for stages and domain names, the name).
"""

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

API_SETTINGS = ("Name", "Description", "Version", "DisableExecuteApiEndpoint", "CorsConfiguration",
                "ApiKeySelectionExpression", "RouteSelectionExpression", "DisableSchemaValidation", "CredentialsArn",
                "RouteKey", "Target", "IpAddressType")


def _clean(props: dict[str, Any], names: tuple[str, ...], ints: tuple[str, ...] = (),
           bools: tuple[str, ...] = ()) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name in names:
        value = props.get(name)
        if value is None:
            continue
        if name in ints:
            value = as_int(value)
        elif name in bools:
            value = as_bool(value)
        params[name] = value
    return params


async def _ignore_missing(awaitable: Any) -> None:
    try:
        await awaitable
    except ResourceFailure as failure:
        if "NotFoundException" not in str(failure):
            raise


def _api_arn(ctx: ResourceContext, api_id: str) -> str:
    return f"arn:aws:apigateway:{ctx.region}::/apis/{api_id}"


class ApiHandler(ResourceHandler):
    type = "AWS::ApiGatewayV2::Api"
    replace_on = frozenset({"ProtocolType"})
    properties = frozenset({*API_SETTINGS, "ProtocolType", "Body", "BodyS3Location", "BasePath", "FailOnWarnings",
                            "Tags"})

    async def _body(self, ctx: ResourceContext, props: dict[str, Any]) -> str | None:
        body = props.get("Body")
        if body is not None:
            return body if isinstance(body, str) else json.dumps(body)
        location = props.get("BodyS3Location")
        if location:
            found = await ctx.call("s3", "GetObject", {"Bucket": location["Bucket"], "Key": location["Key"]})
            content = found.get("Body") or b""
            if hasattr(content, "read"):
                content = content.read()
            return content.decode() if isinstance(content, bytes) else str(content)
        return None

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        body = await self._body(ctx, props)
        if body is not None:
            api = await ctx.call("apigatewayv2", "ImportApi", {
                "Body": body, "Basepath": props.get("BasePath"),
                "FailOnWarnings": as_bool(props.get("FailOnWarnings"))})
            overrides = _clean(props, ("Name", "Description", "Version", "DisableExecuteApiEndpoint",
                                       "CorsConfiguration"), bools=("DisableExecuteApiEndpoint",))
            if overrides:
                api = await ctx.call("apigatewayv2", "UpdateApi", {"ApiId": api["ApiId"], **overrides})
        else:
            params = _clean(props, API_SETTINGS, bools=("DisableExecuteApiEndpoint", "DisableSchemaValidation"))
            params.setdefault("Name", ctx.physical_name(128))
            api = await ctx.call("apigatewayv2", "CreateApi", {"ProtocolType": props.get("ProtocolType") or "HTTP",
                                                               **params})
        tags = tags_map(props.get("Tags"))
        if tags:
            await ctx.call("apigatewayv2", "TagResource", {"ResourceArn": _api_arn(ctx, api["ApiId"]), "Tags": tags})
        return Deployed(api["ApiId"], {"ApiId": api["ApiId"], "ApiEndpoint": api["ApiEndpoint"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        body = await self._body(ctx, new)
        if body is not None:
            await ctx.call("apigatewayv2", "ReimportApi", {
                "ApiId": physical_id, "Body": body, "Basepath": new.get("BasePath"),
                "FailOnWarnings": as_bool(new.get("FailOnWarnings"))})
            settings = _clean(new, ("Name", "Description", "Version", "DisableExecuteApiEndpoint", "CorsConfiguration"),
                              bools=("DisableExecuteApiEndpoint",))
        else:
            settings = _clean(new, API_SETTINGS, bools=("DisableExecuteApiEndpoint", "DisableSchemaValidation"))
        api = await ctx.call("apigatewayv2", "UpdateApi", {"ApiId": physical_id, **settings})
        tags = tags_map(new.get("Tags"))
        if tags:
            await ctx.call("apigatewayv2", "TagResource", {"ResourceArn": _api_arn(ctx, physical_id), "Tags": tags})
        return Deployed(physical_id, {"ApiId": physical_id, "ApiEndpoint": api["ApiEndpoint"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call("apigatewayv2", "DeleteApi", {"ApiId": physical_id}))


class StageHandler(ResourceHandler):
    type = "AWS::ApiGatewayV2::Stage"
    replace_on = frozenset({"ApiId", "StageName"})
    SETTINGS = ("AccessLogSettings", "AutoDeploy", "ClientCertificateId", "DefaultRouteSettings", "DeploymentId",
                "Description", "RouteSettings", "StageVariables")
    properties = frozenset({*SETTINGS, "ApiId", "StageName", "Tags"})

    def _settings(self, props: dict[str, Any]) -> dict[str, Any]:
        params = _clean(props, self.SETTINGS, bools=("AutoDeploy",))
        for name in ("DefaultRouteSettings",):
            if isinstance(params.get(name), dict):
                params[name] = _route_settings(params[name])
        if isinstance(params.get("RouteSettings"), dict):
            params["RouteSettings"] = {k: _route_settings(v) for k, v in params["RouteSettings"].items()}
        return params

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        await ctx.call("apigatewayv2", "CreateStage", {
            "ApiId": props["ApiId"], "StageName": props["StageName"], **self._settings(props),
            "Tags": tags_map(props.get("Tags")) or None})
        return Deployed(props["StageName"])

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        await ctx.call("apigatewayv2", "UpdateStage", {"ApiId": new["ApiId"], "StageName": physical_id,
                                                       **self._settings(new)})
        return Deployed(physical_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call("apigatewayv2", "DeleteStage", {"ApiId": props["ApiId"],
                                                                        "StageName": physical_id}))


def _route_settings(settings: dict[str, Any]) -> dict[str, Any]:
    converted = dict(settings)
    if converted.get("ThrottlingBurstLimit") is not None:
        converted["ThrottlingBurstLimit"] = as_int(converted["ThrottlingBurstLimit"])
    if converted.get("ThrottlingRateLimit") is not None:
        converted["ThrottlingRateLimit"] = float(converted["ThrottlingRateLimit"])
    for name in ("DataTraceEnabled", "DetailedMetricsEnabled"):
        if converted.get(name) is not None:
            converted[name] = as_bool(converted[name])
    return converted


class _SubResource(ResourceHandler):
    """Routes, integrations, authorizers and deployments: created, updated and deleted by id."""

    noun: str = ""
    fields: tuple[str, ...] = ()
    ints: tuple[str, ...] = ()
    bools: tuple[str, ...] = ()
    replace_on = frozenset({"ApiId"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        params = _clean(props, self.fields, self.ints, self.bools)
        created = await ctx.call("apigatewayv2", f"Create{self.noun}", {"ApiId": props["ApiId"], **params})
        identifier = created[f"{self.noun}Id"]
        return Deployed(identifier, {f"{self.noun}Id": identifier})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        params = _clean(new, self.fields, self.ints, self.bools)
        await ctx.call("apigatewayv2", f"Update{self.noun}", {"ApiId": new["ApiId"], f"{self.noun}Id": physical_id,
                                                              **params})
        return Deployed(physical_id, {f"{self.noun}Id": physical_id})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call("apigatewayv2", f"Delete{self.noun}", {
            "ApiId": props["ApiId"], f"{self.noun}Id": physical_id}))


class RouteHandler(_SubResource):
    type = "AWS::ApiGatewayV2::Route"
    noun = "Route"
    fields = ("ApiKeyRequired", "AuthorizationScopes", "AuthorizationType", "AuthorizerId", "ModelSelectionExpression",
              "OperationName", "RequestModels", "RequestParameters", "RouteKey", "RouteResponseSelectionExpression",
              "Target")
    bools = ("ApiKeyRequired",)
    properties = frozenset({"ApiId", *fields})


class IntegrationHandler(_SubResource):
    type = "AWS::ApiGatewayV2::Integration"
    noun = "Integration"
    fields = ("ConnectionId", "ConnectionType", "ContentHandlingStrategy", "CredentialsArn", "Description",
              "IntegrationMethod", "IntegrationSubtype", "IntegrationType", "IntegrationUri", "PassthroughBehavior",
              "PayloadFormatVersion", "RequestParameters", "RequestTemplates", "ResponseParameters",
              "TemplateSelectionExpression", "TimeoutInMillis", "TlsConfig")
    ints = ("TimeoutInMillis",)
    properties = frozenset({"ApiId", *fields})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        return await super().create(ctx, _response_parameters(props))

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        return await super().update(ctx, physical_id, old, _response_parameters(new))


def _response_parameters(props: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation writes ResponseParameters as {status: {ResponseParameters: [{Destination, Source}]}}."""
    mapping = props.get("ResponseParameters")
    if not isinstance(mapping, dict):
        return props
    converted = {}
    for status, value in mapping.items():
        if isinstance(value, dict) and isinstance(value.get("ResponseParameters"), list):
            converted[status] = {item["Destination"]: item["Source"] for item in value["ResponseParameters"]}
        else:
            converted[status] = value
    return {**props, "ResponseParameters": converted}


class AuthorizerHandler(_SubResource):
    type = "AWS::ApiGatewayV2::Authorizer"
    noun = "Authorizer"
    fields = ("AuthorizerCredentialsArn", "AuthorizerPayloadFormatVersion", "AuthorizerResultTtlInSeconds",
              "AuthorizerType", "AuthorizerUri", "EnableSimpleResponses", "IdentitySource",
              "IdentityValidationExpression", "JwtConfiguration", "Name")
    ints = ("AuthorizerResultTtlInSeconds",)
    bools = ("EnableSimpleResponses",)
    properties = frozenset({"ApiId", *fields})


class DeploymentHandler(_SubResource):
    type = "AWS::ApiGatewayV2::Deployment"
    noun = "Deployment"
    fields = ("Description", "StageName")
    properties = frozenset({"ApiId", *fields})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        return await self.create(ctx, new)  # a new deployment of the current configuration


class DomainNameHandler(ResourceHandler):
    type = "AWS::ApiGatewayV2::DomainName"
    replace_on = frozenset({"DomainName"})
    properties = frozenset({"DomainName", "DomainNameConfigurations", "MutualTlsAuthentication", "Tags"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        created = await ctx.call("apigatewayv2", "CreateDomainName", {
            "DomainName": props["DomainName"], "DomainNameConfigurations": props.get("DomainNameConfigurations"),
            "MutualTlsAuthentication": props.get("MutualTlsAuthentication"),
            "Tags": tags_map(props.get("Tags")) or None})
        return Deployed(created["DomainName"], self._attributes(created))

    @staticmethod
    def _attributes(domain: dict[str, Any]) -> dict[str, Any]:
        config = (domain.get("DomainNameConfigurations") or [{}])[0]
        return {"RegionalDomainName": config.get("ApiGatewayDomainName"),
                "RegionalHostedZoneId": config.get("HostedZoneId"), "DomainNameArn": domain.get("DomainNameArn")}

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        updated = await ctx.call("apigatewayv2", "UpdateDomainName", {
            "DomainName": physical_id, "DomainNameConfigurations": new.get("DomainNameConfigurations"),
            "MutualTlsAuthentication": new.get("MutualTlsAuthentication")})
        return Deployed(physical_id, self._attributes(updated))

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call("apigatewayv2", "DeleteDomainName", {"DomainName": physical_id}))


class ApiMappingHandler(ResourceHandler):
    type = "AWS::ApiGatewayV2::ApiMapping"
    replace_on = frozenset({"DomainName"})
    properties = frozenset({"ApiId", "ApiMappingKey", "DomainName", "Stage"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        created = await ctx.call("apigatewayv2", "CreateApiMapping", _clean(
            props, ("ApiId", "ApiMappingKey", "DomainName", "Stage")))
        return Deployed(created["ApiMappingId"], {"ApiMappingId": created["ApiMappingId"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        await ctx.call("apigatewayv2", "UpdateApiMapping", {
            "ApiMappingId": physical_id, **_clean(new, ("ApiId", "ApiMappingKey", "DomainName", "Stage"))})
        return Deployed(physical_id, {"ApiMappingId": physical_id})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call("apigatewayv2", "DeleteApiMapping", {
            "ApiMappingId": physical_id, "DomainName": props["DomainName"]}))


HANDLERS = [ApiHandler(), StageHandler(), RouteHandler(), IntegrationHandler(), AuthorizerHandler(),
            DeploymentHandler(), DomainNameHandler(), ApiMappingHandler()]
