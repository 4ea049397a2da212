"""API Gateway v2 operations on APIs themselves: create (with quick create), update, delete,
import and reimport from OpenAPI, export."""

from __future__ import annotations

from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.apigatewayv2 import openapi
from cumulo.services.apigatewayv2.addresses import lambda_arn_of
from cumulo.services.apigatewayv2.controlplane import ControlPlane, is_http, pick
from cumulo.services.apigatewayv2.kinds import check_route_key_free
from cumulo.services.apigatewayv2.repository import (
    AUTHORIZERS,
    DEPLOYMENTS,
    INTEGRATIONS,
    MODELS,
    ROUTES,
    STAGES,
    bad_request,
    now,
)
from cumulo.services.apigatewayv2.validation import (
    DEFAULT_API_KEY_SELECTION,
    HTTP_ROUTE_SELECTION,
    check_authorizer,
    check_cors,
    check_http_integration,
    check_http_request_parameters,
    check_http_route_key,
    check_name,
    check_tags,
    is_http_url,
)
from cumulo.services.base import RequestContext
from cumulo.services.tagging import add_tags

API_FIELDS = ("ApiKeySelectionExpression", "CorsConfiguration", "Description", "DisableSchemaValidation",
              "DisableExecuteApiEndpoint", "Name", "RouteSelectionExpression", "Version", "IpAddressType")


class ApiOperations(ControlPlane):
    def create_api(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        protocol = params["ProtocolType"]
        check_name(params["Name"])
        check_tags(params.get("Tags"))
        record = pick(params, API_FIELDS)
        if protocol == "HTTP":
            selection = params.get("RouteSelectionExpression")
            if selection is not None and selection != HTTP_ROUTE_SELECTION:
                raise bad_request(f"Invalid RouteSelectionExpression {selection}. HTTP APIs support only "
                                  f"{HTTP_ROUTE_SELECTION}")
            check_cors(params.get("CorsConfiguration"))
            if params.get("DisableSchemaValidation") is not None:
                raise bad_request("DisableSchemaValidation is supported only for WebSocket APIs")
            if params.get("RouteKey") and not params.get("Target"):
                raise bad_request("RouteKey can be specified only together with Target (quick create)")
            if params.get("RouteKey"):
                check_http_route_key(params["RouteKey"])
            if params.get("Target"):
                self._check_quick_target(params["Target"])
            record["RouteSelectionExpression"] = HTTP_ROUTE_SELECTION
        else:
            if not params.get("RouteSelectionExpression"):
                raise bad_request("RouteSelectionExpression is required for WebSocket APIs")
            for name in ("CorsConfiguration", "Target", "RouteKey", "CredentialsArn"):
                if params.get(name) is not None:
                    raise bad_request(f"{name} is supported only for HTTP APIs")
        record.setdefault("ApiKeySelectionExpression", DEFAULT_API_KEY_SELECTION)
        record.setdefault("DisableExecuteApiEndpoint", False)
        record.setdefault("IpAddressType", "ipv4")
        api_id = self.repo.new_api_id()
        record.update({"ApiId": api_id, "CreatedDate": now(), "ProtocolType": protocol,
                       "Tags": dict(params.get("Tags") or {}), "_account": context.account_id,
                       "_region": context.region})
        with self.platform.store.transaction():
            self.repo.save_api(record)
            if params.get("Target"):
                self._quick_create(record, params)
        return self.api_view(context, record)

    @staticmethod
    def _check_quick_target(target: str) -> None:
        if lambda_arn_of(target) is None and not is_http_url(target):
            raise bad_request(f"Invalid Target {target}: quick create targets a Lambda function ARN or an "
                              "http(s) URL")

    def _quick_create(self, api: dict[str, Any], params: dict[str, Any]) -> None:
        api_id = api["ApiId"]
        target = params["Target"]
        integration: dict[str, Any] = {
            "ApiGatewayManaged": True, "ConnectionType": "INTERNET",
            "IntegrationId": self.repo.new_item_id(INTEGRATIONS, api_id), "TimeoutInMillis": 30000,
        }
        if lambda_arn_of(target):
            integration.update({"IntegrationType": "AWS_PROXY", "IntegrationMethod": "POST",
                                "IntegrationUri": target, "PayloadFormatVersion": "2.0"})
        else:
            integration.update({"IntegrationType": "HTTP_PROXY", "IntegrationMethod": "ANY",
                                "IntegrationUri": target, "PayloadFormatVersion": "1.0"})
        if params.get("CredentialsArn"):
            integration["CredentialsArn"] = params["CredentialsArn"]
        self.repo.put(INTEGRATIONS, api_id, integration)
        route = {"ApiGatewayManaged": True, "ApiKeyRequired": False, "AuthorizationType": "NONE",
                 "RouteId": self.repo.new_item_id(ROUTES, api_id), "RouteKey": params.get("RouteKey") or "$default",
                 "Target": f"integrations/{integration['IntegrationId']}"}
        self.repo.put(ROUTES, api_id, route)
        stage = {"ApiGatewayManaged": True, "AutoDeploy": True, "CreatedDate": now(), "LastUpdatedDate": now(),
                 "DefaultRouteSettings": {"DetailedMetricsEnabled": False}, "RouteSettings": {},
                 "StageName": "$default", "StageVariables": {}}
        self.repo.put(STAGES, api_id, stage)
        self.deploy(api, stage, auto=True)

    def get_api(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.api_view(context, self.api_of(context, params))

    def get_apis(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.page(self.repo.apis(context.account_id, context.region), params, "apigw-apis", "ApiId",
                          view=lambda r: self.api_view(context, r))

    def update_api(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        check_name(params.get("Name"))
        http = is_http(api)
        if http:
            if params.get("CorsConfiguration") is not None:
                check_cors(params["CorsConfiguration"])
            selection = params.get("RouteSelectionExpression")
            if selection is not None and selection != HTTP_ROUTE_SELECTION:
                raise bad_request(f"Invalid RouteSelectionExpression {selection}. HTTP APIs support only "
                                  f"{HTTP_ROUTE_SELECTION}")
            if params.get("RouteKey"):
                check_http_route_key(params["RouteKey"])
            if params.get("Target"):
                self._check_quick_target(params["Target"])
        elif params.get("CorsConfiguration") is not None or params.get("Target") or params.get("RouteKey"):
            raise bad_request("CorsConfiguration, Target and RouteKey are supported only for HTTP APIs")
        api.update(pick(params, API_FIELDS))
        with self.platform.store.transaction():
            self.repo.save_api(api)
            if http and (params.get("Target") or params.get("RouteKey")):
                self._quick_update(api, params)
            self.reconfigured(api)
        return self.api_view(context, api)

    def _quick_update(self, api: dict[str, Any], params: dict[str, Any]) -> None:
        """UpdateApi with Target/RouteKey changes the resources quick create made."""
        api_id = api["ApiId"]
        routes = [r for r in self.repo.items(ROUTES, api_id) if r.get("ApiGatewayManaged")]
        integrations = [i for i in self.repo.items(INTEGRATIONS, api_id) if i.get("ApiGatewayManaged")]
        if not routes or not integrations:
            if params.get("Target"):
                self._quick_create(api, params)
                return
            raise bad_request("RouteKey can be updated only for APIs made with quick create")
        if params.get("Target"):
            integration = integrations[0]
            target = params["Target"]
            integration["IntegrationUri"] = target
            if lambda_arn_of(target):
                integration.update({"IntegrationType": "AWS_PROXY", "IntegrationMethod": "POST",
                                    "PayloadFormatVersion": integration.get("PayloadFormatVersion", "2.0")})
            else:
                integration.update({"IntegrationType": "HTTP_PROXY", "IntegrationMethod": "ANY",
                                    "PayloadFormatVersion": "1.0"})
            self.repo.put(INTEGRATIONS, api_id, integration)
        if params.get("RouteKey"):
            route = routes[0]
            check_route_key_free(self, api_id, params["RouteKey"], route["RouteId"])
            route["RouteKey"] = params["RouteKey"]
            self.repo.put(ROUTES, api_id, route)

    def delete_api(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        self.repo.delete_api(api["ApiId"])
        self.catalog.api_changed(api["ApiId"])
        return {}

    def delete_cors_configuration(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        api.pop("CorsConfiguration", None)
        with self.platform.store.transaction():
            self.repo.save_api(api)
            self.reconfigured(api)
        return {}

    # ------------------------------------------------------------ import / export
    def import_api(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        plan = openapi.parse_definition(params["Body"], params.get("Basepath"), params.get("FailOnWarnings"))
        api_id = self.repo.new_api_id()
        record = {"ApiKeySelectionExpression": DEFAULT_API_KEY_SELECTION, "DisableExecuteApiEndpoint": False,
                  "IpAddressType": "ipv4", "RouteSelectionExpression": HTTP_ROUTE_SELECTION, **plan.api,
                  "ApiId": api_id, "CreatedDate": now(), "ProtocolType": "HTTP", "Tags": dict(plan.tags),
                  "_account": context.account_id, "_region": context.region}
        with self.platform.store.transaction():
            self.repo.save_api(record)
            self._apply_plan(record, plan)
        view = self.api_view(context, record)
        if plan.warnings:
            view["Warnings"] = plan.warnings
        return view

    def reimport_api(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        if not is_http(api):
            raise bad_request("ReimportApi is supported only for HTTP APIs")
        plan = openapi.parse_definition(params["Body"], params.get("Basepath"), params.get("FailOnWarnings"))
        api_id = api["ApiId"]
        with self.platform.store.transaction():
            for kind in (ROUTES, INTEGRATIONS, AUTHORIZERS, MODELS):
                for item in self.repo.items(kind, api_id):
                    self.repo.delete(kind, api_id, item[kind.id_member])
            for name in ("CorsConfiguration", "Description", "Version"):
                api.pop(name, None)
            api.update(plan.api)
            add_tags(api, plan.tags, field="Tags")
            self.repo.save_api(api)
            self._apply_plan(api, plan)
            self.reconfigured(api)
        view = self.api_view(context, api)
        if plan.warnings:
            view["Warnings"] = plan.warnings
        return view

    def _apply_plan(self, api: dict[str, Any], plan: openapi.ImportPlan) -> None:
        api_id = api["ApiId"]
        authorizer_ids: dict[str, str] = {}
        for name, authorizer in plan.authorizers.items():
            check_authorizer(authorizer)
            authorizer = {**authorizer, "AuthorizerId": self.repo.new_item_id(AUTHORIZERS, api_id)}
            self.repo.put(AUTHORIZERS, api_id, authorizer)
            authorizer_ids[name] = authorizer["AuthorizerId"]
        integration_ids: dict[str, str] = {}
        for key, integration in plan.integrations.items():
            integration = {"ConnectionType": "INTERNET", "TimeoutInMillis": 30000, **integration}
            if integration.get("IntegrationType") == "AWS_PROXY" and not integration.get("IntegrationMethod"):
                integration["IntegrationMethod"] = "POST"
            if integration.get("IntegrationSubtype") or integration.get("IntegrationType") == "HTTP_PROXY":
                integration.setdefault("PayloadFormatVersion", "1.0")
            try:
                check_http_integration(integration)
                check_http_request_parameters(integration)
            except AwsError as error:
                raise bad_request(f"Unable to import the integration of {key}: {error.message}") from None
            integration["IntegrationId"] = self.repo.new_item_id(INTEGRATIONS, api_id)
            self.repo.put(INTEGRATIONS, api_id, integration)
            integration_ids[key] = integration["IntegrationId"]
        for route_plan in plan.routes:
            check_http_route_key(route_plan.route_key)
            route: dict[str, Any] = {"ApiKeyRequired": False, "AuthorizationType": "NONE",
                                     "RouteId": self.repo.new_item_id(ROUTES, api_id), "RouteKey": route_plan.route_key}
            if route_plan.integration_key:
                route["Target"] = f"integrations/{integration_ids[route_plan.integration_key]}"
            if route_plan.authorizer:
                if route_plan.authorizer not in authorizer_ids:
                    raise bad_request(f"Unable to import route {route_plan.route_key}: security scheme "
                                      f"{route_plan.authorizer} is not an x-amazon-apigateway-authorizer")
                authorizer = plan.authorizers[route_plan.authorizer]
                route["AuthorizerId"] = authorizer_ids[route_plan.authorizer]
                route["AuthorizationType"] = "JWT" if authorizer["AuthorizerType"] == "JWT" else "CUSTOM"
                if route_plan.scopes and route["AuthorizationType"] == "JWT":
                    route["AuthorizationScopes"] = list(route_plan.scopes)
            elif route_plan.aws_iam:
                route["AuthorizationType"] = "AWS_IAM"
            if route_plan.operation_name:
                route["OperationName"] = route_plan.operation_name
            self.repo.put(ROUTES, api_id, route)
        for model in plan.models:
            self.repo.put(MODELS, api_id, {**model, "ModelId": self.repo.new_item_id(MODELS, api_id)})

    def export_api(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        if not is_http(api):
            raise bad_request("ExportApi is supported only for HTTP APIs")
        if params.get("ExportVersion") not in (None, "1.0"):
            raise bad_request(f"Invalid ExportVersion {params['ExportVersion']}: the supported version is 1.0")
        stage_name = params.get("StageName")
        if stage_name:
            stage = self.repo.get(STAGES, api["ApiId"], stage_name)
            if not stage.get("DeploymentId"):
                raise bad_request(f"Stage {stage_name} has no deployment to export")
            deployment = self.repo.get(DEPLOYMENTS, api["ApiId"], stage["DeploymentId"])
            snapshot = deployment["_snapshot"]
            source = {**api, **{k: v for k, v in snapshot["api"].items() if v is not None}}
            if snapshot["api"].get("CorsConfiguration") is None:
                source.pop("CorsConfiguration", None)
            routes, integrations, authorizers = (snapshot["routes"], snapshot["integrations"],
                                                 snapshot["authorizers"])
        else:
            source = api
            routes = self.repo.items(ROUTES, api["ApiId"])
            integrations = self.repo.items(INTEGRATIONS, api["ApiId"])
            authorizers = self.repo.items(AUTHORIZERS, api["ApiId"])
        document = openapi.export_definition(
            source, routes, integrations, authorizers, region=context.region, stage_name=stage_name,
            include_extensions=params.get("IncludeExtensions", True) is not False,
            endpoint=self.api_endpoint(context, api["ApiId"], "HTTP"))
        return {"body": openapi.render(document, params["OutputType"])}
