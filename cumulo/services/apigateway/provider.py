"""API Gateway (v1): the control plane of REST APIs, served by ``cumulo.restapi``.

The operations come in groups, one module each: REST APIs and tags (``restapis``), resources,
methods and integrations (``resources``), deployments and stages (``stages``), authorizers,
models, validators and gateway responses (``apiparts``), API keys and usage plans (``apikeys``),
custom domain names and base path mappings (``domains``),
and OpenAPI import and export (``imports``). ``TestInvokeMethod`` runs on the data plane and is
added by ``cumulo.restapi.service``.
"""

from __future__ import annotations

from cumulo.services.apigateway.apikeys import ApiKeyOperations
from cumulo.services.apigateway.apiparts import ApiPartOperations
from cumulo.services.apigateway.domains import DomainOperations
from cumulo.services.apigateway.imports import ImportOperations
from cumulo.services.apigateway.stages import StageOperations
from cumulo.services.base import RequestContext


class ApiGatewayProvider(ImportOperations, StageOperations, ApiPartOperations, ApiKeyOperations, DomainOperations):
    service = "apigateway"
    validation_error_code = "BadRequestException"

    def get_account(self, context: RequestContext, params: dict) -> dict:
        return {"throttleSettings": {"burstLimit": 5000, "rateLimit": 10000.0}, "features": ["UsagePlans"],
                "apiKeyVersion": "4"}
