"""Authorizers, models, request validators and gateway responses of a REST API: records of the
API's configuration that methods refer to (and that deployments snapshot)."""

from __future__ import annotations

import json

from cumulo.services.apigateway import patch
from cumulo.services.apigateway.controlplane import ControlPlane, Record, pick
from cumulo.services.apigateway.repository import (
    AUTHORIZERS,
    GATEWAY_RESPONSES,
    MODELS,
    RESOURCES,
    VALIDATORS,
    Kind,
    bad_request,
    conflict,
    new_id,
    not_found,
)
from cumulo.services.base import RequestContext

AUTHORIZER_FIELDS = ("name", "type", "providerARNs", "authType", "authorizerUri", "authorizerCredentials",
                     "identitySource", "identityValidationExpression", "authorizerResultTtlInSeconds")
GATEWAY_RESPONSE_TYPES = {
    "DEFAULT_4XX": None, "DEFAULT_5XX": None, "ACCESS_DENIED": "403", "API_CONFIGURATION_ERROR": "500",
    "AUTHORIZER_CONFIGURATION_ERROR": "500", "AUTHORIZER_FAILURE": "500", "BAD_REQUEST_PARAMETERS": "400",
    "BAD_REQUEST_BODY": "400", "EXPIRED_TOKEN": "403", "INTEGRATION_FAILURE": "504", "INTEGRATION_TIMEOUT": "504",
    "INVALID_API_KEY": "403", "INVALID_SIGNATURE": "403", "MISSING_AUTHENTICATION_TOKEN": "403",
    "QUOTA_EXCEEDED": "429", "REQUEST_TOO_LARGE": "413", "RESOURCE_NOT_FOUND": "404", "THROTTLED": "429",
    "UNAUTHORIZED": "401", "UNSUPPORTED_MEDIA_TYPE": "415", "WAF_FILTERED": "403",
}


def check_authorizer(record: Record) -> None:
    kind = record.get("type")
    if kind not in ("TOKEN", "REQUEST", "COGNITO_USER_POOLS"):
        raise bad_request("Invalid authorizer type specified. Valid values are TOKEN, REQUEST, "
                          "COGNITO_USER_POOLS")
    if kind == "COGNITO_USER_POOLS" and not record.get("providerARNs"):
        raise bad_request("ProviderARNs need to be specified for COGNITO_USER_POOLS authorizer")
    if kind in ("TOKEN", "REQUEST") and not record.get("authorizerUri"):
        raise bad_request("Authorizer URI must be specified for a TOKEN or REQUEST authorizer")
    if kind == "TOKEN" and not record.get("identitySource"):
        raise bad_request("Identity source must be specified for a TOKEN authorizer")
    ttl = record.get("authorizerResultTtlInSeconds")
    if ttl is not None and not 0 <= ttl <= 3600:
        raise bad_request("Invalid authorizer TTL specified. Value must be between 0 and 3600")


class ApiPartOperations(ControlPlane):
    def _find(self, kind: Kind, context: RequestContext, params: Record, member: str, message: str
              ) -> tuple[Record, Record]:
        api = self.api_of(context, params)
        record = self.repo.find(kind, api["id"], params[member])
        if record is None:
            raise not_found(message)
        return api, record

    # ------------------------------------------------------------ authorizers
    def create_authorizer(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        record = {"id": self.repo.new_item_id(AUTHORIZERS, api["id"]), "authorizerResultTtlInSeconds": 300,
                  **pick(params, AUTHORIZER_FIELDS)}
        check_authorizer(record)
        self.repo.put(AUTHORIZERS, api["id"], record)
        return dict(record)

    def get_authorizer(self, context: RequestContext, params: Record) -> Record:
        return self._find(AUTHORIZERS, context, params, "authorizerId", "Invalid Authorizer identifier specified")[1]

    def get_authorizers(self, context: RequestContext, params: Record) -> Record:
        return self.page(self.repo.items(AUTHORIZERS, self.api_of(context, params)["id"]), params, "id")

    def update_authorizer(self, context: RequestContext, params: Record) -> Record:
        api, record = self._find(AUTHORIZERS, context, params, "authorizerId",
                                 "Invalid Authorizer identifier specified")
        patch.apply(record, params.get("patchOperations"), set(AUTHORIZER_FIELDS))
        check_authorizer(record)
        self.repo.put(AUTHORIZERS, api["id"], record)
        return record

    def delete_authorizer(self, context: RequestContext, params: Record) -> Record:
        api, record = self._find(AUTHORIZERS, context, params, "authorizerId",
                                 "Invalid Authorizer identifier specified")
        for resource in self.repo.items(RESOURCES, api["id"]):
            if any(m.get("authorizerId") == record["id"] for m in resource["resourceMethods"].values()):
                raise conflict("Cannot delete authorizer, is referenced in method: "
                               f"{resource['path']}")
        self.repo.delete(AUTHORIZERS, api["id"], record["id"])
        return {}

    # ------------------------------------------------------------ models
    @staticmethod
    def check_schema(schema: str | None) -> None:
        if schema is None:
            return
        try:
            json.loads(schema)
        except ValueError:
            raise bad_request("Invalid model specified: Validation Result: warnings : [], errors : "
                              "[Invalid model schema specified]") from None

    def create_model(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        name = params["name"]
        if not name.isalnum():
            raise bad_request("Model name must be alphanumeric")
        if self.repo.find(MODELS, api["id"], name) is not None:
            raise conflict("Model name already exists for this REST API")
        self.check_schema(params.get("schema"))
        record = {"id": new_id(6), "name": name,
                  **pick(params, ("description", "schema", "contentType"))}
        self.repo.put(MODELS, api["id"], record)
        return dict(record)

    def get_model(self, context: RequestContext, params: Record) -> Record:
        return self._find(MODELS, context, params, "modelName", f"Invalid model name specified: "
                          f"{params['modelName']}")[1]

    def get_models(self, context: RequestContext, params: Record) -> Record:
        return self.page(self.repo.items(MODELS, self.api_of(context, params)["id"]), params, "name")

    def update_model(self, context: RequestContext, params: Record) -> Record:
        api, record = self._find(MODELS, context, params, "modelName",
                                 f"Invalid model name specified: {params['modelName']}")
        patch.apply(record, params.get("patchOperations"), {"description", "schema"})
        self.check_schema(record.get("schema"))
        self.repo.put(MODELS, api["id"], record)
        return record

    def delete_model(self, context: RequestContext, params: Record) -> Record:
        api, record = self._find(MODELS, context, params, "modelName",
                                 f"Invalid model name specified: {params['modelName']}")
        self.repo.delete(MODELS, api["id"], record["name"])
        return {}

    # ------------------------------------------------------------ request validators
    def create_request_validator(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        record = {"id": self.repo.new_item_id(VALIDATORS, api["id"]), "validateRequestBody": False,
                  "validateRequestParameters": False,
                  **pick(params, ("name", "validateRequestBody", "validateRequestParameters"))}
        self.repo.put(VALIDATORS, api["id"], record)
        return dict(record)

    def get_request_validator(self, context: RequestContext, params: Record) -> Record:
        return self._find(VALIDATORS, context, params, "requestValidatorId",
                          "Invalid Request Validator identifier specified")[1]

    def get_request_validators(self, context: RequestContext, params: Record) -> Record:
        return self.page(self.repo.items(VALIDATORS, self.api_of(context, params)["id"]), params, "id")

    def update_request_validator(self, context: RequestContext, params: Record) -> Record:
        api, record = self._find(VALIDATORS, context, params, "requestValidatorId",
                                 "Invalid Request Validator identifier specified")
        patch.apply(record, params.get("patchOperations"), {"name", "validateRequestBody",
                                                            "validateRequestParameters"})
        self.repo.put(VALIDATORS, api["id"], record)
        return record

    def delete_request_validator(self, context: RequestContext, params: Record) -> Record:
        api, record = self._find(VALIDATORS, context, params, "requestValidatorId",
                                 "Invalid Request Validator identifier specified")
        self.repo.delete(VALIDATORS, api["id"], record["id"])
        return {}

    # ------------------------------------------------------------ gateway responses
    @staticmethod
    def _check_type(response_type: str) -> None:
        if response_type not in GATEWAY_RESPONSE_TYPES:
            raise bad_request(f"Invalid response type specified: {response_type}")

    @staticmethod
    def _default_response(response_type: str) -> Record:
        record: Record = {"responseType": response_type, "defaultResponse": True, "responseParameters": {},
                          "responseTemplates": {"application/json": '{"message":$context.error.messageString}'}}
        status = GATEWAY_RESPONSE_TYPES[response_type]
        if status:
            record["statusCode"] = status
        return record

    def put_gateway_response(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        self._check_type(params["responseType"])
        record = {"responseType": params["responseType"], "defaultResponse": False,
                  **pick(params, ("statusCode", "responseParameters", "responseTemplates"))}
        self.repo.put(GATEWAY_RESPONSES, api["id"], record)
        return dict(record)

    def get_gateway_response(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        self._check_type(params["responseType"])
        found = self.repo.find(GATEWAY_RESPONSES, api["id"], params["responseType"])
        return found or self._default_response(params["responseType"])

    def get_gateway_responses(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        custom = {r["responseType"]: r for r in self.repo.items(GATEWAY_RESPONSES, api["id"])}
        every = [custom.get(t) or self._default_response(t) for t in GATEWAY_RESPONSE_TYPES]
        return self.page(every, params, "responseType")

    def update_gateway_response(self, context: RequestContext, params: Record) -> Record:
        record = self.get_gateway_response(context, params)
        api = self.api_of(context, params)
        record["defaultResponse"] = False
        patch.apply(record, params.get("patchOperations"), {"statusCode", "responseParameters",
                                                            "responseTemplates"})
        self.repo.put(GATEWAY_RESPONSES, api["id"], record)
        return record

    def delete_gateway_response(self, context: RequestContext, params: Record) -> Record:
        api = self.api_of(context, params)
        self._check_type(params["responseType"])
        if not self.repo.delete(GATEWAY_RESPONSES, api["id"], params["responseType"]):
            raise not_found("Invalid Gateway Response identifier specified")
        return {}
