"""The table of API Gateway v2 resource kinds that the generic Create/Get/Update/Delete/Get*s
operations serve (see ``cumulo.services.apigatewayv2.resourcekind`` for what an entry says and
the order the hooks run in), and each kind's own rules as hooks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from cumulo.services.apigatewayv2.controlplane import ControlPlane, is_http, stage_arn
from cumulo.services.apigatewayv2.repository import (
    API_MAPPINGS,
    AUTHORIZERS,
    DEPLOYMENTS,
    DOMAIN_NAMES,
    INTEGRATION_RESPONSES,
    INTEGRATIONS,
    MODELS,
    ROUTE_RESPONSES,
    ROUTES,
    STAGES,
    VPC_LINKS,
    bad_request,
    conflict,
    new_id,
    now,
    public,
)
from cumulo.services.apigatewayv2.resourcekind import (
    ALL_OPERATIONS,
    Effect,
    Owner,
    Record,
    ResourceKind,
    account_scope,
    domain_scope,
)
from cumulo.services.apigatewayv2.validation import (
    check_authorizer,
    check_http_integration,
    check_http_request_parameters,
    check_http_route_key,
    check_name,
    check_tags,
)

DEFAULT_TIMEOUT_MS = {"HTTP": 30000, "WEBSOCKET": 29000}
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


# ------------------------------------------------------------ routes
def check_route_key_free(plane: ControlPlane, api_id: str, key: str, own_id: str | None = None) -> None:
    for route in plane.repo.items(ROUTES, api_id):
        if route["RouteKey"] == key and route["RouteId"] != own_id:
            raise conflict(f"Route with key {key} already exists for this API")


def _route_defaults(plane: ControlPlane, owner: Owner, route: Record, params: Record) -> None:
    route.setdefault("ApiKeyRequired", False)
    route.setdefault("AuthorizationType", "NONE")


def _route_update(plane: ControlPlane, owner: Owner, route: Record, params: Record) -> None:
    if params.get("AuthorizationType") in ("NONE", "AWS_IAM"):
        route.pop("AuthorizerId", None)
        route.pop("AuthorizationScopes", None)


def _check_route(plane: ControlPlane, owner: Owner, route: Record, params: Record) -> None:
    api, api_id = owner.api, owner.key
    http = is_http(api)
    if http:
        check_http_route_key(route["RouteKey"])
    target = route.get("Target")
    if target:
        if not target.startswith("integrations/"):
            raise bad_request(f"Invalid Target {target}: a route target looks like integrations/{{IntegrationId}}")
        plane.repo.get(INTEGRATIONS, api_id, target.split("/", 1)[1])
    kind = route.get("AuthorizationType", "NONE")
    if kind in ("JWT", "CUSTOM"):
        if not route.get("AuthorizerId"):
            raise bad_request(f"AuthorizerId is required for authorization type {kind}")
        authorizer = plane.repo.get(AUTHORIZERS, api_id, route["AuthorizerId"])
        expected = "JWT" if kind == "JWT" else "REQUEST"
        if authorizer["AuthorizerType"] != expected:
            raise bad_request(f"Authorization type {kind} requires an authorizer of type {expected}; "
                              f"authorizer {route['AuthorizerId']} is of type {authorizer['AuthorizerType']}")
    elif route.get("AuthorizerId"):
        raise bad_request(f"AuthorizerId can't be set with authorization type {kind}; use JWT or CUSTOM")
    if http:
        if route.get("AuthorizationScopes") and kind != "JWT":
            raise bad_request("AuthorizationScopes are supported only for routes with authorization type JWT")
        if route.get("ApiKeyRequired"):
            raise bad_request("API keys are not supported for HTTP APIs")
        for name in ("RequestModels", "ModelSelectionExpression", "RouteResponseSelectionExpression"):
            if route.get(name):
                raise bad_request(f"{name} is supported only for WebSocket APIs")
    check_route_key_free(plane, api_id, route["RouteKey"], route.get("RouteId"))


# ------------------------------------------------------------ integrations
def _prepare_integration(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
    api = owner.api
    record.setdefault("ConnectionType", "INTERNET")
    record.setdefault("TimeoutInMillis", DEFAULT_TIMEOUT_MS[api["ProtocolType"]])
    if not is_http(api):
        record.setdefault("PayloadFormatVersion", "1.0")
        record.setdefault("PassthroughBehavior", "WHEN_NO_MATCH")
        record.setdefault("IntegrationResponseSelectionExpression", "${integration.response.statuscode}")
        return
    if record.get("IntegrationType") == "AWS_PROXY":
        record.setdefault("IntegrationMethod", "POST")
        if record.get("IntegrationSubtype"):
            record.setdefault("PayloadFormatVersion", "1.0")
    elif record.get("IntegrationType") == "HTTP_PROXY":
        record.setdefault("PayloadFormatVersion", "1.0")
    check_http_integration(record)
    check_http_request_parameters(record)
    for name in ("RequestTemplates", "TemplateSelectionExpression", "PassthroughBehavior", "ContentHandlingStrategy"):
        if record.get(name) is not None:
            raise bad_request(f"{name} is supported only for WebSocket APIs")
    if record.get("ConnectionType") == "VPC_LINK" and not record.get("ConnectionId"):
        raise bad_request("ConnectionId is required for VPC_LINK integrations")


def _integration_unused(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
    integration_id = record["IntegrationId"]
    users = [r["RouteKey"] for r in plane.repo.items(ROUTES, owner.key)
             if r.get("Target") == f"integrations/{integration_id}"]
    if users:
        raise conflict(f"Unable to delete integration {integration_id}: it is the target of route(s) "
                       f"{', '.join(users)}")


def _websocket_only(plane: ControlPlane, owner: Owner, params: Record, _: Record) -> None:
    if is_http(owner.api):
        raise bad_request("Integration responses are supported only for WebSocket APIs")


# ------------------------------------------------------------ authorizers
def _authorizer_defaults(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
    if is_http(owner.api) and record.get("AuthorizerType") == "REQUEST":
        record.setdefault("AuthorizerResultTtlInSeconds", 0)
        record.setdefault("EnableSimpleResponses", False)


def _check_authorizer(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
    if is_http(owner.api):
        check_authorizer(record)


def _authorizer_unused(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
    authorizer_id = record["AuthorizerId"]
    users = [r["RouteKey"] for r in plane.repo.items(ROUTES, owner.key) if r.get("AuthorizerId") == authorizer_id]
    if users:
        raise conflict(f"Unable to delete authorizer {authorizer_id}: it is used by route(s) {', '.join(users)}")


# ------------------------------------------------------------ models, stages, deployments
def _model_name_free(plane: ControlPlane, owner: Owner, params: Record, _: Record) -> None:
    if any(m["Name"] == params["Name"] for m in plane.repo.items(MODELS, owner.key)):
        raise conflict(f"Model name already exists for this API: {params['Name']}")


def _drop_stage_tags(plane: ControlPlane, owner: Owner, stage: Record, params: Record) -> None:
    plane.repo.set_tags(stage_arn(owner.context.region, owner.key, stage["StageName"]), {})


def _stage_view(plane: ControlPlane, owner: Owner, stage: Record) -> Record:
    return plane.stage_view(owner.context, owner.key, stage)


def _deployment_unused(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
    deployment_id = record["DeploymentId"]
    users = [s["StageName"] for s in plane.repo.items(STAGES, owner.key) if s.get("DeploymentId") == deployment_id]
    if users:
        raise bad_request(f"Active stages pointing to this deployment must be moved or deleted: {', '.join(users)}")


# ------------------------------------------------------------ resources outside APIs
def _tag_on_create(arn_member: str) -> Callable[[ControlPlane, Owner, Record, Record], None]:
    def tag(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
        if params.get("Tags"):
            plane.repo.set_tags(record[arn_member], dict(params["Tags"]))
    return tag


def _untag(arn_member: str) -> Callable[[ControlPlane, Owner, Record, Record], None]:
    def untag(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
        plane.repo.set_tags(record[arn_member], {})
    return untag


def _with_tags(arn_member: str) -> Callable[[ControlPlane, Owner, Record], Record]:
    def view(plane: ControlPlane, owner: Owner, record: Record) -> Record:
        return {**public(record), "Tags": plane.repo.tags(record[arn_member])}
    return view


def _domain_name_free(plane: ControlPlane, owner: Owner, params: Record, _: Record) -> None:
    check_tags(params.get("Tags"))
    name = params["DomainName"].lower()
    if plane.repo.find(DOMAIN_NAMES, owner.key, name) is not None:
        raise conflict(f"The domain name you provided already exists: {name}")


def _domain_defaults(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
    region, name = owner.context.region, record["DomainName"]
    record["DomainNameConfigurations"] = [
        {"ApiGatewayDomainName": f"d-{new_id(10)}.execute-api.{region}.amazonaws.com",
         "DomainNameStatus": "AVAILABLE", "EndpointType": "REGIONAL", "HostedZoneId": "Z1UJRXOUMOOFQ8",
         "IpAddressType": "ipv4", "SecurityPolicy": "TLS_1_2", **copy.deepcopy(config)}
        for config in params.get("DomainNameConfigurations") or [{}]]
    record.update({"ApiMappingSelectionExpression": "$request.basepath",
                   "DomainNameArn": f"arn:aws:apigateway:{region}::/domainnames/{name}",
                   "RoutingMode": record.get("RoutingMode") or "API_MAPPING_ONLY"})
    if not record.get("MutualTlsAuthentication"):
        record.pop("MutualTlsAuthentication", None)


def _merge_domain_configurations(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
    if params.get("DomainNameConfigurations"):
        existing = record["DomainNameConfigurations"]
        record["DomainNameConfigurations"] = [
            {**(existing[index] if index < len(existing) else {}), **copy.deepcopy(config)}
            for index, config in enumerate(params["DomainNameConfigurations"])]


def _mapping_defaults(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
    record.setdefault("ApiMappingKey", "")


def _check_mapping(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
    context, domain = owner.context, owner.record
    assert domain is not None, "an API mapping's owner is its domain name"
    plane.repo.api(context.account_id, context.region, record["ApiId"])
    plane.repo.get(STAGES, record["ApiId"], record["Stage"])
    key = record.get("ApiMappingKey") or ""
    if key.startswith("/") or key.endswith("/") or "//" in key:
        raise bad_request(f"Invalid ApiMappingKey {key}: keys look like v1 or orders/v1")
    for other in plane.repo.items(API_MAPPINGS, owner.key):
        if (other.get("ApiMappingKey") or "") == key and other["ApiMappingId"] != record["ApiMappingId"]:
            raise conflict(f"ApiMapping with key '{key}' already exists for domain name {domain['DomainName']}")


def _vpc_link_request(plane: ControlPlane, owner: Owner, params: Record, _: Record) -> None:
    check_name(params["Name"])
    check_tags(params.get("Tags"))


def _vpc_link_defaults(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
    record.setdefault("SecurityGroupIds", [])
    record.update({"CreatedDate": now(), "VpcLinkStatus": "AVAILABLE",
                   "VpcLinkStatusMessage": "VPC link is ready to route traffic", "VpcLinkVersion": "V2",
                   "_arn": f"arn:aws:apigateway:{owner.context.region}::/vpclinks/{record['VpcLinkId']}"})


def _vpc_link_update(plane: ControlPlane, owner: Owner, record: Record, params: Record) -> None:
    check_name(params.get("Name"))


RESOURCE_KINDS = (
    ResourceKind(ROUTES, "apigw-routes", ROUTE_FIELDS, effect=Effect.CONFIGURATION, defaults=_route_defaults,
                 on_update=_route_update, prepare=_check_route),
    ResourceKind(ROUTE_RESPONSES, "apigw-routeresponses",
                 ("ModelSelectionExpression", "ResponseModels", "ResponseParameters", "RouteResponseKey"),
                 parent=ROUTES),
    ResourceKind(INTEGRATIONS, "apigw-integrations", INTEGRATION_FIELDS, effect=Effect.CONFIGURATION,
                 prepare=_prepare_integration, before_delete=_integration_unused),
    ResourceKind(INTEGRATION_RESPONSES, "apigw-integrationresponses",
                 ("ContentHandlingStrategy", "IntegrationResponseKey", "ResponseParameters", "ResponseTemplates",
                  "TemplateSelectionExpression"),
                 parent=INTEGRATIONS, before_create=_websocket_only),
    ResourceKind(AUTHORIZERS, "apigw-authorizers", AUTHORIZER_FIELDS, effect=Effect.CONFIGURATION,
                 defaults=_authorizer_defaults, prepare=_check_authorizer, before_delete=_authorizer_unused),
    ResourceKind(MODELS, "apigw-models", ("ContentType", "Description", "Name", "Schema"),
                 before_create=_model_name_free),
    # Creating and updating a stage deploy it (AutoDeploy): StageOperations has its own.
    ResourceKind(STAGES, "apigw-stages", effect=Effect.LIVE, generic=frozenset({"Get", "List", "Delete"}),
                 after_delete=_drop_stage_tags, view=_stage_view),
    # A deployment is made by deploying: StageOperations.create_deployment.
    ResourceKind(DEPLOYMENTS, "apigw-deployments", ("Description",), generic=ALL_OPERATIONS - {"Create"},
                 before_delete=_deployment_unused),
    ResourceKind(DOMAIN_NAMES, "apigw-domains", ("MutualTlsAuthentication", "RoutingMode"), scope=account_scope,
                 effect=Effect.DOMAINS, id_of=lambda params: params["DomainName"].lower(),
                 before_create=_domain_name_free, defaults=_domain_defaults,
                 after_create=_tag_on_create("DomainNameArn"), on_update=_merge_domain_configurations,
                 after_delete=_untag("DomainNameArn"), view=_with_tags("DomainNameArn")),
    ResourceKind(API_MAPPINGS, "apigw-mappings", ("ApiId", "Stage", "ApiMappingKey"), scope=domain_scope,
                 effect=Effect.DOMAINS, defaults=_mapping_defaults, prepare=_check_mapping),
    ResourceKind(VPC_LINKS, "apigw-vpclinks", ("Name", "SecurityGroupIds", "SubnetIds"), scope=account_scope,
                 before_create=_vpc_link_request, defaults=_vpc_link_defaults, after_create=_tag_on_create("_arn"),
                 on_update=_vpc_link_update, after_delete=_untag("_arn"), view=_with_tags("_arn")),
)
