"""AWS::ApiGateway::* resources (REST APIs; what SAM's ``AWS::Serverless::Api`` and implicit
``ServerlessRestApi`` translate to), over the apigateway provider.

A ``RestApi`` with ``Body`` (or ``BodyS3Location``) is imported from its OpenAPI definition and
overwritten with ``PutRestApi`` on update, as CloudFormation does. A ``Deployment`` with
``StageName`` creates (or moves) that stage, as SAM's implicit ``Stage`` stage relies on; deleting
the deployment deletes the stage still pointing at it. Other kinds are replaced on change, except
stages, which are patched in place. ``Ref`` gives the id (the name for stages).
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

SERVICE = "apigateway"


def camel(props: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Template properties (PascalCase) as the API's members (lowerCamel), nested maps left alone."""
    return {name[0].lower() + name[1:]: props[name] for name in names if props.get(name) is not None}


async def _ignore_missing(awaitable: Any) -> None:
    try:
        await awaitable
    except ResourceFailure as failure:
        if "NotFoundException" not in str(failure):
            raise


class RestApiHandler(ResourceHandler):
    type = "AWS::ApiGateway::RestApi"
    SETTINGS = ("Name", "Description", "BinaryMediaTypes", "MinimumCompressionSize", "ApiKeySourceType",
                "EndpointConfiguration", "Policy", "DisableExecuteApiEndpoint")
    properties = frozenset({*SETTINGS, "Body", "BodyS3Location", "FailOnWarnings", "Mode", "Parameters", "Tags",
                            "CloneFrom"})

    async def _body(self, ctx: ResourceContext, props: dict[str, Any]) -> bytes | None:
        body = props.get("Body")
        if body is not None:
            return (body if isinstance(body, str) else json.dumps(body)).encode()
        location = props.get("BodyS3Location")
        if location:
            found = await ctx.call("s3", "GetObject", {"Bucket": location["Bucket"], "Key": location["Key"]})
            content = found.get("Body") or b""
            return content.read() if hasattr(content, "read") else content
        return None

    def _settings(self, props: dict[str, Any]) -> dict[str, Any]:
        params = camel(props, self.SETTINGS)
        if "apiKeySourceType" in params:
            params["apiKeySource"] = params.pop("apiKeySourceType")
        if isinstance(params.get("endpointConfiguration"), dict):
            params["endpointConfiguration"] = {"types": params["endpointConfiguration"].get("Types") or ["EDGE"]}
        if isinstance(params.get("policy"), dict):
            params["policy"] = json.dumps(params["policy"])
        if "minimumCompressionSize" in params:
            params["minimumCompressionSize"] = as_int(params["minimumCompressionSize"])
        if "disableExecuteApiEndpoint" in params:
            params["disableExecuteApiEndpoint"] = as_bool(params["disableExecuteApiEndpoint"])
        return params

    async def _apply_settings(self, ctx: ResourceContext, api_id: str, settings: dict[str, Any]) -> None:
        operations = []
        for name, value in settings.items():
            if name == "binaryMediaTypes":
                operations += [{"op": "add", "path": "/binaryMediaTypes/" + t.replace("/", "~1")} for t in value]
            elif name == "endpointConfiguration":
                continue
            else:
                operations.append({"op": "replace", "path": f"/{name}", "value": str(value).lower()
                                   if isinstance(value, bool) else str(value)})
        if operations:
            await ctx.call(SERVICE, "UpdateRestApi", {"restApiId": api_id, "patchOperations": operations})

    async def _deployed(self, ctx: ResourceContext, api_id: str) -> Deployed:
        api = await ctx.call(SERVICE, "GetRestApi", {"restApiId": api_id})
        return Deployed(api_id, {"RestApiId": api_id, "RootResourceId": api["rootResourceId"]})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        body = await self._body(ctx, props)
        settings = self._settings(props)
        if body is not None:
            api = await ctx.call(SERVICE, "ImportRestApi", {
                "body": body, "failOnWarnings": as_bool(props.get("FailOnWarnings")),
                "parameters": props.get("Parameters")})
            await self._apply_settings(ctx, api["id"], settings)
        else:
            settings.setdefault("name", ctx.physical_name(128))
            api = await ctx.call(SERVICE, "CreateRestApi", settings)
        tags = tags_map(props.get("Tags"))
        if tags:
            await ctx.call(SERVICE, "TagResource", {
                "resourceArn": f"arn:aws:apigateway:{ctx.region}::/restapis/{api['id']}", "tags": tags})
        return await self._deployed(ctx, api["id"])

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        body = await self._body(ctx, new)
        if body is not None:
            await ctx.call(SERVICE, "PutRestApi", {"restApiId": physical_id, "body": body,
                                                   "mode": (new.get("Mode") or "overwrite").lower(),
                                                   "parameters": new.get("Parameters")})
        await self._apply_settings(ctx, physical_id, {k: v for k, v in self._settings(new).items()
                                                      if k != "binaryMediaTypes" or body is None})
        return await self._deployed(ctx, physical_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call(SERVICE, "DeleteRestApi", {"restApiId": physical_id}))


class DeploymentHandler(ResourceHandler):
    type = "AWS::ApiGateway::Deployment"
    properties = frozenset({"RestApiId", "Description", "StageName", "StageDescription", "DeploymentCanarySettings"})
    replace_on = frozenset({"RestApiId", "StageName", "StageDescription"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        stage = props.get("StageDescription") or {}
        created = await ctx.call(SERVICE, "CreateDeployment", {
            "restApiId": props["RestApiId"], "description": props.get("Description"),
            "stageName": props.get("StageName"), "stageDescription": stage.get("Description"),
            "variables": stage.get("Variables")})
        return Deployed(created["id"], {"DeploymentId": created["id"]})

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        await ctx.call(SERVICE, "UpdateDeployment", {"restApiId": new["RestApiId"], "deploymentId": physical_id,
                                                     "patchOperations": [{"op": "replace", "path": "/description",
                                                                          "value": new.get("Description") or ""}]})
        return Deployed(physical_id, {"DeploymentId": physical_id})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        api_id = props["RestApiId"]
        try:
            stages = (await ctx.call(SERVICE, "GetStages", {"restApiId": api_id, "deploymentId": physical_id}))
        except ResourceFailure as failure:
            if "NotFoundException" in str(failure):
                return
            raise
        for stage in stages.get("item") or []:
            if stage["stageName"] == props.get("StageName"):
                await _ignore_missing(ctx.call(SERVICE, "DeleteStage", {"restApiId": api_id,
                                                                        "stageName": stage["stageName"]}))
        await _ignore_missing(ctx.call(SERVICE, "DeleteDeployment", {"restApiId": api_id,
                                                                     "deploymentId": physical_id}))


def _method_settings(settings: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    operations = []
    names = {"ThrottlingRateLimit": "throttling/rateLimit", "ThrottlingBurstLimit": "throttling/burstLimit",
             "LoggingLevel": "logging/loglevel", "DataTraceEnabled": "logging/dataTrace",
             "MetricsEnabled": "metrics/enabled", "CachingEnabled": "caching/enabled",
             "CacheTtlInSeconds": "caching/ttlInSeconds", "CacheDataEncrypted": "caching/dataEncrypted"}
    for setting in settings or []:
        resource = (setting.get("ResourcePath") or "/*").lstrip("/").replace("/", "~1") or "*"
        method = setting.get("HttpMethod") or "*"
        for name, path in names.items():
            if setting.get(name) is not None:
                value = setting[name]
                operations.append({"op": "replace", "path": f"/{resource}/{method}/{path}",
                                   "value": str(value).lower() if isinstance(value, bool) else str(value)})
    return operations


class StageHandler(ResourceHandler):
    type = "AWS::ApiGateway::Stage"
    properties = frozenset({"RestApiId", "DeploymentId", "StageName", "Description", "Variables", "MethodSettings",
                            "AccessLogSetting", "TracingEnabled", "CacheClusterEnabled", "CacheClusterSize", "Tags",
                            "CanarySetting", "ClientCertificateId", "DocumentationVersion"})
    ignored = frozenset({"ClientCertificateId", "CanarySetting", "DocumentationVersion"})
    replace_on = frozenset({"RestApiId", "StageName"})

    def _patches(self, props: dict[str, Any]) -> list[dict[str, str]]:
        operations = _method_settings(props.get("MethodSettings"))
        access = props.get("AccessLogSetting") or {}
        for name, path in (("DestinationArn", "destinationArn"), ("Format", "format")):
            if access.get(name):
                operations.append({"op": "replace", "path": f"/accessLogSettings/{path}", "value": access[name]})
        return operations

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("StageName") or ctx.physical_name(128)
        await ctx.call(SERVICE, "CreateStage", {
            "restApiId": props["RestApiId"], "stageName": name, "deploymentId": props["DeploymentId"],
            "description": props.get("Description"), "variables": props.get("Variables"),
            "tracingEnabled": as_bool(props.get("TracingEnabled")),
            "cacheClusterEnabled": as_bool(props.get("CacheClusterEnabled")),
            "tags": tags_map(props.get("Tags")) or None})
        patches = self._patches(props)
        if patches:
            await ctx.call(SERVICE, "UpdateStage", {"restApiId": props["RestApiId"], "stageName": name,
                                                    "patchOperations": patches})
        return Deployed(name)

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        operations = [{"op": "replace", "path": "/deploymentId", "value": new["DeploymentId"]},
                      {"op": "replace", "path": "/description", "value": new.get("Description") or ""}]
        for key in (old.get("Variables") or {}):
            if key not in (new.get("Variables") or {}):
                operations.append({"op": "remove", "path": f"/variables/{key}"})
        for key, value in (new.get("Variables") or {}).items():
            operations.append({"op": "replace", "path": f"/variables/{key}", "value": str(value)})
        await ctx.call(SERVICE, "UpdateStage", {"restApiId": new["RestApiId"], "stageName": physical_id,
                                                "patchOperations": operations + self._patches(new)})
        return Deployed(physical_id)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call(SERVICE, "DeleteStage", {"restApiId": props["RestApiId"],
                                                                "stageName": physical_id}))


class ResourceResourceHandler(ResourceHandler):
    type = "AWS::ApiGateway::Resource"
    properties = frozenset({"RestApiId", "ParentId", "PathPart"})
    replace_on = properties

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        created = await ctx.call(SERVICE, "CreateResource", {"restApiId": props["RestApiId"],
                                                             "parentId": props["ParentId"],
                                                             "pathPart": props["PathPart"]})
        return Deployed(created["id"], {"ResourceId": created["id"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call(SERVICE, "DeleteResource", {"restApiId": props["RestApiId"],
                                                                   "resourceId": physical_id}))


class MethodHandler(ResourceHandler):
    type = "AWS::ApiGateway::Method"
    FIELDS = ("AuthorizationType", "AuthorizerId", "ApiKeyRequired", "OperationName", "RequestParameters",
              "RequestModels", "RequestValidatorId", "AuthorizationScopes")
    properties = frozenset({*FIELDS, "RestApiId", "ResourceId", "HttpMethod", "Integration", "MethodResponses"})
    replace_on = frozenset({"RestApiId", "ResourceId", "HttpMethod"})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        key = {"restApiId": props["RestApiId"], "resourceId": props["ResourceId"],
               "httpMethod": props["HttpMethod"].upper()}
        method = camel(props, self.FIELDS)
        method.setdefault("authorizationType", "NONE")
        if "apiKeyRequired" in method:
            method["apiKeyRequired"] = as_bool(method["apiKeyRequired"])
        await ctx.call(SERVICE, "PutMethod", {**key, **method})
        for response in props.get("MethodResponses") or []:
            await ctx.call(SERVICE, "PutMethodResponse", {
                **key, "statusCode": str(response["StatusCode"]),
                **camel(response, ("ResponseParameters", "ResponseModels"))})
        integration = props.get("Integration")
        if integration:
            params = camel(integration, ("Type", "Uri", "IntegrationHttpMethod", "RequestTemplates",
                                         "RequestParameters", "PassthroughBehavior", "ContentHandling",
                                         "TimeoutInMillis", "Credentials", "CacheKeyParameters", "CacheNamespace",
                                         "ConnectionType", "ConnectionId"))
            if "timeoutInMillis" in params:
                params["timeoutInMillis"] = as_int(params["timeoutInMillis"])
            await ctx.call(SERVICE, "PutIntegration", {**key, **params})
            for response in integration.get("IntegrationResponses") or []:
                await ctx.call(SERVICE, "PutIntegrationResponse", {
                    **key, "statusCode": str(response["StatusCode"]),
                    **camel(response, ("SelectionPattern", "ResponseParameters", "ResponseTemplates",
                                       "ContentHandling"))})
        physical = f"{props['RestApiId']}|{props['ResourceId']}|{key['httpMethod']}"
        return Deployed(physical)

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        """The same method with other settings: put again from scratch (PutMethod refuses an existing one)."""
        await self.delete(ctx, physical_id, old)
        return await self.create(ctx, new)

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        api_id, resource_id, method = physical_id.split("|")
        await _ignore_missing(ctx.call(SERVICE, "DeleteMethod", {"restApiId": api_id, "resourceId": resource_id,
                                                                 "httpMethod": method}))


class _Child(ResourceHandler):
    """Kinds created with one call and deleted by id: authorizers, models, validators (replaced on change)."""

    create_operation = ""
    delete_operation = ""
    id_member = ""
    fields: tuple[str, ...] = ()

    def params(self, props: dict[str, Any]) -> dict[str, Any]:
        return camel(props, self.fields)

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        created = await ctx.call(SERVICE, self.create_operation, {"restApiId": props["RestApiId"],
                                                                  **self.params(props)})
        identifier = created.get("id") if self.id_member != "modelName" else created["name"]
        return Deployed(identifier, {f"{self.type.rsplit('::', 1)[1]}Id": identifier})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call(SERVICE, self.delete_operation, {"restApiId": props["RestApiId"],
                                                                        self.id_member: physical_id}))


class AuthorizerHandler(_Child):
    type = "AWS::ApiGateway::Authorizer"
    create_operation, delete_operation, id_member = "CreateAuthorizer", "DeleteAuthorizer", "authorizerId"
    fields = ("Name", "Type", "ProviderARNs", "AuthType", "AuthorizerUri", "AuthorizerCredentials", "IdentitySource",
              "IdentityValidationExpression", "AuthorizerResultTtlInSeconds")
    properties = frozenset({"RestApiId", *fields})
    replace_on = properties

    def params(self, props: dict[str, Any]) -> dict[str, Any]:
        params = camel(props, self.fields)
        if "authorizerResultTtlInSeconds" in params:
            params["authorizerResultTtlInSeconds"] = as_int(params["authorizerResultTtlInSeconds"])
        return params


class ModelHandler(_Child):
    type = "AWS::ApiGateway::Model"
    create_operation, delete_operation, id_member = "CreateModel", "DeleteModel", "modelName"
    fields = ("Name", "Description", "Schema", "ContentType")
    properties = frozenset({"RestApiId", *fields})
    replace_on = properties

    def params(self, props: dict[str, Any]) -> dict[str, Any]:
        params = camel(props, self.fields)
        if isinstance(params.get("schema"), dict):
            params["schema"] = json.dumps(params["schema"])
        params.setdefault("contentType", "application/json")
        return params

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        if not props.get("Name"):
            props = {**props, "Name": ctx.physical_name(60).replace("-", "")}
        return await super().create(ctx, props)


class RequestValidatorHandler(_Child):
    type = "AWS::ApiGateway::RequestValidator"
    create_operation, delete_operation, id_member = ("CreateRequestValidator", "DeleteRequestValidator",
                                                     "requestValidatorId")
    fields = ("Name", "ValidateRequestBody", "ValidateRequestParameters")
    properties = frozenset({"RestApiId", *fields})
    replace_on = properties

    def params(self, props: dict[str, Any]) -> dict[str, Any]:
        params = camel(props, self.fields)
        for name in ("validateRequestBody", "validateRequestParameters"):
            if name in params:
                params[name] = as_bool(params[name])
        return params


class GatewayResponseHandler(ResourceHandler):
    type = "AWS::ApiGateway::GatewayResponse"
    properties = frozenset({"RestApiId", "ResponseType", "StatusCode", "ResponseParameters", "ResponseTemplates"})
    replace_on = frozenset({"RestApiId", "ResponseType"})  # otherwise PutGatewayResponse again, in place

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        await ctx.call(SERVICE, "PutGatewayResponse", {
            "restApiId": props["RestApiId"], "responseType": props["ResponseType"],
            **camel(props, ("StatusCode", "ResponseParameters", "ResponseTemplates"))})
        return Deployed(f"{props['RestApiId']}|{props['ResponseType']}")

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call(SERVICE, "DeleteGatewayResponse", {"restApiId": props["RestApiId"],
                                                                          "responseType": props["ResponseType"]}))


class ApiKeyHandler(ResourceHandler):
    type = "AWS::ApiGateway::ApiKey"
    properties = frozenset({"Name", "Description", "Enabled", "Value", "CustomerId", "StageKeys", "Tags",
                            "GenerateDistinctId"})
    replace_on = properties

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        created = await ctx.call(SERVICE, "CreateApiKey", {
            "name": props.get("Name") or ctx.physical_name(128), "description": props.get("Description"),
            "enabled": as_bool(props.get("Enabled")) or False, "value": props.get("Value"),
            "customerId": props.get("CustomerId"), "tags": tags_map(props.get("Tags")) or None,
            "stageKeys": [{"restApiId": s.get("RestApiId"), "stageName": s.get("StageName")}
                          for s in props.get("StageKeys") or []] or None})
        return Deployed(created["id"], {"APIKeyId": created["id"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call(SERVICE, "DeleteApiKey", {"apiKey": physical_id}))


class UsagePlanHandler(ResourceHandler):
    type = "AWS::ApiGateway::UsagePlan"
    properties = frozenset({"UsagePlanName", "Description", "ApiStages", "Throttle", "Quota", "Tags"})
    replace_on = properties

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        throttle = props.get("Throttle") or {}
        quota = props.get("Quota") or {}
        created = await ctx.call(SERVICE, "CreateUsagePlan", {
            "name": props.get("UsagePlanName") or ctx.physical_name(128), "description": props.get("Description"),
            "apiStages": [{"apiId": s["ApiId"], "stage": s["Stage"]} for s in props.get("ApiStages") or []],
            "throttle": {"burstLimit": as_int(throttle.get("BurstLimit")),
                         "rateLimit": float(throttle["RateLimit"]) if throttle.get("RateLimit") is not None
                         else None} if throttle else None,
            "quota": {"limit": as_int(quota.get("Limit")), "offset": as_int(quota.get("Offset")),
                      "period": quota.get("Period")} if quota else None,
            "tags": tags_map(props.get("Tags")) or None})
        return Deployed(created["id"], {"Id": created["id"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call(SERVICE, "DeleteUsagePlan", {"usagePlanId": physical_id}))


class UsagePlanKeyHandler(ResourceHandler):
    type = "AWS::ApiGateway::UsagePlanKey"
    properties = frozenset({"KeyId", "KeyType", "UsagePlanId"})
    replace_on = properties

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        await ctx.call(SERVICE, "CreateUsagePlanKey", {"usagePlanId": props["UsagePlanId"], "keyId": props["KeyId"],
                                                       "keyType": props.get("KeyType") or "API_KEY"})
        return Deployed(f"{props['KeyId']}:{props['UsagePlanId']}", {"Id": props["KeyId"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call(SERVICE, "DeleteUsagePlanKey", {"usagePlanId": props["UsagePlanId"],
                                                                       "keyId": props["KeyId"]}))


class DomainNameHandler(ResourceHandler):
    type = "AWS::ApiGateway::DomainName"
    FIELDS = ("CertificateArn", "RegionalCertificateArn", "SecurityPolicy", "MutualTlsAuthentication")
    properties = frozenset({*FIELDS, "DomainName", "EndpointConfiguration", "Tags",
                            "OwnershipVerificationCertificateArn"})
    ignored = frozenset({"OwnershipVerificationCertificateArn"})
    replace_on = properties

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        endpoint = props.get("EndpointConfiguration") or {}
        created = await ctx.call(SERVICE, "CreateDomainName", {
            "domainName": props["DomainName"], **camel(props, self.FIELDS),
            "endpointConfiguration": {"types": endpoint.get("Types") or ["EDGE"]},
            "tags": tags_map(props.get("Tags")) or None})
        return Deployed(created["domainName"], {
            "DistributionDomainName": created["distributionDomainName"],
            "DistributionHostedZoneId": created["distributionHostedZoneId"],
            "RegionalDomainName": created["regionalDomainName"],
            "RegionalHostedZoneId": created["regionalHostedZoneId"]})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call(SERVICE, "DeleteDomainName", {"domainName": physical_id}))


class BasePathMappingHandler(ResourceHandler):
    type = "AWS::ApiGateway::BasePathMapping"
    properties = frozenset({"DomainName", "BasePath", "RestApiId", "Stage"})
    replace_on = properties

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        created = await ctx.call(SERVICE, "CreateBasePathMapping", {
            "domainName": props["DomainName"], "basePath": props.get("BasePath") or None,
            "restApiId": props["RestApiId"], "stage": props.get("Stage")})
        return Deployed(f"{props['DomainName']}/{created['basePath']}")

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await _ignore_missing(ctx.call(SERVICE, "DeleteBasePathMapping", {
            "domainName": props["DomainName"], "basePath": physical_id.partition("/")[2]}))


HANDLERS = [RestApiHandler(), DeploymentHandler(), StageHandler(), ResourceResourceHandler(), MethodHandler(),
            AuthorizerHandler(), ModelHandler(), RequestValidatorHandler(), GatewayResponseHandler(), ApiKeyHandler(),
            UsagePlanHandler(), UsagePlanKeyHandler(), DomainNameHandler(), BasePathMappingHandler()]
