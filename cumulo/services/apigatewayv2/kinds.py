"""The kinds of API sub-resources as a table: what the generic Create/Get/Update/Delete/Get*s
operations (``cumulo.services.apigatewayv2.crud``) need to know about each, and the hooks that
carry each kind's own rules.

Order of a Create: ``before_create`` (checks on the request), the parent must exist, the
``fields`` set in the request are copied, ``defaults``, ``prepare``, a new id, save. An Update
copies the ``fields`` set onto the stored record, then ``on_update`` and ``prepare``. A Delete
runs ``before_delete`` (e.g. "still in use") and ``after_delete``. ``effect`` says what a change
does to the data plane.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cumulo.services.apigatewayv2.controlplane import ControlPlane, is_http, stage_arn
from cumulo.services.apigatewayv2.repository import (
    AUTHORIZERS,
    DEPLOYMENTS,
    INTEGRATION_RESPONSES,
    INTEGRATIONS,
    MODELS,
    ROUTE_RESPONSES,
    ROUTES,
    STAGES,
    Kind,
    bad_request,
    conflict,
)
from cumulo.services.apigatewayv2.validation import (
    check_authorizer,
    check_http_integration,
    check_http_request_parameters,
    check_http_route_key,
)

if TYPE_CHECKING:
    from cumulo.services.base import RequestContext

Record = dict[str, Any]
# (provider, api, record, request) -> None; raises an AwsError to refuse. ``record`` is the request for before_create.
Hook = Callable[[ControlPlane, Record, Record, Record], None]
View = Callable[[ControlPlane, "RequestContext", str, Record], Record]  # (provider, context, api id, record)

ALL_OPERATIONS = frozenset({"Create", "Get", "List", "Update", "Delete"})
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


class Effect(enum.Enum):
    """What a change of the kind does beyond the store."""

    NONE = "none"  # nothing the data plane reads
    CONFIGURATION = "configuration"  # part of the API's configuration: reaches callers through deployments
    LIVE = "live"  # read by the data plane directly: tell it at once


@dataclass(frozen=True)
class ResourceKind:
    store: Kind  # table, id member, id length, name in errors (and in operation names)
    list_token: str  # the kind of NextToken its Get*s operation hands out
    fields: tuple[str, ...] = ()  # request members Create and Update copy onto the record
    parent: Kind | None = None  # the sub-resource this one belongs to (a route response's route)
    effect: Effect = Effect.NONE
    generic: frozenset[str] = ALL_OPERATIONS  # operations the table serves (others are the provider's own)
    before_create: Hook | None = None
    defaults: Hook | None = None
    on_update: Hook | None = None
    prepare: Hook | None = None
    before_delete: Hook | None = None
    after_delete: Hook | None = None
    view: View | None = None  # the output shape when it is more than the record's public members

    @property
    def name(self) -> str:
        return self.store.resource_type


# ------------------------------------------------------------ routes
def check_route_key_free(plane: ControlPlane, api_id: str, key: str, own_id: str | None = None) -> None:
    for route in plane.repo.items(ROUTES, api_id):
        if route["RouteKey"] == key and route["RouteId"] != own_id:
            raise conflict(f"Route with key {key} already exists for this API")


def _route_defaults(plane: ControlPlane, api: Record, route: Record, params: Record) -> None:
    route.setdefault("ApiKeyRequired", False)
    route.setdefault("AuthorizationType", "NONE")


def _route_update(plane: ControlPlane, api: Record, route: Record, params: Record) -> None:
    if params.get("AuthorizationType") in ("NONE", "AWS_IAM"):
        route.pop("AuthorizerId", None)
        route.pop("AuthorizationScopes", None)


def _check_route(plane: ControlPlane, api: Record, route: Record, params: Record) -> None:
    api_id = api["ApiId"]
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
def _prepare_integration(plane: ControlPlane, api: Record, record: Record, params: Record) -> None:
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


def _integration_unused(plane: ControlPlane, api: Record, record: Record, params: Record) -> None:
    integration_id = record["IntegrationId"]
    users = [r["RouteKey"] for r in plane.repo.items(ROUTES, api["ApiId"])
             if r.get("Target") == f"integrations/{integration_id}"]
    if users:
        raise conflict(f"Unable to delete integration {integration_id}: it is the target of route(s) "
                       f"{', '.join(users)}")


def _websocket_only(plane: ControlPlane, api: Record, params: Record, _: Record) -> None:
    if is_http(api):
        raise bad_request("Integration responses are supported only for WebSocket APIs")


# ------------------------------------------------------------ authorizers
def _authorizer_defaults(plane: ControlPlane, api: Record, record: Record, params: Record) -> None:
    if is_http(api) and record.get("AuthorizerType") == "REQUEST":
        record.setdefault("AuthorizerResultTtlInSeconds", 0)
        record.setdefault("EnableSimpleResponses", False)


def _check_authorizer(plane: ControlPlane, api: Record, record: Record, params: Record) -> None:
    if is_http(api):
        check_authorizer(record)


def _authorizer_unused(plane: ControlPlane, api: Record, record: Record, params: Record) -> None:
    authorizer_id = record["AuthorizerId"]
    users = [r["RouteKey"] for r in plane.repo.items(ROUTES, api["ApiId"]) if r.get("AuthorizerId") == authorizer_id]
    if users:
        raise conflict(f"Unable to delete authorizer {authorizer_id}: it is used by route(s) {', '.join(users)}")


# ------------------------------------------------------------ models, stages, deployments
def _model_name_free(plane: ControlPlane, api: Record, params: Record, _: Record) -> None:
    if any(m["Name"] == params["Name"] for m in plane.repo.items(MODELS, api["ApiId"])):
        raise conflict(f"Model name already exists for this API: {params['Name']}")


def _drop_stage_tags(plane: ControlPlane, api: Record, stage: Record, params: Record) -> None:
    plane.repo.set_tags(stage_arn(api["_region"], api["ApiId"], stage["StageName"]), {})


def _stage_view(plane: ControlPlane, context: RequestContext, api_id: str, stage: Record) -> Record:
    return plane.stage_view(context, api_id, stage)


def _deployment_unused(plane: ControlPlane, api: Record, record: Record, params: Record) -> None:
    deployment_id = record["DeploymentId"]
    users = [s["StageName"] for s in plane.repo.items(STAGES, api["ApiId"]) if s.get("DeploymentId") == deployment_id]
    if users:
        raise bad_request(f"Active stages pointing to this deployment must be moved or deleted: {', '.join(users)}")


API_RESOURCE_KINDS = (
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
    ResourceKind(STAGES, "apigw-stages", effect=Effect.LIVE, generic=frozenset({"Get", "List", "Delete"}),
                 after_delete=_drop_stage_tags, view=_stage_view),
    ResourceKind(DEPLOYMENTS, "apigw-deployments", ("Description",), generic=ALL_OPERATIONS - {"Create"},
                 before_delete=_deployment_unused),
)
