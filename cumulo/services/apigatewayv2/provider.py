"""API Gateway v2: HTTP APIs (served by ``cumulo.httpapi``) and the control plane of WebSocket APIs.

Configuration changes (routes, integrations, authorizers, CORS) reach callers only through a
deployment: a deployment snapshots the API's configuration, a stage points at one, and a stage
with AutoDeploy gets a new deployment after every change, as on AWS. Stage settings (variables,
throttling, access logs) apply at once. The data plane keeps a compiled view of each deployed
stage and is told to drop it whenever something it reads changes.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.apigatewayv2 import openapi
from cumulo.services.apigatewayv2.addresses import invoke_url
from cumulo.services.apigatewayv2.catalog import HttpApiCatalog
from cumulo.services.apigatewayv2.repository import (
    AUTHORIZERS,
    DEPLOYMENTS,
    DOMAINS,
    INTEGRATION_RESPONSES,
    INTEGRATIONS,
    MAPPINGS,
    MODELS,
    ROUTE_RESPONSES,
    ROUTES,
    STAGES,
    VPCLINKS,
    Kind,
    Repository,
    bad_request,
    conflict,
    new_id,
    not_found,
    now,
    public,
)
from cumulo.services.apigatewayv2.validation import (
    DEFAULT_API_KEY_SELECTION,
    HTTP_ROUTE_SELECTION,
    check_access_log_settings,
    check_authorizer,
    check_cors,
    check_http_integration,
    check_http_request_parameters,
    check_http_route_key,
    check_name,
    check_stage_name,
    check_tags,
    is_http_url,
    lambda_arn_of,
)
from cumulo.services.base import Provider, RequestContext
from cumulo.services.pagination import decode_token, take_page

log = logging.getLogger("cumulo.apigatewayv2")
AUTO_DEPLOY_DESCRIPTION = "Automatic deployment triggered by changes to the Api configuration"
API_FIELDS = ("ApiKeySelectionExpression", "CorsConfiguration", "Description", "DisableSchemaValidation",
              "DisableExecuteApiEndpoint", "Name", "RouteSelectionExpression", "Version", "IpAddressType")
ROUTE_FIELDS = ("ApiKeyRequired", "AuthorizationScopes", "AuthorizationType", "AuthorizerId",
                "ModelSelectionExpression", "OperationName", "RequestModels", "RequestParameters", "RouteKey",
                "RouteResponseSelectionExpression", "Target")
INTEGRATION_FIELDS = ("ConnectionId", "ConnectionType", "ContentHandlingStrategy", "CredentialsArn",
                      "Description", "IntegrationMethod", "IntegrationSubtype", "IntegrationType",
                      "IntegrationUri", "PassthroughBehavior", "PayloadFormatVersion", "RequestParameters",
                      "RequestTemplates", "ResponseParameters", "TemplateSelectionExpression", "TimeoutInMillis",
                      "TlsConfig")
AUTHORIZER_FIELDS = ("AuthorizerCredentialsArn", "AuthorizerPayloadFormatVersion", "AuthorizerResultTtlInSeconds",
                     "AuthorizerType", "AuthorizerUri", "EnableSimpleResponses", "IdentitySource",
                     "IdentityValidationExpression", "JwtConfiguration", "Name")
STAGE_FIELDS = ("AccessLogSettings", "AutoDeploy", "ClientCertificateId", "DefaultRouteSettings", "DeploymentId",
                "Description", "RouteSettings", "StageVariables")
DEFAULT_TIMEOUT_MS = {"HTTP": 30000, "WEBSOCKET": 29000}


def _pick(params: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: copy.deepcopy(params[name]) for name in fields if params.get(name) is not None}


def _max_results(params: dict[str, Any]) -> int:
    raw = params.get("MaxResults")
    if raw is None:
        return 100
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Invalid MaxResults {raw}: must be a number") from None
    if not 1 <= value <= 500:
        raise bad_request(f"Invalid MaxResults {raw}: must be between 1 and 500")
    return value


class ApiGatewayV2Provider(Provider):
    service = "apigatewayv2"
    validation_error_code = "BadRequestException"

    def __init__(self, platform: Any) -> None:
        super().__init__(platform)
        self.repo = Repository(platform.store)
        self.catalog = HttpApiCatalog(self.repo)

    # ------------------------------------------------------------ shared helpers
    def _api(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.repo.api(context.account_id, context.region, params["ApiId"])

    def _http_api(self, api: dict[str, Any]) -> bool:
        return api["ProtocolType"] == "HTTP"

    def api_endpoint(self, context: RequestContext | None, api_id: str, protocol: str) -> str:
        base = (context.base_url if context and context.base_url else "") or self.platform.settings.endpoint_url
        return invoke_url(self.platform.settings, api_id, base, websocket=protocol == "WEBSOCKET")

    def _api_view(self, context: RequestContext | None, api: dict[str, Any]) -> dict[str, Any]:
        view = public(api)
        view["ApiEndpoint"] = self.api_endpoint(context, api["ApiId"], api["ProtocolType"])
        view.setdefault("Tags", {})
        return view

    def api_arn(self, region: str, api_id: str) -> str:
        return f"arn:aws:apigateway:{region}::/apis/{api_id}"

    def _page(self, records: list[dict[str, Any]], params: dict[str, Any], kind: str, sort_key: str,
              view: Any = public) -> dict[str, Any]:
        limit = _max_results(params)
        after = decode_token(params.get("NextToken"), kind, "BadRequestException", "Invalid NextToken")
        ordered = sorted(records, key=lambda r: str(r.get(sort_key, "")))
        rows = ((str(r.get(sort_key, "")), view(r)) for r in ordered
                if after is None or str(r.get(sort_key, "")) > after)
        items, token = take_page(rows, limit, kind)
        result: dict[str, Any] = {"Items": items}
        if token:
            result["NextToken"] = token
        return result

    def _changed(self, api: dict[str, Any]) -> None:
        """The API's configuration changed: redeploy stages with AutoDeploy and refresh the data plane."""
        api_id = api["ApiId"]
        for stage in self.repo.items(STAGES, api_id):
            if stage.get("AutoDeploy"):
                self._deploy(api, stage, auto=True)
        self.catalog.api_changed(api_id)

    def _snapshot(self, api: dict[str, Any]) -> dict[str, Any]:
        api_id = api["ApiId"]
        return {
            "api": {k: copy.deepcopy(api.get(k)) for k in ("ProtocolType", "CorsConfiguration",
                                                            "DisableExecuteApiEndpoint", "RouteSelectionExpression")},
            "routes": self.repo.items(ROUTES, api_id),
            "integrations": self.repo.items(INTEGRATIONS, api_id),
            "authorizers": self.repo.items(AUTHORIZERS, api_id),
        }

    def _deploy(self, api: dict[str, Any], stage: dict[str, Any] | None, auto: bool = False,
                description: str | None = None) -> dict[str, Any]:
        api_id = api["ApiId"]
        deployment = {
            "AutoDeployed": auto, "CreatedDate": now(),
            "DeploymentId": self.repo.new_item_id(DEPLOYMENTS, api_id), "DeploymentStatus": "DEPLOYED",
            "_snapshot": self._snapshot(api),
        }
        if auto:
            deployment["Description"] = AUTO_DEPLOY_DESCRIPTION
        elif description is not None:
            deployment["Description"] = description
        with self.platform.store.transaction():
            self.repo.put(DEPLOYMENTS, api_id, deployment)
            if stage is not None:
                previous = stage.get("DeploymentId")
                stage["DeploymentId"] = deployment["DeploymentId"]
                stage["LastDeploymentStatusMessage"] = (
                    f"Successfully deployed stage with deployment ID '{deployment['DeploymentId']}'")
                stage["LastUpdatedDate"] = now()
                self.repo.put(STAGES, api_id, stage)
                if previous and auto:
                    self._prune(api_id, previous)
        return deployment

    def _prune(self, api_id: str, deployment_id: str) -> None:
        """Drop an automatic deployment that no stage uses any more (keeps AutoDeploy from piling up
        a snapshot per change)."""
        old = self.repo.find(DEPLOYMENTS, api_id, deployment_id)
        if not old or not old.get("AutoDeployed"):
            return
        if any(s.get("DeploymentId") == deployment_id for s in self.repo.items(STAGES, api_id)):
            return
        self.repo.delete(DEPLOYMENTS, api_id, deployment_id)

    # ------------------------------------------------------------ APIs
    def create_api(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        protocol = params["ProtocolType"]
        check_name(params["Name"])
        check_tags(params.get("Tags"))
        record = _pick(params, API_FIELDS)
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
        return self._api_view(context, record)

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
        self._deploy(api, stage, auto=True)

    def get_api(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._api_view(context, self._api(context, params))

    def get_apis(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._page(self.repo.apis(context.account_id, context.region), params, "apigw-apis", "ApiId",
                          view=lambda r: self._api_view(context, r))

    def update_api(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        check_name(params.get("Name"))
        http = self._http_api(api)
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
        api.update(_pick(params, API_FIELDS))
        with self.platform.store.transaction():
            self.repo.save_api(api)
            if http and (params.get("Target") or params.get("RouteKey")):
                self._quick_update(api, params)
            self._changed(api)
        return self._api_view(context, api)

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
            self._check_route_key_free(api_id, params["RouteKey"], route["RouteId"])
            route["RouteKey"] = params["RouteKey"]
            self.repo.put(ROUTES, api_id, route)

    def delete_api(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        self.repo.delete_api(api["ApiId"])
        self.catalog.api_changed(api["ApiId"])
        return {}

    def delete_cors_configuration(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        api.pop("CorsConfiguration", None)
        with self.platform.store.transaction():
            self.repo.save_api(api)
            self._changed(api)
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
        view = self._api_view(context, record)
        if plan.warnings:
            view["Warnings"] = plan.warnings
        return view

    def reimport_api(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        if not self._http_api(api):
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
            api["Tags"] = {**api.get("Tags", {}), **plan.tags}
            self.repo.save_api(api)
            self._apply_plan(api, plan)
            self._changed(api)
        view = self._api_view(context, api)
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
        api = self._api(context, params)
        if not self._http_api(api):
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

    # ------------------------------------------------------------ routes
    def _check_route_key_free(self, api_id: str, key: str, own_id: str | None = None) -> None:
        for route in self.repo.items(ROUTES, api_id):
            if route["RouteKey"] == key and route["RouteId"] != own_id:
                raise conflict(f"Route with key {key} already exists for this API")

    def _check_route(self, api: dict[str, Any], route: dict[str, Any]) -> None:
        api_id = api["ApiId"]
        if self._http_api(api):
            check_http_route_key(route["RouteKey"])
        target = route.get("Target")
        if target:
            if not target.startswith("integrations/"):
                raise bad_request(f"Invalid Target {target}: a route target looks like integrations/{{IntegrationId}}")
            self.repo.get(INTEGRATIONS, api_id, target.split("/", 1)[1])
        kind = route.get("AuthorizationType", "NONE")
        if kind in ("JWT", "CUSTOM"):
            if not route.get("AuthorizerId"):
                raise bad_request(f"AuthorizerId is required for authorization type {kind}")
            authorizer = self.repo.get(AUTHORIZERS, api_id, route["AuthorizerId"])
            expected = "JWT" if kind == "JWT" else "REQUEST"
            if authorizer["AuthorizerType"] != expected:
                raise bad_request(f"Authorization type {kind} requires an authorizer of type {expected}; "
                                  f"authorizer {route['AuthorizerId']} is of type {authorizer['AuthorizerType']}")
        elif route.get("AuthorizerId"):
            raise bad_request(f"AuthorizerId can't be set with authorization type {kind}; use JWT or CUSTOM")
        if self._http_api(api):
            if route.get("AuthorizationScopes") and kind != "JWT":
                raise bad_request("AuthorizationScopes are supported only for routes with authorization type JWT")
            if route.get("ApiKeyRequired"):
                raise bad_request("API keys are not supported for HTTP APIs")
            for name in ("RequestModels", "ModelSelectionExpression", "RouteResponseSelectionExpression"):
                if route.get(name):
                    raise bad_request(f"{name} is supported only for WebSocket APIs")

    def create_route(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        route = _pick(params, ROUTE_FIELDS)
        route.setdefault("ApiKeyRequired", False)
        route.setdefault("AuthorizationType", "NONE")
        self._check_route(api, route)
        self._check_route_key_free(api["ApiId"], route["RouteKey"])
        route["RouteId"] = self.repo.new_item_id(ROUTES, api["ApiId"])
        with self.platform.store.transaction():
            self.repo.put(ROUTES, api["ApiId"], route)
            self._changed(api)
        return public(route)

    def get_route(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        return public(self.repo.get(ROUTES, api["ApiId"], params["RouteId"]))

    def get_routes(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        return self._page(self.repo.items(ROUTES, api["ApiId"]), params, "apigw-routes", "RouteId")

    def update_route(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        route = self.repo.get(ROUTES, api["ApiId"], params["RouteId"])
        route.update(_pick(params, ROUTE_FIELDS))
        if params.get("AuthorizationType") in ("NONE", "AWS_IAM"):
            route.pop("AuthorizerId", None)
            route.pop("AuthorizationScopes", None)
        self._check_route(api, route)
        self._check_route_key_free(api["ApiId"], route["RouteKey"], route["RouteId"])
        with self.platform.store.transaction():
            self.repo.put(ROUTES, api["ApiId"], route)
            self._changed(api)
        return public(route)

    def delete_route(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        self.repo.get(ROUTES, api["ApiId"], params["RouteId"])
        with self.platform.store.transaction():
            self.repo.delete(ROUTES, api["ApiId"], params["RouteId"])
            self._changed(api)
        return {}

    def delete_route_request_parameter(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        route = self.repo.get(ROUTES, api["ApiId"], params["RouteId"])
        parameters = route.get("RequestParameters") or {}
        if params["RequestParameterKey"] not in parameters:
            raise not_found("RequestParameter", params["RequestParameterKey"])
        del parameters[params["RequestParameterKey"]]
        with self.platform.store.transaction():
            self.repo.put(ROUTES, api["ApiId"], route)
            self._changed(api)
        return {}

    # ------------------------------------------------------------ route responses (WebSocket APIs)
    def create_route_response(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        self.repo.get(ROUTES, api["ApiId"], params["RouteId"])
        record = _pick(params, ("ModelSelectionExpression", "ResponseModels", "ResponseParameters",
                                "RouteResponseKey"))
        record["RouteResponseId"] = self.repo.new_item_id(ROUTE_RESPONSES, api["ApiId"], params["RouteId"])
        self.repo.put(ROUTE_RESPONSES, api["ApiId"], record, params["RouteId"])
        return public(record)

    def get_route_response(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        self.repo.get(ROUTES, api["ApiId"], params["RouteId"])
        return public(self.repo.get(ROUTE_RESPONSES, api["ApiId"], params["RouteResponseId"], params["RouteId"]))

    def get_route_responses(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        self.repo.get(ROUTES, api["ApiId"], params["RouteId"])
        return self._page(self.repo.items(ROUTE_RESPONSES, api["ApiId"], params["RouteId"]), params,
                          "apigw-routeresponses", "RouteResponseId")

    def update_route_response(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        record = self.repo.get(ROUTE_RESPONSES, api["ApiId"], params["RouteResponseId"], params["RouteId"])
        record.update(_pick(params, ("ModelSelectionExpression", "ResponseModels", "ResponseParameters",
                                     "RouteResponseKey")))
        self.repo.put(ROUTE_RESPONSES, api["ApiId"], record, params["RouteId"])
        return public(record)

    def delete_route_response(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        self.repo.get(ROUTE_RESPONSES, api["ApiId"], params["RouteResponseId"], params["RouteId"])
        self.repo.delete(ROUTE_RESPONSES, api["ApiId"], params["RouteResponseId"], params["RouteId"])
        return {}

    # ------------------------------------------------------------ integrations
    def _integration_defaults(self, api: dict[str, Any], record: dict[str, Any]) -> None:
        record.setdefault("ConnectionType", "INTERNET")
        record.setdefault("TimeoutInMillis", DEFAULT_TIMEOUT_MS[api["ProtocolType"]])
        if self._http_api(api):
            if record.get("IntegrationType") == "AWS_PROXY":
                record.setdefault("IntegrationMethod", "POST")
                if record.get("IntegrationSubtype"):
                    record.setdefault("PayloadFormatVersion", "1.0")
            elif record.get("IntegrationType") == "HTTP_PROXY":
                record.setdefault("PayloadFormatVersion", "1.0")
        else:
            record.setdefault("PayloadFormatVersion", "1.0")
            record.setdefault("PassthroughBehavior", "WHEN_NO_MATCH")
            record.setdefault("IntegrationResponseSelectionExpression", "${integration.response.statuscode}")

    def _check_integration(self, api: dict[str, Any], record: dict[str, Any]) -> None:
        if not self._http_api(api):
            return
        check_http_integration(record)
        check_http_request_parameters(record)
        for name in ("RequestTemplates", "TemplateSelectionExpression", "PassthroughBehavior",
                     "ContentHandlingStrategy"):
            if record.get(name) is not None:
                raise bad_request(f"{name} is supported only for WebSocket APIs")
        if record.get("ConnectionType") == "VPC_LINK" and not record.get("ConnectionId"):
            raise bad_request("ConnectionId is required for VPC_LINK integrations")

    def create_integration(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        record = _pick(params, INTEGRATION_FIELDS)
        self._integration_defaults(api, record)
        self._check_integration(api, record)
        record["IntegrationId"] = self.repo.new_item_id(INTEGRATIONS, api["ApiId"])
        with self.platform.store.transaction():
            self.repo.put(INTEGRATIONS, api["ApiId"], record)
            self._changed(api)
        return public(record)

    def get_integration(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        return public(self.repo.get(INTEGRATIONS, api["ApiId"], params["IntegrationId"]))

    def get_integrations(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        return self._page(self.repo.items(INTEGRATIONS, api["ApiId"]), params, "apigw-integrations",
                          "IntegrationId")

    def update_integration(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        record = self.repo.get(INTEGRATIONS, api["ApiId"], params["IntegrationId"])
        record.update(_pick(params, INTEGRATION_FIELDS))
        self._integration_defaults(api, record)
        self._check_integration(api, record)
        with self.platform.store.transaction():
            self.repo.put(INTEGRATIONS, api["ApiId"], record)
            self._changed(api)
        return public(record)

    def delete_integration(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        integration_id = params["IntegrationId"]
        self.repo.get(INTEGRATIONS, api["ApiId"], integration_id)
        users = [r["RouteKey"] for r in self.repo.items(ROUTES, api["ApiId"])
                 if r.get("Target") == f"integrations/{integration_id}"]
        if users:
            raise conflict(f"Unable to delete integration {integration_id}: it is the target of route(s) "
                           f"{', '.join(users)}")
        with self.platform.store.transaction():
            self.repo.delete(INTEGRATIONS, api["ApiId"], integration_id)
            self._changed(api)
        return {}

    # ------------------------------------------------------------ integration responses (WebSocket APIs)
    _IR_FIELDS = ("ContentHandlingStrategy", "IntegrationResponseKey", "ResponseParameters", "ResponseTemplates",
                  "TemplateSelectionExpression")

    def create_integration_response(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        if self._http_api(api):
            raise bad_request("Integration responses are supported only for WebSocket APIs")
        self.repo.get(INTEGRATIONS, api["ApiId"], params["IntegrationId"])
        record = _pick(params, self._IR_FIELDS)
        record["IntegrationResponseId"] = self.repo.new_item_id(INTEGRATION_RESPONSES, api["ApiId"],
                                                                params["IntegrationId"])
        self.repo.put(INTEGRATION_RESPONSES, api["ApiId"], record, params["IntegrationId"])
        return public(record)

    def get_integration_response(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        return public(self.repo.get(INTEGRATION_RESPONSES, api["ApiId"], params["IntegrationResponseId"],
                                    params["IntegrationId"]))

    def get_integration_responses(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        self.repo.get(INTEGRATIONS, api["ApiId"], params["IntegrationId"])
        return self._page(self.repo.items(INTEGRATION_RESPONSES, api["ApiId"], params["IntegrationId"]), params,
                          "apigw-integrationresponses", "IntegrationResponseId")

    def update_integration_response(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        record = self.repo.get(INTEGRATION_RESPONSES, api["ApiId"], params["IntegrationResponseId"],
                               params["IntegrationId"])
        record.update(_pick(params, self._IR_FIELDS))
        self.repo.put(INTEGRATION_RESPONSES, api["ApiId"], record, params["IntegrationId"])
        return public(record)

    def delete_integration_response(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        self.repo.get(INTEGRATION_RESPONSES, api["ApiId"], params["IntegrationResponseId"], params["IntegrationId"])
        self.repo.delete(INTEGRATION_RESPONSES, api["ApiId"], params["IntegrationResponseId"], params["IntegrationId"])
        return {}

    # ------------------------------------------------------------ authorizers
    def create_authorizer(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        record = _pick(params, AUTHORIZER_FIELDS)
        if self._http_api(api):
            check_authorizer(record)
            if record["AuthorizerType"] == "REQUEST":
                record.setdefault("AuthorizerResultTtlInSeconds", 0)
                record.setdefault("EnableSimpleResponses", False)
        record["AuthorizerId"] = self.repo.new_item_id(AUTHORIZERS, api["ApiId"])
        with self.platform.store.transaction():
            self.repo.put(AUTHORIZERS, api["ApiId"], record)
            self._changed(api)
        return public(record)

    def get_authorizer(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        return public(self.repo.get(AUTHORIZERS, api["ApiId"], params["AuthorizerId"]))

    def get_authorizers(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        return self._page(self.repo.items(AUTHORIZERS, api["ApiId"]), params, "apigw-authorizers", "AuthorizerId")

    def update_authorizer(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        record = self.repo.get(AUTHORIZERS, api["ApiId"], params["AuthorizerId"])
        record.update(_pick(params, AUTHORIZER_FIELDS))
        if self._http_api(api):
            check_authorizer(record)
        with self.platform.store.transaction():
            self.repo.put(AUTHORIZERS, api["ApiId"], record)
            self._changed(api)
        return public(record)

    def delete_authorizer(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        authorizer_id = params["AuthorizerId"]
        self.repo.get(AUTHORIZERS, api["ApiId"], authorizer_id)
        users = [r["RouteKey"] for r in self.repo.items(ROUTES, api["ApiId"]) if r.get("AuthorizerId") == authorizer_id]
        if users:
            raise conflict(f"Unable to delete authorizer {authorizer_id}: it is used by route(s) {', '.join(users)}")
        with self.platform.store.transaction():
            self.repo.delete(AUTHORIZERS, api["ApiId"], authorizer_id)
            self._changed(api)
        return {}

    # ------------------------------------------------------------ models
    def create_model(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        if any(m["Name"] == params["Name"] for m in self.repo.items(MODELS, api["ApiId"])):
            raise conflict(f"Model name already exists for this API: {params['Name']}")
        record = _pick(params, ("ContentType", "Description", "Name", "Schema"))
        record["ModelId"] = self.repo.new_item_id(MODELS, api["ApiId"])
        self.repo.put(MODELS, api["ApiId"], record)
        return public(record)

    def get_model(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        return public(self.repo.get(MODELS, api["ApiId"], params["ModelId"]))

    def get_models(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        return self._page(self.repo.items(MODELS, api["ApiId"]), params, "apigw-models", "ModelId")

    def get_model_template(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        model = self.repo.get(MODELS, api["ApiId"], params["ModelId"])
        return {"Value": openapi.model_template(model.get("Schema", "{}"))}

    def update_model(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        record = self.repo.get(MODELS, api["ApiId"], params["ModelId"])
        record.update(_pick(params, ("ContentType", "Description", "Name", "Schema")))
        self.repo.put(MODELS, api["ApiId"], record)
        return public(record)

    def delete_model(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        self.repo.get(MODELS, api["ApiId"], params["ModelId"])
        self.repo.delete(MODELS, api["ApiId"], params["ModelId"])
        return {}

    # ------------------------------------------------------------ stages
    def stage_arn(self, region: str, api_id: str, stage_name: str) -> str:
        return f"arn:aws:apigateway:{region}::/apis/{api_id}/stages/{stage_name}"

    def _stage_view(self, context: RequestContext, api_id: str, stage: dict[str, Any]) -> dict[str, Any]:
        view = public(stage)
        view["Tags"] = self.repo.tags(self.stage_arn(context.region, api_id, stage["StageName"]))
        return view

    def _check_stage_settings(self, api: dict[str, Any], stage: dict[str, Any]) -> None:
        check_access_log_settings(stage.get("AccessLogSettings"))
        if stage.get("DeploymentId"):
            self.repo.get(DEPLOYMENTS, api["ApiId"], stage["DeploymentId"])
        for settings in [stage.get("DefaultRouteSettings") or {}, *(stage.get("RouteSettings") or {}).values()]:
            rate = settings.get("ThrottlingRateLimit")
            burst = settings.get("ThrottlingBurstLimit")
            if (rate is not None and rate < 0) or (burst is not None and burst < 0):
                raise bad_request("Throttling limits must be zero or greater")
        if self._http_api(api):
            for key in stage.get("RouteSettings") or {}:
                check_http_route_key(key)

    def create_stage(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        name = params["StageName"]
        check_stage_name(name)
        check_tags(params.get("Tags"))
        if self.repo.find(STAGES, api["ApiId"], name) is not None:
            raise conflict(f"Stage already exists: {name}")
        stage = _pick(params, STAGE_FIELDS)
        stage.setdefault("DefaultRouteSettings", {})
        stage["DefaultRouteSettings"].setdefault("DetailedMetricsEnabled", False)
        stage.setdefault("RouteSettings", {})
        stage.setdefault("StageVariables", {})
        stage.update({"StageName": name, "CreatedDate": now(), "LastUpdatedDate": now()})
        if stage.get("AutoDeploy") and stage.get("DeploymentId"):
            raise bad_request("DeploymentId can't be specified for a stage with AutoDeploy enabled")
        self._check_stage_settings(api, stage)
        with self.platform.store.transaction():
            self.repo.put(STAGES, api["ApiId"], stage)
            if params.get("Tags"):
                self.repo.set_tags(self.stage_arn(context.region, api["ApiId"], name), dict(params["Tags"]))
            if stage.get("AutoDeploy"):
                self._deploy(api, stage, auto=True)
        self.catalog.api_changed(api["ApiId"])
        return self._stage_view(context, api["ApiId"], stage)

    def get_stage(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        return self._stage_view(context, api["ApiId"], self.repo.get(STAGES, api["ApiId"], params["StageName"]))

    def get_stages(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        return self._page(self.repo.items(STAGES, api["ApiId"]), params, "apigw-stages", "StageName",
                          view=lambda s: self._stage_view(context, api["ApiId"], s))

    def update_stage(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        stage = self.repo.get(STAGES, api["ApiId"], params["StageName"])
        was_auto = bool(stage.get("AutoDeploy"))
        changes = _pick(params, STAGE_FIELDS)
        route_settings = changes.pop("RouteSettings", None)
        default_settings = changes.pop("DefaultRouteSettings", None)
        stage.update(changes)
        if route_settings is not None:
            stage["RouteSettings"] = {**stage.get("RouteSettings", {}), **route_settings}
        if default_settings is not None:
            stage["DefaultRouteSettings"] = {**stage.get("DefaultRouteSettings", {}), **default_settings}
        if params.get("DeploymentId") and stage.get("AutoDeploy") and params.get("AutoDeploy") is not False:
            raise bad_request("DeploymentId can't be updated for a stage with AutoDeploy enabled")
        if params.get("DeploymentId"):
            stage["LastDeploymentStatusMessage"] = (
                f"Successfully deployed stage with deployment ID '{params['DeploymentId']}'")
        stage["LastUpdatedDate"] = now()
        self._check_stage_settings(api, stage)
        with self.platform.store.transaction():
            self.repo.put(STAGES, api["ApiId"], stage)
            if stage.get("AutoDeploy") and not was_auto:
                self._deploy(api, stage, auto=True)
        self.catalog.api_changed(api["ApiId"])
        return self._stage_view(context, api["ApiId"], stage)

    def delete_stage(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        self.repo.get(STAGES, api["ApiId"], params["StageName"])
        with self.platform.store.transaction():
            self.repo.delete(STAGES, api["ApiId"], params["StageName"])
            self.repo.set_tags(self.stage_arn(context.region, api["ApiId"], params["StageName"]), {})
        self.catalog.api_changed(api["ApiId"])
        return {}

    def delete_access_log_settings(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        stage = self.repo.get(STAGES, api["ApiId"], params["StageName"])
        stage.pop("AccessLogSettings", None)
        self.repo.put(STAGES, api["ApiId"], stage)
        self.catalog.api_changed(api["ApiId"])
        return {}

    def delete_route_settings(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        stage = self.repo.get(STAGES, api["ApiId"], params["StageName"])
        settings = stage.get("RouteSettings") or {}
        if params["RouteKey"] not in settings:
            raise not_found("RouteSettings", params["RouteKey"])
        del settings[params["RouteKey"]]
        self.repo.put(STAGES, api["ApiId"], stage)
        self.catalog.api_changed(api["ApiId"])
        return {}

    def reset_authorizers_cache(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        self.repo.get(STAGES, api["ApiId"], params["StageName"])
        self.catalog.authorizer_cache_reset(api["ApiId"], params["StageName"])
        return {}

    # ------------------------------------------------------------ deployments
    def create_deployment(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        stage = None
        if params.get("StageName"):
            stage = self.repo.get(STAGES, api["ApiId"], params["StageName"])
            if stage.get("AutoDeploy"):
                raise bad_request(f"Stage {params['StageName']} has AutoDeploy enabled: deployments to it are "
                                  "automatic")
        deployment = self._deploy(api, stage, description=params.get("Description"))
        self.catalog.api_changed(api["ApiId"])
        return public(deployment)

    def get_deployment(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        return public(self.repo.get(DEPLOYMENTS, api["ApiId"], params["DeploymentId"]))

    def get_deployments(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        return self._page(self.repo.items(DEPLOYMENTS, api["ApiId"]), params, "apigw-deployments", "DeploymentId")

    def update_deployment(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        deployment = self.repo.get(DEPLOYMENTS, api["ApiId"], params["DeploymentId"])
        if params.get("Description") is not None:
            deployment["Description"] = params["Description"]
        self.repo.put(DEPLOYMENTS, api["ApiId"], deployment)
        return public(deployment)

    def delete_deployment(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self._api(context, params)
        deployment_id = params["DeploymentId"]
        self.repo.get(DEPLOYMENTS, api["ApiId"], deployment_id)
        users = [s["StageName"] for s in self.repo.items(STAGES, api["ApiId"])
                 if s.get("DeploymentId") == deployment_id]
        if users:
            raise bad_request(f"Active stages pointing to this deployment must be moved or deleted: "
                              f"{', '.join(users)}")
        self.repo.delete(DEPLOYMENTS, api["ApiId"], deployment_id)
        return {}

    # ------------------------------------------------------------ tags
    def _tagged(self, context: RequestContext, arn: str) -> tuple[str, dict[str, Any] | None]:
        """What a resource ARN names: ("api", api record) or ("other", None); NotFound otherwise."""
        prefix = f"arn:aws:apigateway:{context.region}::/"
        if not arn.startswith(prefix):
            raise not_found("Resource", arn)
        parts = arn[len(prefix):].split("/")
        if parts[0] == "apis" and len(parts) == 2:
            return "api", self.repo.api(context.account_id, context.region, parts[1])
        if parts[0] == "apis" and len(parts) == 4 and parts[2] == "stages":
            self.repo.api(context.account_id, context.region, parts[1])
            self.repo.get(STAGES, parts[1], parts[3])
            return "other", None
        if parts[0] == "domainnames" and len(parts) == 2:
            self._domain(context, parts[1])
            return "other", None
        if parts[0] == "vpclinks" and len(parts) == 2:
            self._vpc_link(context, parts[1])
            return "other", None
        raise not_found("Resource", arn)

    def tag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kind, api = self._tagged(context, params["ResourceArn"])
        tags = dict(params.get("Tags") or {})
        if kind == "api" and api is not None:
            merged = {**api.get("Tags", {}), **tags}
            check_tags(merged)
            api["Tags"] = merged
            self.repo.save_api(api)
        else:
            merged = {**self.repo.tags(params["ResourceArn"]), **tags}
            check_tags(merged)
            self.repo.set_tags(params["ResourceArn"], merged)
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kind, api = self._tagged(context, params["ResourceArn"])
        if kind == "api" and api is not None:
            api["Tags"] = {k: v for k, v in api.get("Tags", {}).items() if k not in params["TagKeys"]}
            self.repo.save_api(api)
        else:
            remaining = {k: v for k, v in self.repo.tags(params["ResourceArn"]).items() if k not in params["TagKeys"]}
            self.repo.set_tags(params["ResourceArn"], remaining)
        return {}

    def get_tags(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kind, api = self._tagged(context, params["ResourceArn"])
        if kind == "api" and api is not None:
            return {"Tags": dict(api.get("Tags", {}))}
        return {"Tags": self.repo.tags(params["ResourceArn"])}

    # ------------------------------------------------------------ custom domain names and API mappings
    def _domain_key(self, context: RequestContext, name: str) -> str:
        return f"{context.account_id}:{context.region}:{name.lower()}"

    def _domain(self, context: RequestContext, name: str) -> dict[str, Any]:
        record = self.platform.store.get(DOMAINS, self._domain_key(context, name))
        if record is None:
            raise not_found("DomainName", name)
        return record

    def _domain_view(self, context: RequestContext, record: dict[str, Any]) -> dict[str, Any]:
        view = public(record)
        view["Tags"] = self.repo.tags(record["DomainNameArn"])
        return view

    def create_domain_name(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["DomainName"].lower()
        check_tags(params.get("Tags"))
        if self.platform.store.get(DOMAINS, self._domain_key(context, name)) is not None:
            raise conflict(f"The domain name you provided already exists: {name}")
        configurations = []
        for config in params.get("DomainNameConfigurations") or [{}]:
            configurations.append({
                "ApiGatewayDomainName": f"d-{new_id(10)}.execute-api.{context.region}.amazonaws.com",
                "DomainNameStatus": "AVAILABLE", "EndpointType": "REGIONAL", "HostedZoneId": "Z1UJRXOUMOOFQ8",
                "IpAddressType": "ipv4", "SecurityPolicy": "TLS_1_2", **copy.deepcopy(config)})
        record = {"ApiMappingSelectionExpression": "$request.basepath", "DomainName": name,
                  "DomainNameArn": f"arn:aws:apigateway:{context.region}::/domainnames/{name}",
                  "DomainNameConfigurations": configurations,
                  "RoutingMode": params.get("RoutingMode") or "API_MAPPING_ONLY"}
        if params.get("MutualTlsAuthentication"):
            record["MutualTlsAuthentication"] = copy.deepcopy(params["MutualTlsAuthentication"])
        self.platform.store.put(DOMAINS, self._domain_key(context, name), record)
        if params.get("Tags"):
            self.repo.set_tags(record["DomainNameArn"], dict(params["Tags"]))
        self.catalog.domains_changed()
        return self._domain_view(context, record)

    def get_domain_name(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._domain_view(context, self._domain(context, params["DomainName"]))

    def get_domain_names(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = f"{context.account_id}:{context.region}:"
        records = [r for _, r in self.platform.store.scan(DOMAINS, prefix)]
        return self._page(records, params, "apigw-domains", "DomainName", view=lambda r: self._domain_view(context, r))

    def update_domain_name(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._domain(context, params["DomainName"])
        if params.get("DomainNameConfigurations"):
            merged = []
            for index, config in enumerate(params["DomainNameConfigurations"]):
                existing = record["DomainNameConfigurations"]
                base = existing[index] if index < len(existing) else {}
                merged.append({**base, **copy.deepcopy(config)})
            record["DomainNameConfigurations"] = merged
        for name in ("MutualTlsAuthentication", "RoutingMode"):
            if params.get(name) is not None:
                record[name] = copy.deepcopy(params[name])
        self.platform.store.put(DOMAINS, self._domain_key(context, record["DomainName"]), record)
        return self._domain_view(context, record)

    def delete_domain_name(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._domain(context, params["DomainName"])
        with self.platform.store.transaction():
            self.platform.store.delete(DOMAINS, self._domain_key(context, record["DomainName"]))
            self.platform.store.delete_prefix(MAPPINGS, self._domain_key(context, record["DomainName"]) + "/")
            self.repo.set_tags(record["DomainNameArn"], {})
        self.catalog.domains_changed()
        return {}

    def _mapping_key(self, context: RequestContext, domain: str, mapping_id: str) -> str:
        return f"{self._domain_key(context, domain)}/{mapping_id}"

    def _mappings(self, context: RequestContext, domain: str) -> list[dict[str, Any]]:
        return [r for _, r in self.platform.store.scan(MAPPINGS, self._domain_key(context, domain) + "/")]

    def _check_mapping(self, context: RequestContext, domain: str, record: dict[str, Any]) -> None:
        self.repo.api(context.account_id, context.region, record["ApiId"])
        self.repo.get(STAGES, record["ApiId"], record["Stage"])
        key = record.get("ApiMappingKey") or ""
        if key.startswith("/") or key.endswith("/") or "//" in key:
            raise bad_request(f"Invalid ApiMappingKey {key}: keys look like v1 or orders/v1")
        for other in self._mappings(context, domain):
            if (other.get("ApiMappingKey") or "") == key and other["ApiMappingId"] != record.get("ApiMappingId"):
                raise conflict(f"ApiMapping with key '{key}' already exists for domain name {domain}")

    def create_api_mapping(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        domain = self._domain(context, params["DomainName"])["DomainName"]
        record = {"ApiId": params["ApiId"], "Stage": params["Stage"],
                  "ApiMappingKey": params.get("ApiMappingKey") or ""}
        self._check_mapping(context, domain, record)
        record["ApiMappingId"] = new_id(6)
        self.platform.store.put(MAPPINGS, self._mapping_key(context, domain, record["ApiMappingId"]), record)
        self.catalog.domains_changed()
        return public(record)

    def _mapping(self, context: RequestContext, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        domain = self._domain(context, params["DomainName"])["DomainName"]
        record = self.platform.store.get(MAPPINGS, self._mapping_key(context, domain, params["ApiMappingId"]))
        if record is None:
            raise not_found("ApiMapping", params["ApiMappingId"])
        return domain, record

    def get_api_mapping(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return public(self._mapping(context, params)[1])

    def get_api_mappings(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        domain = self._domain(context, params["DomainName"])["DomainName"]
        return self._page(self._mappings(context, domain), params, "apigw-mappings", "ApiMappingId")

    def update_api_mapping(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        domain, record = self._mapping(context, params)
        for name in ("ApiId", "Stage", "ApiMappingKey"):
            if params.get(name) is not None:
                record[name] = params[name]
        self._check_mapping(context, domain, record)
        self.platform.store.put(MAPPINGS, self._mapping_key(context, domain, record["ApiMappingId"]), record)
        self.catalog.domains_changed()
        return public(record)

    def delete_api_mapping(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        domain, record = self._mapping(context, params)
        self.platform.store.delete(MAPPINGS, self._mapping_key(context, domain, record["ApiMappingId"]))
        self.catalog.domains_changed()
        return {}

    # ------------------------------------------------------------ VPC links
    def _vpc_link(self, context: RequestContext, link_id: str) -> dict[str, Any]:
        record = self.platform.store.get(VPCLINKS, f"{context.account_id}:{context.region}:{link_id}")
        if record is None:
            raise not_found("VpcLink", link_id)
        return record

    def _vpc_link_view(self, record: dict[str, Any]) -> dict[str, Any]:
        view = public(record)
        view["Tags"] = self.repo.tags(record["_arn"])
        return view

    def create_vpc_link(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        check_name(params["Name"])
        check_tags(params.get("Tags"))
        link_id = new_id(6)
        record = {"CreatedDate": now(), "Name": params["Name"],
                  "SecurityGroupIds": list(params.get("SecurityGroupIds") or []),
                  "SubnetIds": list(params["SubnetIds"]), "VpcLinkId": link_id, "VpcLinkStatus": "AVAILABLE",
                  "VpcLinkStatusMessage": "VPC link is ready to route traffic", "VpcLinkVersion": "V2",
                  "_arn": f"arn:aws:apigateway:{context.region}::/vpclinks/{link_id}"}
        self.platform.store.put(VPCLINKS, f"{context.account_id}:{context.region}:{link_id}", record)
        if params.get("Tags"):
            self.repo.set_tags(record["_arn"], dict(params["Tags"]))
        return self._vpc_link_view(record)

    def get_vpc_link(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._vpc_link_view(self._vpc_link(context, params["VpcLinkId"]))

    def get_vpc_links(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        records = [r for _, r in self.platform.store.scan(VPCLINKS, f"{context.account_id}:{context.region}:")]
        return self._page(records, params, "apigw-vpclinks", "VpcLinkId", view=self._vpc_link_view)

    def update_vpc_link(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._vpc_link(context, params["VpcLinkId"])
        if params.get("Name") is not None:
            check_name(params["Name"])
            record["Name"] = params["Name"]
        self.platform.store.put(VPCLINKS, f"{context.account_id}:{context.region}:{record['VpcLinkId']}", record)
        return self._vpc_link_view(record)

    def delete_vpc_link(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._vpc_link(context, params["VpcLinkId"])
        self.platform.store.delete(VPCLINKS, f"{context.account_id}:{context.region}:{record['VpcLinkId']}")
        self.repo.set_tags(record["_arn"], {})
        return {}


__all__ = ["ApiGatewayV2Provider", "Kind"]
