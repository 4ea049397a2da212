"""API Gateway v2: the control plane of HTTP APIs (served by ``cumulo.httpapi``) and WebSocket APIs.

The operations come from three places: the table of resource kinds
(``cumulo.services.apigatewayv2.kinds``), which gives routes, integrations, authorizers, models,
stages, deployments, route and integration responses, custom domain names, API mappings and VPC
links their Create/Get/Update/Delete/Get*s operations; the operation groups with rules of their
own (``apis``, ``stages``, ``tags``); and the few one-off operations below.
``cumulo.services.apigatewayv2.controlplane`` explains how changes reach callers through deployments.
"""

from __future__ import annotations

from typing import Any

from cumulo.services.apigatewayv2 import openapi
from cumulo.services.apigatewayv2.apis import ApiOperations
from cumulo.services.apigatewayv2.crud import with_resource_operations
from cumulo.services.apigatewayv2.kinds import RESOURCE_KINDS
from cumulo.services.apigatewayv2.repository import MODELS, ROUTES, not_found
from cumulo.services.apigatewayv2.stages import StageOperations
from cumulo.services.apigatewayv2.tags import TagOperations
from cumulo.services.base import RequestContext


@with_resource_operations(RESOURCE_KINDS)
class ApiGatewayV2Provider(ApiOperations, StageOperations, TagOperations):
    service = "apigatewayv2"
    validation_error_code = "BadRequestException"

    def delete_route_request_parameter(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        route = self.repo.get(ROUTES, api["ApiId"], params["RouteId"])
        parameters = route.get("RequestParameters") or {}
        if params["RequestParameterKey"] not in parameters:
            raise not_found("RequestParameter", params["RequestParameterKey"])
        del parameters[params["RequestParameterKey"]]
        with self.platform.store.transaction():
            self.repo.put(ROUTES, api["ApiId"], route)
            self.reconfigured(api)
        return {}

    def get_model_template(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        api = self.api_of(context, params)
        model = self.repo.get(MODELS, api["ApiId"], params["ModelId"])
        return {"Value": openapi.model_template(model.get("Schema", "{}"))}

